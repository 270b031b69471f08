"""Who may open the administrators' pages (三权分立): each page belongs to exactly one
administrator role; everybody else gets 404, as if the page did not exist."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from sizhi.accounts.models import Role, User
from sizhi.accounts.selectors import has_role


def can_manage_accounts(user: User | AnonymousUser | None) -> bool:
    """System admin: accounts and configuration, never case, letter or resident content."""
    return has_role(user, Role.SYSTEM_ADMIN)


def can_manage_roles(user: User | AnonymousUser | None) -> bool:
    """Security admin: memberships (roles) and the security policy."""
    return has_role(user, Role.SECURITY_ADMIN)
