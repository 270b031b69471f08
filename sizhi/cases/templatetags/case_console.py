"""Template helpers of the staff workbench: who is signed in, how old a case is, who acted."""

from __future__ import annotations

from datetime import datetime
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
from sizhi.cases.workflow import FINAL_STATUSES, CaseAction, CaseStatus, RejectionKind, Satisfaction

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
        return _("匿名") if event.action == CaseAction.SUBMIT and case.is_anonymous else _("系统")
    if actor.is_citizen:
        return _("反映人")
    return str(actor)


@register.filter
def event_detail(event: CaseEvent) -> str:
    """The one fact an event's data adds to its reason: where a case went, why it was refused."""
    data = event.data or {}
    if event.action == CaseAction.DISPATCH and data.get("unit_name"):
        return _("派遣至：%(unit)s") % {"unit": data["unit_name"]}
    if event.action == CaseAction.RETURN and data.get("unit_name"):
        return _("退回单位：%(unit)s") % {"unit": data["unit_name"]}
    if event.action == CaseAction.REJECT and data.get("kind") in RejectionKind.values:
        text = str(RejectionKind(data["kind"]).label)
        if data.get("duplicate_of"):
            text += _("（重复于 %(number)s）") % {"number": data["duplicate_of"]}
        return text
    if event.action == CaseAction.RATE and data.get("satisfaction") in Satisfaction.values:
        return str(Satisfaction(data["satisfaction"]).label)
    return ""
