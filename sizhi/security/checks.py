"""System checks of the account rules that the database holds (run with `manage.py check
--database default`, and by the test suite): no Django superuser, and 三权分立 — an
administrator role is never combined with any other role in one account."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.db import DatabaseError

from sizhi.accounts.models import ADMIN_ROLES, Membership, User


def role_conflicts() -> dict[int, set[str]]:
    """Accounts whose active roles break 三权分立: user id -> their roles."""
    roles: dict[int, set[str]] = defaultdict(set)
    for user_id, role in Membership.objects.filter(is_active=True).values_list("user_id", "role"):
        roles[user_id].add(role)
    return {uid: held for uid, held in roles.items() if len(held) > 1 and held & ADMIN_ROLES}


@register(Tags.security, Tags.database)
def accounts_separation_check(app_configs: Sequence[Any] | None = None, databases: Sequence[str] | None = None,
                              **kwargs: Any) -> list[CheckMessage]:
    if not databases:
        return []
    problems: list[CheckMessage] = []
    try:
        superusers = list(User.objects.filter(is_superuser=True).values_list("pk", flat=True)[:20])
        conflicts = role_conflicts()
    except DatabaseError:  # not migrated yet
        return []
    if superusers:
        problems.append(Error(
            f"Django superuser accounts exist (ids {superusers}); day-to-day accounts must not be superusers.",
            hint="Clear is_superuser; grant the system, security or audit admin role instead.",
            id="sizhi.security.E001",
        ))
    for user_id, held in sorted(conflicts.items()):
        problems.append(Error(
            f"Account {user_id} combines roles {sorted(held)}: administrator roles are exclusive (三权分立).",
            hint="Revoke all but one role on the security admin's memberships page.",
            id="sizhi.security.E002",
        ))
    return problems
