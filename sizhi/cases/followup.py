"""Repeat complaints (重复件) and call-backs (回访)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import User
from sizhi.cases import permissions
from sizhi.cases.errors import CaseError, CasePermissionDenied, TransitionNotAllowed
from sizhi.cases.models import CallBack, CallBackStatus, Case
from sizhi.cases.text import clean_text
from sizhi.cases.transitions import transition
from sizhi.cases.workflow import TRANSITIONS, CaseAction, Channel, Satisfaction


def find_repeat_of(case: Case) -> Case | None:
    """The latest earlier case, within SIZHI_REPEAT_DAYS, from the same named reporter, or at the
    same grid in the same category. Secretary-mailbox letters never link to anything."""
    if case.channel == Channel.MAILBOX:
        return None
    same = Q(pk__in=[])
    if case.reporter_id is not None:
        same |= Q(reporter_id=case.reporter_id)
    if case.grid_id is not None and case.category_id is not None:
        same |= Q(grid_id=case.grid_id, category_id=case.category_id)
    since = case.created_at - timedelta(days=settings.SIZHI_REPEAT_DAYS)
    return (
        Case.objects.filter(same, created_at__gte=since, created_at__lte=case.created_at)
        .exclude(pk=case.pk)
        .exclude(channel=Channel.MAILBOX)
        .order_by("-created_at", "-pk")
        .first()
    )


def mark_repeat(case: Case) -> Case | None:
    """Link the case to the one it repeats, once; returns that earlier case."""
    if case.repeat_of_id is not None:
        return None
    earlier = find_repeat_of(case)
    if earlier is not None:
        Case.objects.filter(pk=case.pk, repeat_of__isnull=True).update(repeat_of=earlier)
        case.repeat_of = earlier
    return earlier


def maybe_queue_callback(case: Case) -> CallBack | None:
    """Queue a call-back for SIZHI_CALLBACK_PERCENT of closed cases that have someone to call."""
    if case.reporter_id is None:
        return None
    if secrets.randbelow(100) >= settings.SIZHI_CALLBACK_PERCENT:
        return None
    callback, _created = CallBack.objects.get_or_create(case=case)
    return callback


@transaction.atomic
def callback_record(
    *, callback: CallBack, actor: User, reached: bool, satisfaction: str = "", note: str = ""
) -> CallBack:
    case = callback.case
    if case.status not in TRANSITIONS[CaseAction.CALLBACK].sources:
        # A reopened case is being handled again; its call-back waits for the next closure.
        raise TransitionNotAllowed(CaseAction.CALLBACK, case.status)
    if not permissions.can_decide_for(actor, case):
        raise CasePermissionDenied(_("只有管辖该案件的调度员可以登记回访。"))
    if reached and satisfaction not in Satisfaction.values:
        raise CaseError(_("联系上反映人时请选择满意度。"), code="satisfaction_invalid", field="satisfaction")
    text = clean_text(note)[:2000]
    done = CallBack.objects.filter(pk=callback.pk, status=CallBackStatus.PENDING).update(
        status=CallBackStatus.DONE, reached=reached, satisfaction=satisfaction if reached else "", note=text,
        done_by=actor, done_at=timezone.now(),
    )
    if done != 1:
        raise CaseError(_("该回访已登记。"), code="callback_already_done")
    transition(
        case=case, action=CaseAction.CALLBACK, actor=actor, reason=text, is_public=False,
        data={"reached": reached, "satisfaction": satisfaction if reached else ""},
    )
    callback.refresh_from_db()
    return callback
