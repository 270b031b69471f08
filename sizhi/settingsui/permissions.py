"""Who may open the configuration pages and the call-back queue.

三权分立: configuration (matrix, time limits, calendar, units, webhooks) belongs to the system
admin alone, who reads no case content; the call-back queue is case work, so it belongs to
dispatchers, and an account that also carries an administrator role is refused there.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from sizhi.accounts.models import Role, User
from sizhi.accounts.selectors import has_role, is_admin, is_dispatcher

AnyUser = User | AnonymousUser | None


def can_configure(user: AnyUser) -> bool:
    return has_role(user, Role.SYSTEM_ADMIN)


def can_work_callbacks(user: AnyUser) -> bool:
    return is_dispatcher(user) and not is_admin(user)
