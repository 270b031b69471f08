"""Time limits, the warning thresholds, and the sweep that moves warning states.

The sweep follows healthchecks' pattern: deadlines are indexed timestamps on the case
(`yellow_at`, `due_at`), the job reads only the rows that are due and moves each with a
conditional UPDATE, writing its event in the same transaction. Two workers running at once
cannot both win the UPDATE, so no event is ever written twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import DISPATCHER_ROLES, Membership, User
from sizhi.cases.models import Case, CaseEvent, Category, TimeLimit
from sizhi.cases.workflow import WORKING, CaseAction, Priority, WarningLevel
from sizhi.notify.services import notify_users
from sizhi.workdays.calendar import add_working_days, add_working_hours, working_seconds_between

FALLBACK = {
    Priority.NORMAL: (Decimal("4"), 5),
    Priority.URGENT: (Decimal("2"), 2),
    Priority.EMERGENCY: (Decimal("1"), 1),
}


@dataclass(frozen=True)
class Limits:
    sign_hours: float
    handle_days: int


def limits_for(category: Category | None, priority: str) -> Limits:
    """The most specific limit: the category's own, its parent's, the default row, then built in."""
    candidates: list[int | None] = []
    if category is not None:
        candidates.append(category.pk)
        if category.parent_id:
            candidates.append(category.parent_id)
    candidates.append(None)
    rows = {
        row.category_id: row
        for row in TimeLimit.objects.filter(priority=priority).filter(
            category_id__in=[c for c in candidates if c is not None]
        )
    }
    default = TimeLimit.objects.filter(priority=priority, category__isnull=True).first()
    for key in candidates:
        row = rows.get(key) if key is not None else default
        if row is not None:
            return Limits(float(row.sign_hours), row.handle_days)
    hours, days = FALLBACK.get(Priority(priority), FALLBACK[Priority.NORMAL])
    return Limits(float(hours), days)


def sign_deadline(start: dt.datetime, limits: Limits) -> dt.datetime:
    return add_working_hours(start, limits.sign_hours)


def handle_deadline(start: dt.datetime, limits: Limits) -> dt.datetime:
    return add_working_days(start, limits.handle_days)


def yellow_moment(start: dt.datetime, due: dt.datetime) -> dt.datetime:
    """When SIZHI_WARNING_SHARE of the working time between start and due has been used."""
    allowed = working_seconds_between(start, due)
    if allowed <= 0:
        return due
    return min(due, add_working_hours(start, allowed * settings.SIZHI_WARNING_SHARE / 3600))


def warning_for(now: dt.datetime, yellow_at: dt.datetime | None, due_at: dt.datetime | None) -> str:
    if due_at is not None and now >= due_at:
        return WarningLevel.RED
    if yellow_at is not None and now >= yellow_at:
        return WarningLevel.YELLOW
    return WarningLevel.NONE


@dataclass
class SweepResult:
    yellow: int = 0
    red: int = 0


def _raise_warning(pk: int, *, to: str, from_levels: list[str], now: dt.datetime) -> bool:
    due_field = "due_at__lte" if to == WarningLevel.RED else "yellow_at__lte"
    with transaction.atomic():
        moved = Case.objects.filter(
            pk=pk, warning__in=from_levels, status__in=list(WORKING), **{due_field: now}
        ).update(warning=to)
        if moved != 1:
            return False  # another worker, a closure or an extension got there first
        case = Case.objects.select_related("assigned_unit").get(pk=pk)
        action = CaseAction.WARN_RED if to == WarningLevel.RED else CaseAction.WARN_YELLOW
        CaseEvent.objects.create(
            case=case, action=action, from_status=case.status, to_status=case.status, actor=None,
            unit_id=case.assigned_unit_id, is_public=False, created_at=now,
            data={"due_at": case.due_at.isoformat() if case.due_at else None, "unit": case.assigned_unit_id},
        )
        _notify_warning(case, to)
    return True


def _notify_warning(case: Case, level: str) -> None:
    recipients: list[User] = []
    if case.assigned_unit_id is not None:
        recipients += list(User.objects.filter(memberships__unit_id=case.assigned_unit_id, memberships__is_active=True))
    prefixes = [case.region_code[:n] for n in (4, 6, 9, 12)]
    recipients += [
        m.user for m in Membership.objects.filter(
            is_active=True, role__in=list(DISPATCHER_ROLES), scope__prefix__in=prefixes, scope__level=case.level
        ).select_related("user")
    ]
    label = _("红牌超期") if level == WarningLevel.RED else _("黄牌预警")
    notify_users(
        users=recipients,
        subject=_("%(label)s：%(number)s") % {"label": label, "number": case.number},
        body=case.title,
        link=reverse("cases:detail", args=[case.pk]),
    )


def sweep_warnings(*, now: dt.datetime | None = None, batch: int = 2000) -> SweepResult:
    """Move every case whose threshold has passed: none/yellow → red when overdue, none → yellow
    when the warning share is used. Reads only due rows through the (warning, time) indexes."""
    now = now or timezone.now()
    result = SweepResult()
    while True:
        ids = list(
            Case.objects.filter(
                warning__in=[WarningLevel.NONE, WarningLevel.YELLOW], due_at__lte=now, status__in=list(WORKING)
            ).values_list("pk", flat=True)[:batch]
        )
        moved = [pk for pk in ids if _raise_warning(
            pk, to=WarningLevel.RED, from_levels=[WarningLevel.NONE, WarningLevel.YELLOW], now=now
        )]
        result.red += len(moved)
        if len(ids) < batch or not moved:
            break
    while True:
        ids = list(
            Case.objects.filter(
                warning=WarningLevel.NONE, yellow_at__lte=now, due_at__gt=now, status__in=list(WORKING)
            ).values_list("pk", flat=True)[:batch]
        )
        moved = [
            pk for pk in ids if _raise_warning(pk, to=WarningLevel.YELLOW, from_levels=[WarningLevel.NONE], now=now)
        ]
        result.yellow += len(moved)
        if len(ids) < batch or not moved:
            break
    return result
