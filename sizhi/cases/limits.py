"""Writers of the official time limits (办理时限): one row per category × priority, and the
default rows (no category) that cases.deadlines.limits_for falls back to."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from sizhi.cases.models import Category, TimeLimit
from sizhi.cases.workflow import Priority

# Bounds a person can mean. The upper ones also keep deadline arithmetic inside the working
# calendar's scan window (workdays.calendar.MAX_SCAN_DAYS) and the column's five digits.
MAX_SIGN_HOURS = Decimal("999.9")
MAX_HANDLE_DAYS = 365


def _checked_hours(value: object) -> Decimal:
    try:
        hours = Decimal(str(value)).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        raise ValidationError({"sign_hours": _("签收时限应为数字。")}) from None
    if not hours.is_finite() or not Decimal("0.1") <= hours <= MAX_SIGN_HOURS:
        raise ValidationError(
            {"sign_hours": _("签收时限应在 0.1 至 %(max)s 个工作小时之间。") % {"max": MAX_SIGN_HOURS}}
        )
    return hours


def _checked_days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_HANDLE_DAYS:
        raise ValidationError(
            {"handle_days": _("办结时限应为 1 至 %(max)d 之间的整数个工作日。") % {"max": MAX_HANDLE_DAYS}}
        )
    return value


@transaction.atomic
def time_limit_save(
    *, category: Category | None, priority: str, sign_hours: Decimal | int | str, handle_days: int
) -> TimeLimit:
    """Create or replace the limit for (category, priority); `category=None` is the default row."""
    if priority not in Priority.values:
        raise ValidationError({"priority": _("紧急程度无效。")})
    hours = _checked_hours(sign_hours)
    days = _checked_days(handle_days)
    # Locked, so two admins saving the same cell at once update one row rather than race to insert.
    # Ordered by pk: the model's default ordering joins the category, which FOR UPDATE cannot lock.
    row = TimeLimit.objects.select_for_update().filter(category=category, priority=priority).order_by("pk").first()
    if row is None:
        return TimeLimit.objects.create(category=category, priority=priority, sign_hours=hours, handle_days=days)
    row.sign_hours = hours
    row.handle_days = days
    row.save(update_fields=["sign_hours", "handle_days"])
    return row


@transaction.atomic
def time_limit_delete(*, limit: TimeLimit) -> None:
    """Remove a category's own limit, so it inherits again. The default rows stay: every case
    needs a limit, and the built-in fallback is not meant to be the configuration."""
    if limit.category_id is None:
        raise ValidationError(_("默认时限不能删除，只能修改。"), code="time_limit_default")
    TimeLimit.objects.filter(pk=limit.pk).delete()
