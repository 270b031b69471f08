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
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import DISPATCHER_ROLES, Membership, User
from sizhi.cases.models import Case, CaseEvent, Category, TimeLimit
from sizhi.cases.workflow import WORKING, CaseAction, Priority, WarningLevel
from sizhi.notify.models import Notification, NotificationChannel
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


def _move_batch(*, to: str, condition: Q, now: dt.datetime, batch: int) -> int:
    """Move one batch of due cases to `to` in one transaction and write their events.

    The rows are locked as they are chosen (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite runs one
    writer at a time), so a second sweep running at the same moment takes other rows or none,
    and the UPDATE repeats the condition: no case is ever moved, or given an event, twice.
    """
    action = CaseAction.WARN_RED if to == WarningLevel.RED else CaseAction.WARN_YELLOW
    with transaction.atomic():
        due = Case.objects.select_for_update(skip_locked=True).filter(condition).order_by("pk")
        ids = list(due.values_list("pk", flat=True)[:batch])
        if not ids:
            return 0
        from sizhi.insight import rollups  # insight reads cases: imported here, not at the top

        before = rollups.states(ids)
        Case.objects.filter(condition, pk__in=ids).update(warning=to)
        after = rollups.states(ids)
        rollups.record_many((before[pk], after.get(pk)) for pk in before)  # the dashboards' red-card counts
        cases = list(
            Case.objects.filter(pk__in=ids, warning=to).only(
                "pk", "number", "title", "status", "assigned_unit_id", "due_at", "region_code", "level"
            )
        )
        events = CaseEvent.objects.bulk_create(
            CaseEvent(
                case=case, action=action, from_status=case.status, to_status=case.status, actor=None,
                unit_id=case.assigned_unit_id, is_public=False, created_at=now,
                data={"due_at": case.due_at.isoformat() if case.due_at else None, "unit": case.assigned_unit_id},
            )
            for case in cases
        )
        from sizhi.cases import evaluation_rollup  # imported here: it reaches the services, which import this module

        evaluation_rollup.record(events)  # bulk_create sends no post_save: the red cards' counts, added here
        _notify_warnings(cases, to)
    return len(cases)


def _notify_warnings(cases: list[Case], level: str) -> None:
    """One inbox message per case to the members of its unit and the dispatchers managing it;
    recipients are looked up once per unit and once per (place, level) in the batch."""
    unit_ids = {c.assigned_unit_id for c in cases if c.assigned_unit_id is not None}
    unit_members: dict[int, list[User]] = {}
    for m in Membership.objects.filter(is_active=True, unit_id__in=unit_ids).select_related("user"):
        unit_members.setdefault(m.unit_id, []).append(m.user)  # type: ignore[arg-type]
    prefixes = {c.region_code[:n] for c in cases for n in (4, 6, 9, 12)}
    dispatchers = list(
        Membership.objects.filter(
            is_active=True, role__in=list(DISPATCHER_ROLES), scope__prefix__in=prefixes
        ).select_related("user", "scope")
    )
    label = _("红牌超期") if level == WarningLevel.RED else _("黄牌预警")
    rows: list[Notification] = []
    for case in cases:
        users = {u.pk: u for u in unit_members.get(case.assigned_unit_id or 0, [])}
        for m in dispatchers:
            if m.scope is not None and m.scope.level == case.level and case.region_code.startswith(m.scope.prefix):
                users[m.user.pk] = m.user
        subject = _("%(label)s：%(number)s") % {"label": label, "number": case.number}
        link = reverse("cases:detail", args=[case.pk])
        rows += [
            Notification(channel=NotificationChannel.INBOX, recipient=u, subject=subject, body=case.title, link=link)
            for u in users.values()
        ]
    # Inbox rows are delivered by being stored; the periodic delivery job marks them sent.
    Notification.objects.bulk_create(rows)


def _due(to: str, now: dt.datetime) -> Q:
    if to == WarningLevel.RED:
        return Q(warning__in=[WarningLevel.NONE, WarningLevel.YELLOW], due_at__lte=now, status__in=list(WORKING))
    return Q(warning=WarningLevel.NONE, yellow_at__lte=now, due_at__gt=now, status__in=list(WORKING))


def sweep_warnings(*, now: dt.datetime | None = None, batch: int = 1000) -> SweepResult:
    """Move every case whose threshold has passed: none/yellow → red when overdue, none → yellow
    when the warning share is used. Reads only due rows through the (warning, time) indexes."""
    now = now or timezone.now()
    result = SweepResult()
    while moved := _move_batch(to=WarningLevel.RED, condition=_due(WarningLevel.RED, now), now=now, batch=batch):
        result.red += moved
    while moved := _move_batch(to=WarningLevel.YELLOW, condition=_due(WarningLevel.YELLOW, now), now=now, batch=batch):
        result.yellow += moved
    return result
