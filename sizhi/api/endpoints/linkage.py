"""一网统管 actions on a case: escalation and delegation, the assisting units' tasks, extensions,
suspension, 并案, "me too" and public notes.

Each operation: find the case (and the object below it) as the caller may see it → call exactly
one service of cases.linkage, cases.merging or cases.services → answer with what it wrote and the
case as the caller now sees it. Status and permission are the services' decisions, answered with
their own codes.
"""

from typing import Annotated

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Path, Router

from sizhi.accounts import throttle
from sizhi.accounts.selectors import is_staff_member
from sizhi.api.auth import SIGNED_IN
from sizhi.api.endpoints.common import (
    TRANSITION_RESPONSES,
    WRITE_ERRORS,
    CaseId,
    after,
    case_after,
    case_or_404,
    case_user,
)
from sizhi.api.errors import ApiError, forbidden, not_found, rate_limited
from sizhi.api.idempotency import IdempotencyKey, idempotent
from sizhi.api.responses import respond
from sizhi.api.schemas import (
    MAX_ID,
    DelegateIn,
    ErrorOut,
    ExtensionCreatedOut,
    ExtensionDecideIn,
    ExtensionIn,
    MergeIn,
    NoteIn,
    ReasonIn,
    RequiredReasonIn,
    ResultIn,
    SupportOut,
    extension_out,
)
from sizhi.cases import linkage, merging, selectors, services
from sizhi.cases.models import Assignment, Case, ExtensionRequest
from sizhi.cases.workflow import Channel

router = Router(tags=["cases"], auth=SIGNED_IN)

AssignmentId = Annotated[int, Path(..., ge=1, le=MAX_ID, description="承办任务 id（见案件详情的 assignments）")]
ExtensionId = Annotated[int, Path(..., ge=1, le=MAX_ID, description="延期申请 id（见案件详情的 pending_extensions）")]

SUPPORTS_PER_USER = throttle.SUPPORTS_PER_USER  # shared with the citizen pages


def _assignment_or_404(case: Case, assignment_id: int) -> Assignment:
    assignment = Assignment.objects.filter(case=case, pk=assignment_id).select_related("unit").first()
    if assignment is None:
        raise not_found()
    assignment.case = case  # the copy just read, whose version the service's update checks
    return assignment


def _extension_or_404(case: Case, extension_id: int) -> ExtensionRequest:
    extension = ExtensionRequest.objects.filter(case=case, pk=extension_id).first()
    if extension is None:
        raise not_found()
    extension.case = case
    return extension


# --- levels --------------------------------------------------------------------------------------


@router.post("/cases/{case_id}/escalate", response=TRANSITION_RESPONSES, summary="上报上级（超出本级权限）")
@idempotent
def case_escalate(
    request: HttpRequest, case_id: CaseId, payload: RequiredReasonIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    """The case goes up one level, where the responsibility matrix or that level's dispatcher
    takes it; its clock keeps running."""
    user = case_user(request)
    case = case_or_404(user, case_id)
    event = linkage.case_escalate(case=case, actor=user, reason=payload.reason)
    return after(request, user, case, event)


@router.post("/cases/{case_id}/delegate", response=TRANSITION_RESPONSES, summary="下派")
@idempotent
def case_delegate(
    request: HttpRequest, case_id: CaseId, payload: DelegateIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    event = linkage.case_delegate(case=case, actor=user, level=payload.level.value, reason=payload.reason)
    return after(request, user, case, event)


# --- assisting units -----------------------------------------------------------------------------


@router.post(
    "/cases/{case_id}/assignments/{assignment_id}/finish", response=TRANSITION_RESPONSES,
    summary="协办完成（协办单位）",
)
@idempotent
def assignment_finish(
    request: HttpRequest, case_id: CaseId, assignment_id: AssignmentId, payload: ResultIn,
    idempotency_key: IdempotencyKey = None,
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    assignment = _assignment_or_404(case, assignment_id)
    event = linkage.assist_finish(assignment=assignment, actor=user, result=payload.result)
    return after(request, user, case, event)


@router.post(
    "/cases/{case_id}/assignments/{assignment_id}/waive", response=TRANSITION_RESPONSES,
    summary="免除协办（调度员）",
)
@idempotent
def assignment_waive(
    request: HttpRequest, case_id: CaseId, assignment_id: AssignmentId, payload: RequiredReasonIn,
    idempotency_key: IdempotencyKey = None,
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    assignment = _assignment_or_404(case, assignment_id)
    event = linkage.assist_waive(assignment=assignment, actor=user, reason=payload.reason)
    return after(request, user, case, event)


# --- extensions and suspension -------------------------------------------------------------------


@router.post(
    "/cases/{case_id}/extensions", response={201: ExtensionCreatedOut, **WRITE_ERRORS},
    summary="申请延期（承办单位）",
)
@idempotent
def extension_request(
    request: HttpRequest, case_id: CaseId, payload: ExtensionIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    extension = linkage.case_extend_request(case=case, actor=user, days=payload.days, reason=payload.reason)
    body = ExtensionCreatedOut(extension=extension_out(extension), case=case_after(request, user, case.pk))
    return respond(request, 201, body)


@router.post(
    "/cases/{case_id}/extensions/{extension_id}/decide", response=TRANSITION_RESPONSES,
    summary="审批延期（调度员）",
)
@idempotent
def extension_decide(
    request: HttpRequest, case_id: CaseId, extension_id: ExtensionId, payload: ExtensionDecideIn,
    idempotency_key: IdempotencyKey = None,
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    extension = _extension_or_404(case, extension_id)
    event = linkage.case_extend_decide(request=extension, actor=user, approve=payload.approve, note=payload.note)
    return after(request, user, case, event)


@router.post("/cases/{case_id}/suspend", response=TRANSITION_RESPONSES, summary="缓办（计时暂停）")
@idempotent
def case_suspend(
    request: HttpRequest, case_id: CaseId, payload: RequiredReasonIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    event = linkage.case_suspend(case=case, actor=user, reason=payload.reason)
    return after(request, user, case, event)


@router.post("/cases/{case_id}/resume", response=TRANSITION_RESPONSES, summary="恢复办理（时限顺延）")
@idempotent
def case_resume(
    request: HttpRequest, case_id: CaseId, payload: ReasonIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    event = linkage.case_resume(case=case, actor=user, reason=payload.reason)
    return after(request, user, case, event)


# --- one problem, one case -----------------------------------------------------------------------


@router.post("/cases/{case_id}/merge", response=TRANSITION_RESPONSES, summary="并案（并入处理同一问题的案件）")
@idempotent
def case_merge(
    request: HttpRequest, case_id: CaseId, payload: MergeIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    number = payload.into.strip()
    # Looked up among the cases the user may see: an unknown number and one out of scope get the
    # same answer as the service gives, so the field cannot be used to probe for cases.
    into = selectors.case_list_for_user(user).filter(number=number).first() if number else None
    if into is None:
        message = _("找不到该案件编号。")
        raise ApiError(400, "merge_target_not_found", message, fields={"into": message})
    event = merging.case_merge(case=case, into=into, actor=user, reason=payload.reason)
    return after(request, user, case, event)


@router.post(
    "/cases/{case_id}/support", response={201: SupportOut, 429: ErrorOut, **WRITE_ERRORS},
    summary="我也遇到（附议）",
)
@idempotent
def case_support(request: HttpRequest, case_id: CaseId, idempotency_key: IdempotencyKey = None) -> HttpResponse:
    """A resident says "me too" on an open case, once, and will hear its outcome. Any case a
    resident could find among the open cases near them qualifies, not only their own; letters
    to the secretary's mailbox are never found."""
    user = case_user(request)
    case = Case.objects.filter(pk=case_id).exclude(channel=Channel.MAILBOX).first()
    if case is None:
        raise not_found()
    if not throttle.hit(SUPPORTS_PER_USER, str(user.pk)):
        raise rate_limited(SUPPORTS_PER_USER.retry_after(str(user.pk)))
    merging.case_support(case=case, user=user)
    return respond(request, 201, SupportOut(supporter_count=merging.supporters(case)))


@router.post("/cases/{case_id}/notes", response=TRANSITION_RESPONSES, summary="公开备注（工作人员）")
@idempotent
def case_note(
    request: HttpRequest, case_id: CaseId, payload: NoteIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    """A remark on the public timeline; the status does not change."""
    user = case_user(request)
    case = case_or_404(user, case_id)
    # The service authorises nobody itself: here, staff who may see the case.
    if not is_staff_member(user):
        raise forbidden(_("只有工作人员可以添加备注。"))
    event = services.case_add_public_note(case=case, actor=user, text=payload.text)
    return after(request, user, case, event)
