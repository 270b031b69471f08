"""Reads of the security app: who needs a second factor, account lists for the system admin."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from sizhi.accounts.models import Membership, User
from sizhi.accounts.selectors import active_memberships
from sizhi.security.models import TOTPDevice, UserSession


def is_staff_account(user: User | AnonymousUser | None) -> bool:
    """Staff for the purpose of sign-in rules: any active membership (handling or admin role),
    or Django's own staff/superuser flags. Citizens have none of these."""
    if user is None or not user.is_authenticated:
        return False
    return bool(user.is_staff or user.is_superuser or active_memberships(user))


def has_confirmed_totp(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def account_list(*, query: str = "", status: str = "") -> QuerySet[User]:
    """Accounts for the system admin's list: identity and roles only, never case content."""
    rows = User.objects.annotate(
        totp_enrolled=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
        signed_in=Exists(UserSession.objects.filter(user=OuterRef("pk"))),
    ).prefetch_related(
        Prefetch(
            "memberships",
            queryset=Membership.objects.filter(is_active=True).select_related("unit", "scope"),
            to_attr="active_membership_list",
        )
    )
    text = query.strip()
    if text:
        rows = rows.filter(Q(username__icontains=text) | Q(display_name__icontains=text))
    if status == "active":
        rows = rows.filter(is_active=True)
    elif status == "inactive":
        rows = rows.filter(is_active=False)
    elif status == "staff":
        rows = rows.filter(is_citizen=False)
    elif status == "citizen":
        rows = rows.filter(is_citizen=True)
    return rows.order_by("is_citizen", "username")


def memberships_list(*, query: str = "", role: str = "") -> QuerySet[Membership]:
    rows = Membership.objects.select_related("user", "unit", "scope", "grid")
    text = query.strip()
    if text:
        rows = rows.filter(Q(user__username__icontains=text) | Q(user__display_name__icontains=text))
    if role:
        rows = rows.filter(role=role)
    return rows.order_by("-is_active", "user__username", "role", "pk")
