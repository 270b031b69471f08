"""Reads of the audit trail, for the audit admin's pages only (views check can_read_audit)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate

from sizhi.audit.models import AuditRecord, Result

CHART_MAX_DAYS = 92


@dataclass(frozen=True)
class AuditFilter:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    actor: str = ""
    action: str = ""
    result: str = ""
    target_type: str = ""
    target_id: str = ""
    route: str = ""


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=local_zone())


def records(f: AuditFilter) -> QuerySet[AuditRecord]:
    """Matching records, newest first. Dates are whole days in the platform's time zone."""
    qs = AuditRecord.objects.all()
    if f.date_from:
        qs = qs.filter(at__gte=_day_start(f.date_from))
    if f.date_to:
        qs = qs.filter(at__lt=_day_start(f.date_to + dt.timedelta(days=1)))
    if f.actor:
        qs = qs.filter(actor_username=f.actor)
    if f.action:
        # "http." (trailing dot) means every code under it.
        qs = qs.filter(action__startswith=f.action) if f.action.endswith(".") else qs.filter(action=f.action)
    if f.result:
        qs = qs.filter(result=f.result)
    if f.target_type:
        qs = qs.filter(target_type=f.target_type)
    if f.target_id:
        qs = qs.filter(target_id=f.target_id)
    if f.route:
        qs = qs.filter(detail__route=f.route)
    return qs.order_by("-seq")


def daily_counts(f: AuditFilter, *, today: dt.date) -> dict[str, Any]:
    """Records per day and result for the chart: the filter's date range, at most CHART_MAX_DAYS,
    ending with `date_to` (or today)."""
    end = f.date_to or today
    start = f.date_from or end - dt.timedelta(days=29)
    start = max(start, end - dt.timedelta(days=CHART_MAX_DAYS - 1))
    window = AuditFilter(**{**f.__dict__, "date_from": start, "date_to": end})
    rows = (
        records(window).order_by()
        .annotate(day=TruncDate("at", tzinfo=local_zone()))
        .values("day", "result").annotate(n=Count("seq"))
    )
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    index = {day: i for i, day in enumerate(days)}
    series: dict[str, list[int]] = {value: [0] * len(days) for value in Result.values}
    for row in rows:
        day = row["day"]
        if isinstance(day, str):  # some backends hand the date back as text
            day = dt.date.fromisoformat(day)
        if day in index and row["result"] in series:
            series[row["result"]][index[day]] += row["n"]
    return {
        "days": [d.isoformat() for d in days],
        "series": [{"result": value, "label": str(label), "counts": series[value]}
                   for value, label in Result.choices],
    }
