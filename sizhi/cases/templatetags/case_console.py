"""Template helpers of the staff workbench: who is signed in, how old a case is, how much
working time is left, who acted and what an event did."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from django import template
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sizhi.accounts.models import Membership
from sizhi.accounts.selectors import active_memberships
from sizhi.cases.models import Case, CaseEvent
from sizhi.cases.workflow import (
    FINAL_STATUSES,
    WORKING,
    CaseAction,
    CaseStatus,
    RejectionKind,
    Satisfaction,
)
from sizhi.regions.models import RegionLevel
from sizhi.workdays.calendar import working_seconds_between

register = template.Library()


@register.simple_tag(takes_context=True)
def console_memberships(context: dict[str, Any]) -> list[Membership]:
    # Loaded once per request by accounts.selectors, so the shell costs one query at most.
    request: HttpRequest | None = context.get("request")
    return active_memberships(request.user) if request is not None else []  # type: ignore[arg-type]


@register.simple_tag
def logout_url() -> str:
    # The logout view belongs to the accounts app; until it is mounted the path is still right.
    try:
        return reverse("accounts:logout")
    except NoReverseMatch:
        return "/accounts/logout/"


@register.filter
def case_age(case: Case, now: datetime | None = None) -> str:
    """How long since the report, up to closure for finished cases: "3 天", "5 小时", "12 分钟"."""
    end = (case.closed_at if case.status in FINAL_STATUSES and case.closed_at else None) or now or timezone.now()
    seconds = max(int((end - case.created_at).total_seconds()), 0)
    if seconds >= 86400:
        n = seconds // 86400
        return ngettext("%(n)d 天", "%(n)d 天", n) % {"n": n}
    if seconds >= 3600:
        n = seconds // 3600
        return ngettext("%(n)d 小时", "%(n)d 小时", n) % {"n": n}
    n = seconds // 60
    return ngettext("%(n)d 分钟", "%(n)d 分钟", n) % {"n": n}


@register.filter
def status_label(value: str) -> str:
    return str(CaseStatus(value).label) if value in CaseStatus.values else value


@register.filter
def action_label(value: str) -> str:
    if value == "verify":
        return _("核查")
    return str(CaseAction(value).label) if value in CaseAction.values else value


@register.filter
def actor_label(event: CaseEvent, case: Case) -> str:
    """Staff names are shown; a citizen is "反映人" (or "匿名"), never by name; no actor is the system."""
    actor = event.actor
    if actor is None:
        if event.action == CaseAction.SUBMIT and case.is_anonymous:
            return _("匿名")
        # A "me too" names no one; a merged report's supporter is added by the system.
        if event.action == CaseAction.SUPPORT and not (isinstance(event.data, dict) and event.data.get("merged")):
            return _("群众")
        return _("系统")
    if actor.is_citizen:
        return _("反映人")
    return str(actor)


def _hours(seconds: float) -> int:
    # Rounded up: "剩余 0 工作小时" would read as already due while office time remains.
    return math.ceil(seconds / 3600)


@register.filter
def time_left(case: Case, now: datetime | None = None) -> str:
    """The working time left before the case's deadline ("剩余 12 工作小时"), or how far past it
    ("超期 3 工作小时"). A suspended case's clock stands still; a closed one says whether it was
    closed in time; a case without a deadline (not dispatched yet) says nothing."""
    due = case.due_at
    if due is None:
        return ""
    if case.status == CaseStatus.SUSPENDED:
        frozen_at = case.suspended_at or now or timezone.now()
        return _("计时暂停（剩余 %(n)d 工作小时）") % {"n": _hours(working_seconds_between(frozen_at, due))}
    if case.status == CaseStatus.CLOSED and case.closed_at is not None:
        return _("按期办结") if case.closed_at <= due else _("超期办结")
    if case.status not in WORKING:
        return ""
    now = now or timezone.now()
    if now < due:
        return _("剩余 %(n)d 工作小时") % {"n": _hours(working_seconds_between(now, due))}
    overdue = _hours(working_seconds_between(due, now))
    return _("超期 %(n)d 工作小时") % {"n": overdue} if overdue else _("已超期")


@register.filter
def is_overdue(case: Case, now: datetime | None = None) -> bool:
    return case.due_at is not None and case.status in WORKING and (now or timezone.now()) >= case.due_at


@register.filter
def level_label(value: object) -> str:
    if isinstance(value, str) and value in RegionLevel.values:
        return str(RegionLevel(value).label)
    return str(value or "")


def _moment(value: object) -> str:
    """An ISO timestamp stored in an event's data, shown in the platform's time zone."""
    if not isinstance(value, str):
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return ""
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _names(value: object) -> str:
    return "、".join(str(n) for n in value) if isinstance(value, list) else ""


def _dispatch_detail(data: dict[str, Any]) -> list[str]:
    parts = []
    if data.get("unit_name"):
        parts.append(_("派遣至：%(unit)s") % {"unit": data["unit_name"]})
    if assists := _names(data.get("assist_names")):
        parts.append(_("协办：%(units)s") % {"units": assists})
    if sign_due := _moment(data.get("sign_due_at")):
        parts.append(_("签收时限 %(at)s") % {"at": sign_due})
    if due := _moment(data.get("due_at")):
        parts.append(_("办理时限 %(at)s") % {"at": due})
    return parts


def _level_move(data: dict[str, Any]) -> dict[str, str]:
    return {"from": level_label(data.get("from_level")), "to": level_label(data.get("to_level"))}


def _event_parts(action: str, data: dict[str, Any]) -> list[str]:
    if action == CaseAction.DISPATCH:
        return _dispatch_detail(data)
    if action == CaseAction.RETURN:
        parts = [_("退回单位：%(unit)s") % {"unit": data["unit_name"]}] if data.get("unit_name") else []
        if data.get("ruling"):
            parts.append(_("退回次数已达上限，提请指挥中心裁定"))
        return parts
    if action == CaseAction.ESCALATE and data.get("to_level"):
        return [_("由%(from)s上报至%(to)s") % _level_move(data)]
    if action == CaseAction.DELEGATE and data.get("to_level"):
        return [_("由%(from)s下派至%(to)s") % _level_move(data)]
    if action in (CaseAction.ASSIST_FINISH, CaseAction.ASSIST_WAIVE) and data.get("unit_name"):
        return [_("协办单位：%(unit)s") % {"unit": data["unit_name"]}]
    if action == CaseAction.EXTEND_REQUEST and isinstance(data.get("days"), int):
        return [_("申请延期 %(n)d 个工作日") % {"n": data["days"]}]
    if action == CaseAction.EXTEND_APPROVE and isinstance(data.get("days"), int):
        return [_("批准延期 %(n)d 个工作日") % {"n": data["days"]}]
    if action == CaseAction.EXTEND_REJECT and isinstance(data.get("days"), int):
        return [_("驳回延期 %(n)d 个工作日的申请") % {"n": data["days"]}]
    if action == CaseAction.RESUME and isinstance(data.get("suspended_hours"), int | float):
        hours = data["suspended_hours"]
        return [_("缓办 %(n)s 工作小时，各项时限相应顺延") % {"n": f"{hours:g}"}]
    if action in (CaseAction.WARN_YELLOW, CaseAction.WARN_RED) and (due := _moment(data.get("due_at"))):
        return [_("办结时限 %(at)s") % {"at": due}]
    if action == CaseAction.REJECT and data.get("kind") in RejectionKind.values:
        text = str(RejectionKind(data["kind"]).label)
        if data.get("duplicate_of"):
            text += _("（重复于 %(number)s）") % {"number": data["duplicate_of"]}
        return [text]
    if action == CaseAction.RATE and data.get("satisfaction") in Satisfaction.values:
        return [str(Satisfaction(data["satisfaction"]).label)]
    if action == CaseAction.MERGE and data.get("into"):
        return [_("并入案件 %(number)s") % {"number": data["into"]}]
    if action == CaseAction.SUPPORT:
        return _support_detail(data)
    return []


def _support_detail(data: dict[str, Any]) -> list[str]:
    parts = []
    if data.get("merged"):
        parts.append(_("案件 %(number)s 并入本案，其反映人成为附议人") % {"number": data["merged"]})
    if isinstance(data.get("count"), int) and not isinstance(data.get("count"), bool):
        parts.append(_("附议人数：%(n)d") % {"n": data["count"]})
    return parts


@register.filter
def event_detail(event: CaseEvent) -> str:
    """What an event's data adds to its reason, in words: where a case went and with which
    assisting units, between which levels, how many days of extension, its deadlines."""
    data = event.data if isinstance(event.data, dict) else {}
    return "；".join(_event_parts(event.action, data))
