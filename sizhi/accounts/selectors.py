"""Reads about who a user is: active memberships and the roles they carry."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from sizhi.accounts.models import ADMIN_ROLES, DISPATCHER_ROLES, Membership, Role, User

_CACHE_ATTR = "_sizhi_memberships"


def active_memberships(user: User | AnonymousUser | None) -> list[Membership]:
    """Active memberships of a signed-in, active user, loaded once per request object."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    if getattr(user, "is_citizen", False):
        # A citizen account holds no working role (security.services refuses the grant), so the
        # hot paths a citizen takes (reporting, following a case) read no memberships at all.
        return []
    cached: list[Membership] | None = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = list(
            Membership.objects.filter(user=user, is_active=True).select_related("scope", "grid", "unit")
        )
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_memberships(user: User) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def user_roles(user: User | AnonymousUser | None) -> set[str]:
    return {m.role for m in active_memberships(user)}


def is_staff_member(user: User | AnonymousUser | None) -> bool:
    return any(m.role not in ADMIN_ROLES for m in active_memberships(user))


def is_dispatcher(user: User | AnonymousUser | None) -> bool:
    return any(m.role in DISPATCHER_ROLES for m in active_memberships(user))


def is_admin(user: User | AnonymousUser | None) -> bool:
    return any(m.role in ADMIN_ROLES for m in active_memberships(user))


def has_role(user: User | AnonymousUser | None, role: Role) -> bool:
    return role in user_roles(user)
