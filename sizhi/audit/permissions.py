"""Who may read the audit trail: the audit admin alone (三权分立). The system admin and the
security admin are refused like everyone else, and the audit admin reads nothing but this."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from sizhi.accounts.models import Role, User
from sizhi.accounts.selectors import has_role

AnyUser = User | AnonymousUser | None


def can_read_audit(user: AnyUser) -> bool:
    return has_role(user, Role.AUDIT_ADMIN)
