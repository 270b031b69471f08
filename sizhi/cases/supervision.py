"""督办: supervision orders from a higher level to a unit, on a case or on its work in general,
with a required response date. Reads for queues, summons lists and evaluation live here too."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import DISPATCHER_ROLES, Membership, Role, User
from sizhi.accounts.selectors import active_memberships
from sizhi.cases import permissions
from sizhi.cases.errors import CaseError, CasePermissionDenied, TransitionNotAllowed
from sizhi.cases.models import Case, SupervisionOrder, SupervisionStatus
from sizhi.cases.text import clean_text
from sizhi.cases.transitions import require_reason, transition
from sizhi.cases.workflow import TRANSITIONS, CaseAction
from sizhi.notify.services import notify_users
from sizhi.units import matrix
from sizhi.units.models import HandlingUnit

SUPERVISOR_ROLES = DISPATCHER_ROLES | {Role.LEADER}


def _rank(level: str) -> int:
    return matrix.LEVELS_UPWARD.index(level)


def supervising_membership(user: User | AnonymousUser | None, unit: HandlingUnit) -> Membership | None:
    """A dispatcher's or leader's membership strictly above the unit's level whose scope holds it."""
    for m in active_memberships(user):
        if (
            m.role in SUPERVISOR_ROLES and m.scope is not None
            and unit.region_code.startswith(m.scope.prefix) and _rank(m.scope.level) > _rank(unit.region.level)
        ):
            return m
    return None


def can_supervise(user: User | AnonymousUser | None, case: Case) -> bool:
    unit = case.assigned_unit
    return unit is not None and supervising_membership(user, unit) is not None and permissions.can_view_case(
        user, case
    )


@transaction.atomic
def supervision_issue(
    *, actor: User, unit: HandlingUnit, reason: str, respond_by: dt.date, case: Case | None = None
) -> SupervisionOrder:
    """Issue an order to `unit` (about `case` when given: then the unit is the case's own)."""
    if case is not None:
        if case.status not in TRANSITIONS[CaseAction.SUPERVISE].sources:
            raise TransitionNotAllowed(CaseAction.SUPERVISE, case.status)
        if case.assigned_unit_id != unit.pk:
            raise CaseError(_("只能督办案件当前的承办单位。"), code="supervision_wrong_unit", field="unit")
    membership = supervising_membership(actor, unit)
    if membership is None or membership.scope is None:
        raise CasePermissionDenied(_("只有上级的调度员或领导可以督办该单位。"))
    text = require_reason(reason, _("请填写督办事由。"))
    if respond_by < timezone.localdate():
        raise CaseError(_("回复期限不能早于今天。"), code="supervision_date_past", field="respond_by")
    order = SupervisionOrder.objects.create(
        case=case, unit=unit, issued_by=actor, issuer_level=membership.scope.level, reason=text,
        respond_by=respond_by,
    )
    if case is not None:
        transition(
            case=case, action=CaseAction.SUPERVISE, actor=actor, reason=text, is_public=False,
            data={"order": order.pk, "unit": unit.pk, "unit_name": unit.name, "respond_by": respond_by.isoformat()},
        )
    members = User.objects.filter(memberships__unit=unit, memberships__is_active=True).distinct()
    notify_users(
        users=members, subject=_("督办：请于 %(date)s 前回复") % {"date": respond_by.isoformat()}, body=text,
        link=reverse("cases:detail", args=[case.pk]) if case else "", sms=True,
    )
    return order


@transaction.atomic
def supervision_respond(*, order: SupervisionOrder, actor: User, response: str) -> SupervisionOrder:
    if not any(m.unit_id == order.unit_id for m in active_memberships(actor)):
        raise CasePermissionDenied(_("只有被督办单位的人员可以回复。"))
    text = require_reason(response, _("请填写督办回复。"))
    answered = SupervisionOrder.objects.filter(pk=order.pk, status=SupervisionStatus.OPEN).update(
        status=SupervisionStatus.ANSWERED, response=text, responded_by=actor, responded_at=timezone.now()
    )
    if answered != 1:
        raise CaseError(_("该督办单已回复。"), code="supervision_already_answered")
    order.refresh_from_db()
    if order.case is not None:
        case = order.case
        if case.status not in TRANSITIONS[CaseAction.SUPERVISION_REPLY].sources:
            raise TransitionNotAllowed(CaseAction.SUPERVISION_REPLY, case.status)
        transition(
            case=case, action=CaseAction.SUPERVISION_REPLY, actor=actor, reason=clean_text(text), is_public=False,
            # The response date is the local (Asia/Shanghai) day, like the required date.
            data={"order": order.pk, "late": order.responded_at is not None
                  and timezone.localdate(order.responded_at) > order.respond_by},
        )
    notify_users(users=[order.issued_by], subject=_("督办已回复"), body=text,
                 link=reverse("cases:detail", args=[order.case_id]) if order.case_id else "")
    return order


def supervision_orders_for_user(user: User | AnonymousUser | None, *, open_only: bool = True) -> QuerySet[
    SupervisionOrder
]:
    """Orders addressed to the user's units, and those the user's levels issued within their scope."""
    parts = Q(pk__in=[])
    for m in active_memberships(user):
        if m.unit_id is not None:
            parts |= Q(unit_id=m.unit_id)
        if m.role in SUPERVISOR_ROLES and m.scope is not None:
            parts |= Q(unit__region_code__startswith=m.scope.prefix)
    qs = SupervisionOrder.objects.filter(parts).select_related("unit", "case", "issued_by")
    return qs.filter(status=SupervisionStatus.OPEN) if open_only else qs
