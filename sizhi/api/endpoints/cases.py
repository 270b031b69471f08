"""Cases: report intake, the citizen's own cases, the staff list, detail with timeline, photos,
and one POST per life-cycle action.

Every operation: parse → call exactly one function of cases.services (or read through
cases.selectors) → serialize. Cases are read through the same selectors as the workbench (see
common.py), so a case outside the caller's scope is 404 here as everywhere; status and
permission are decided by the services, whose coded errors are returned as they are. The
linkage actions (escalation, assisting units, extensions, suspension, 并案, notes) are in
linkage.py, supervision and call-backs in supervision.py, actions by tracking code in track.py.
"""

import json
from typing import Annotated, Any

from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Path, Query, Router, UploadedFile

from sizhi.accounts import throttle
from sizhi.accounts.selectors import is_admin
from sizhi.api.auth import OPTIONAL_AUTH_OPENAPI, SIGNED_IN, SIGNED_IN_OR_ANONYMOUS, request_user
from sizhi.api.endpoints.common import (
    READ_ERRORS,
    TRANSITION_RESPONSES,
    WRITE_ERRORS,
    CaseId,
    after,
    case_or_404,
    case_user,
    detail,
    in_staff_scope,
    staff_user,
)
from sizhi.api.errors import ApiError, forbidden, not_found, report_rate_limited
from sizhi.api.idempotency import IdempotencyKey, idempotent, service_key
from sizhi.api.pagination import paginate
from sizhi.api.responses import respond
from sizhi.api.schemas import (
    MAX_ID,
    CaseDetail,
    CaseListQuery,
    CaseSummary,
    DispatchIn,
    ErrorOut,
    HandleIn,
    Page,
    PageQuery,
    RateIn,
    ReasonIn,
    RegisterIn,
    RejectIn,
    ReportIn,
    ReportOut,
    RequiredReasonIn,
    VerifyIn,
    case_summary,
)
from sizhi.audit.middleware import mark_repeated_refusal
from sizhi.audit.services import suppress_source
from sizhi.cases import selectors, services
from sizhi.cases.models import Category
from sizhi.cases.workflow import CaseStatus, Channel
from sizhi.units.models import HandlingUnit

router = Router(tags=["cases"], auth=SIGNED_IN)

PhotoId = Annotated[int, Path(..., ge=1, le=MAX_ID, description="照片 id")]
Photos = Annotated[list[UploadedFile] | None, File(None, description="照片（JPEG/PNG/WebP…）")]


# --- references in a body ------------------------------------------------------------------------


def _category_or_400(category_id: int | None) -> Category | None:
    if category_id is None:
        return None
    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        raise ApiError(400, "category_not_found", _("找不到该类别。"), fields={"category": _("找不到该类别。")})
    return category


def _units_or_400(unit_ids: list[int], field: str) -> list[HandlingUnit]:
    """The units of these ids, in the order given, each once. Whether the caller may send the
    case to them is the service's decision (dispatch_unit_out_of_scope)."""
    wanted = list(dict.fromkeys(unit_ids))
    found = HandlingUnit.objects.select_related("region").in_bulk(wanted)
    if len(found) != len(wanted):
        raise ApiError(400, "unit_not_found", _("找不到该承办单位。"), fields={field: _("找不到该承办单位。")})
    return [found[pk] for pk in wanted]


# --- intake --------------------------------------------------------------------------------------


def _attributes(raw: str | None) -> dict[str, Any] | None:
    """The answers to the category's further questions, sent as one JSON object in a form field."""
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # deeply nested arrays overflow the parser's stack
        value = None
    if not isinstance(value, dict):
        message = _("补充信息必须是 JSON 对象。")
        raise ApiError(400, "attributes_invalid", message, fields={"attributes": message})
    return value


@router.post(
    "/reports", auth=SIGNED_IN_OR_ANONYMOUS, response={201: ReportOut, 429: ErrorOut, 503: ErrorOut, **WRITE_ERRORS},
    openapi_extra=OPTIONAL_AUTH_OPENAPI, tags=["reports"], summary="上报问题（可匿名，可附照片）",
)
@idempotent
def report_submit(
    request: HttpRequest, data: Form[ReportIn], photos: Photos = None, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    """multipart/form-data. Without a sign-in the report is anonymous: keep the returned
    tracking code, it is the only way to follow the case."""
    user = request_user(request)
    if user is not None and is_admin(user):
        raise forbidden(_("管理员账号不能上报案件。"))
    anonymous = data.is_anonymous or user is None
    if anonymous:
        # No source address in the audit trail, and no account behind the idempotency record.
        suppress_source(request)
    refusal = throttle.hit_all([
        (throttle.REPORTS_PER_ADDRESS, throttle.client_address(request)),
        (throttle.REPORTS_PER_USER, str(user.pk) if user is not None else None),
        (throttle.REPORTS_PER_PHONE, throttle.phone_subject(user.phone) if user is not None else None),
    ])
    if refusal is not None:
        if refusal.repeated:
            mark_repeated_refusal(request)
        raise report_rate_limited(refusal)
    try:
        case = services.report_submit(
            reporter=user,
            description=data.description,
            title=data.title,
            category=_category_or_400(data.category),
            lat=data.lat,
            lng=data.lng,
            address=data.address,
            photos=list(photos or []),
            # Nobody signed in means nobody to link the case to: such a report is anonymous.
            is_anonymous=anonymous,
            channel=Channel.APP,
            attributes=_attributes(data.attributes),
            idempotency_key=service_key(None if anonymous else user, idempotency_key) if idempotency_key else None,
            actor=user,
        )
    except OSError:
        # The upload volume is full or unreachable: the transaction rolled back, nothing is kept.
        raise ApiError(
            503, "storage_unavailable", _("暂时无法保存照片，请稍后重试（可使用同一 Idempotency-Key）。"),
            headers={"Retry-After": "60"},
        ) from None
    body = ReportOut(
        id=case.pk, number=case.number, tracking_code=case.tracking_code, status=CaseStatus(case.status),
        created_at=case.created_at,
    )
    return respond(request, 201, body)


# --- reads ---------------------------------------------------------------------------------------


@router.get("/me/cases", response={200: Page[CaseSummary], **READ_ERRORS}, summary="我的反映")
def my_cases(request: HttpRequest, query: Query[PageQuery]) -> Any:
    user = case_user(request)
    return paginate(request, selectors.cases_of_reporter(user), query, case_summary)


@router.get("/cases", response={200: Page[CaseSummary], **READ_ERRORS}, summary="案件列表（工作人员，按管辖范围）")
def case_list(request: HttpRequest, query: Query[CaseListQuery]) -> Any:
    user = staff_user(request, _("只有工作人员可以查看案件列表；群众请查看“我的反映”。"))
    if query.ordering not in selectors.ORDERINGS:
        message = _("不支持的排序方式，可选：%(values)s。") % {"values": "、".join(selectors.ORDERINGS)}
        raise ApiError(400, "ordering_invalid", message, fields={"ordering": message})
    qs = selectors.case_list_for_user(
        user,
        status=query.status,
        search=query.q,
        ordering=query.ordering,
        category=_category_or_400(query.category),
        created_from=query.created_from,
        created_to=query.created_to,
    )
    return paginate(request, qs, query, case_summary)


@router.get("/cases/{case_id}", response={200: CaseDetail, **READ_ERRORS}, summary="案件详情（含办理时间线）")
def case_get(request: HttpRequest, case_id: CaseId) -> Any:
    user = case_user(request)
    return detail(request, user, case_or_404(user, case_id))


@router.get(
    "/cases/{case_id}/photos/{photo_id}", response={200: None, **READ_ERRORS}, summary="案件照片",
    openapi_extra={"responses": {"200": {"description": "JPEG", "content": {"image/jpeg": {"schema": {
        "type": "string", "format": "binary"}}}}}},
)
def case_photo(request: HttpRequest, case_id: CaseId, photo_id: PhotoId) -> Any:
    """Streamed through the storage API to those who may see the case and that photo; media
    files are never served by URL, so guessing a path gets nothing."""
    user = case_user(request)
    case = case_or_404(user, case_id)
    attachment = (
        selectors.case_attachments(case, public_only=not in_staff_scope(user, case)).filter(pk=photo_id).first()
    )
    if attachment is None:
        raise not_found()
    try:
        handle = attachment.file.storage.open(attachment.file.name, "rb")
    except OSError:
        raise not_found() from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["Content-Disposition"] = f'inline; filename="{case.number}-{attachment.pk}.jpg"'
    response["Cache-Control"] = "private, max-age=600"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- staff actions -------------------------------------------------------------------------------


@router.post("/cases/{case_id}/accept", response=TRANSITION_RESPONSES, summary="受理")
@idempotent
def case_accept(
    request: HttpRequest, case_id: CaseId, payload: ReasonIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    event = services.case_accept(case=case, actor=user, reason=payload.reason)
    return after(request, user, case, event)


@router.post("/cases/{case_id}/reject", response=TRANSITION_RESPONSES, summary="不予受理")
@idempotent
def case_reject(
    request: HttpRequest, case_id: CaseId, payload: RejectIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    duplicate_of = None
    number = (payload.duplicate_of or "").strip()
    if number:
        # Looked up among the cases the user may see: unknown and out-of-scope numbers get the
        # same answer, so the field cannot be used to probe for cases.
        duplicate_of = selectors.case_list_for_user(user).filter(number=number).first()
        if duplicate_of is None:
            message = _("找不到编号为 %(number)s 的案件。") % {"number": number[:32]}
            raise ApiError(400, "duplicate_of_not_found", message, fields={"duplicate_of": message})
    event = services.case_reject(
        case=case, actor=user, kind=payload.kind, reason=payload.reason, duplicate_of=duplicate_of
    )
    return after(request, user, case, event)


@router.post("/cases/{case_id}/register", response=TRANSITION_RESPONSES, summary="立案")
@idempotent
def case_register(
    request: HttpRequest, case_id: CaseId, payload: RegisterIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    event = services.case_register(
        case=case, actor=user, category=_category_or_400(payload.category), reason=payload.reason
    )
    return after(request, user, case, event)


@router.post("/cases/{case_id}/dispatch", response=TRANSITION_RESPONSES, summary="派遣")
@idempotent
def case_dispatch(
    request: HttpRequest, case_id: CaseId, payload: DispatchIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    (unit,) = _units_or_400([payload.unit], "unit")
    assists = _units_or_400(payload.assist_units, "assist_units")
    event = services.case_dispatch(
        case=case, actor=user, unit=unit, assist_units=assists,
        priority=payload.priority.value if payload.priority is not None else None, reason=payload.reason,
    )
    return after(request, user, case, event)


@router.post("/cases/{case_id}/sign-for", response=TRANSITION_RESPONSES, summary="签收")
@idempotent
def case_sign_for(request: HttpRequest, case_id: CaseId, idempotency_key: IdempotencyKey = None) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    event = services.case_sign_for(case=case, actor=user)
    return after(request, user, case, event)


@router.post("/cases/{case_id}/return", response=TRANSITION_RESPONSES, summary="退回（须说明理由）")
@idempotent
def case_return(
    request: HttpRequest, case_id: CaseId, payload: RequiredReasonIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    event = services.case_return(case=case, actor=user, reason=payload.reason)
    return after(request, user, case, event)


@router.post("/cases/{case_id}/handle", response=TRANSITION_RESPONSES, summary="提交处置结果（可附照片）")
@idempotent
def case_handle(
    request: HttpRequest, case_id: CaseId, data: Form[HandleIn], photos: Photos = None,
    idempotency_key: IdempotencyKey = None,
) -> HttpResponse:
    """multipart/form-data: `result` and up to the configured number of `photos`."""
    user = case_user(request)
    case = case_or_404(user, case_id)
    event = services.case_handle(case=case, actor=user, result=data.result, photos=list(photos or []))
    return after(request, user, case, event)


@router.post("/cases/{case_id}/verify", response=TRANSITION_RESPONSES, summary="核查（通过或不通过）")
@idempotent
def case_verify(
    request: HttpRequest, case_id: CaseId, payload: VerifyIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    event = services.case_verify(case=case, actor=user, passed=payload.passed, reason=payload.reason)
    return after(request, user, case, event)


@router.post("/cases/{case_id}/close", response=TRANSITION_RESPONSES, summary="结案")
@idempotent
def case_close(
    request: HttpRequest, case_id: CaseId, payload: ReasonIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    event = services.case_close(case=case, actor=user, reason=payload.reason)
    return after(request, user, case, event)


# --- the reporter's actions ----------------------------------------------------------------------


@router.post("/cases/{case_id}/rate", response=TRANSITION_RESPONSES, summary="评价（上报人）")
@idempotent
def case_rate(
    request: HttpRequest, case_id: CaseId, payload: RateIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    event = services.case_rate(case=case, actor=user, satisfaction=payload.satisfaction, comment=payload.comment)
    return after(request, user, case, event)


@router.post("/cases/{case_id}/reopen", response=TRANSITION_RESPONSES, summary="申请重新办理（上报人）")
@idempotent
def case_reopen(
    request: HttpRequest, case_id: CaseId, payload: RequiredReasonIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    case = case_or_404(user, case_id)
    event = services.case_reopen(case=case, actor=user, reason=payload.reason)
    return after(request, user, case, event)
