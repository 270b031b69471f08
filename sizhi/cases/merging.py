"""并案 and "me too": one problem, one case, every affected resident kept informed."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import User
from sizhi.cases import permissions
from sizhi.cases.errors import CaseError, CasePermissionDenied, TransitionNotAllowed
from sizhi.cases.models import Case, CaseEvent, CaseSupporter
from sizhi.cases.transitions import require, require_reason, tell_reporter, transition
from sizhi.cases.workflow import OPEN_STATUSES, TRANSITIONS, CaseAction, Channel
from sizhi.notify.services import notify_users


@transaction.atomic
def case_merge(*, case: Case, into: Case, actor: User, reason: str = "") -> CaseEvent:
    """Close `case` as part of `into`; its reporter becomes a supporter of `into`."""
    require(actor, case, CaseAction.MERGE)
    if case.channel == Channel.MAILBOX:
        # A letter to the secretary stays with its addressee: it never joins a public case.
        raise CaseError(_("书记信箱来信不能并案。"), code="merge_mailbox_letter")
    if into.pk == case.pk:
        raise CaseError(_("案件不能与自身合并。"), code="merge_into_self", field="into")
    if not permissions.can_view_case(actor, into) or into.channel == Channel.MAILBOX:
        raise CaseError(_("找不到该案件编号。"), code="merge_target_not_found", field="into")
    if into.status not in OPEN_STATUSES or into.duplicate_of_id is not None:
        raise CaseError(_("只能并入仍在办理中的案件。"), code="merge_target_closed", field="into")
    text = require_reason(reason or _("与案件 %(number)s 为同一问题，合并办理。") % {"number": into.number},
                          _("请说明并案理由。"))
    event = transition(
        case=case, action=CaseAction.MERGE, actor=actor, reason=text,
        changes={"duplicate_of": into, "closed_at": timezone.now()}, data={"into": into.number},
    )
    CaseSupporter.objects.create(case=into, user=case.reporter, merged_case=case)
    transition(
        case=into, action=CaseAction.SUPPORT, actor=None, data={"merged": case.number, "count": supporters(into)}
    )
    tell_reporter(
        case, _("您的反映已并案办理"),
        _("您反映的问题与案件 %(number)s 为同一问题，将合并办理，办理结果会同时告知您。") % {"number": into.number},
    )
    return event


@transaction.atomic
def case_support(*, case: Case, user: User) -> CaseSupporter:
    """A resident says "me too" on an open case (once), and will hear its outcome."""
    if case.status not in TRANSITIONS[CaseAction.SUPPORT].sources or case.channel == Channel.MAILBOX:
        raise TransitionNotAllowed(CaseAction.SUPPORT, case.status)
    if not user.is_authenticated or not user.is_active:
        raise CasePermissionDenied(_("请先登录。"))
    if case.reporter_id == user.pk:
        raise CaseError(_("这是您自己反映的问题。"), code="support_own_case")
    try:
        with transaction.atomic():
            supporter = CaseSupporter.objects.create(case=case, user=user)
    except IntegrityError as exc:
        raise CaseError(_("您已附议过这个问题。"), code="support_already") from exc
    # The supporter's name never appears on the public timeline: the event has no actor.
    transition(case=case, action=CaseAction.SUPPORT, actor=None, data={"count": supporters(case)})
    return supporter


def supporters(case: Case) -> int:
    return CaseSupporter.objects.filter(case=case).count()


def tell_supporters(case: Case, subject: str, body: str) -> None:
    users = User.objects.filter(pk__in=CaseSupporter.objects.filter(case=case, user__isnull=False).values("user_id"))
    notify_users(users=users, subject=subject, body=body, link=reverse("web:home"), sms=True)
