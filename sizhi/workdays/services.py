"""The only writer of calendar corrections."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from sizhi.accounts.models import User
from sizhi.workdays.calendar import forget_overrides
from sizhi.workdays.models import CalendarDay


@transaction.atomic
def calendar_day_set(*, date: dt.date, is_workday: bool, name: str = "", actor: User | None) -> CalendarDay:
    day, _ = CalendarDay.objects.update_or_create(
        date=date, defaults={"is_workday": is_workday, "name": name.strip()[:50], "created_by": actor}
    )
    transaction.on_commit(forget_overrides)
    return day


@transaction.atomic
def calendar_day_clear(*, date: dt.date) -> None:
    CalendarDay.objects.filter(date=date).delete()
    transaction.on_commit(forget_overrides)
