"""督办 (supervision orders from a higher level to a unit) and 回访 (call-backs of closed cases).

Orders are read through cases.supervision.supervision_orders_for_user: those addressed to the
caller's units and those within the scope of the caller's supervising roles; any other order is
404. A call-back is found only through a case the caller may see. Who may issue, answer or
record is the services' decision.
"""

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router

from sizhi.api.auth import SIGNED_IN
from sizhi.api.endpoints.common import READ_ERRORS, WRITE_ERRORS, case_user, staff_user
from sizhi.api.errors import ApiError, not_found
from sizhi.api.idempotency import IdempotencyKey, idempotent
from sizhi.api.pagination import paginate
from sizhi.api.responses import respond
from sizhi.api.schemas import (
    MAX_ID,
    CallBackIn,
    CallBackOut,
    Page,
    PageQuery,
    SupervisionIn,
    SupervisionOut,
    SupervisionRespondIn,
    callback_out,
    supervision_out,
)
from sizhi.cases import followup, selectors, supervision
from sizhi.cases.models import CallBack, SupervisionStatus
from sizhi.units.models import HandlingUnit

router = Router(tags=["supervision"], auth=SIGNED_IN)

OrderId = Annotated[int, Path(..., ge=1, le=MAX_ID, description="督办单 id")]
CallBackId = Annotated[int, Path(..., ge=1, le=MAX_ID, description="回访 id（见案件详情的 callback）")]


class SupervisionQuery(PageQuery):
    status: SupervisionStatus | None = Field(None, description="open：待回复；answered：已回复；省略：全部")


@router.get("/supervision", response={200: Page[SupervisionOut], **READ_ERRORS}, summary="督办单（收到的与下达的）")
def supervision_list(request: HttpRequest, query: Query[SupervisionQuery]) -> Any:
    user = staff_user(request, _("只有工作人员可以查看督办单。"))
    orders = supervision.supervision_orders_for_user(user, open_only=query.status == SupervisionStatus.OPEN)
    if query.status == SupervisionStatus.ANSWERED:
        orders = orders.filter(status=SupervisionStatus.ANSWERED)
    return paginate(request, orders.order_by("status", "respond_by", "-id"), query, supervision_out)


@router.post("/supervision", response={201: SupervisionOut, **WRITE_ERRORS}, summary="下达督办（上级调度员或领导）")
@idempotent
def supervision_issue(
    request: HttpRequest, payload: SupervisionIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    """To a unit about its work in general, or about one case it handles now (`case`)."""
    user = case_user(request)
    unit = HandlingUnit.objects.select_related("region").filter(pk=payload.unit).first()
    if unit is None:
        raise ApiError(400, "unit_not_found", _("找不到该承办单位。"), fields={"unit": _("找不到该承办单位。")})
    case = None
    if payload.case is not None:
        # Among the cases the user may see: a hidden case and a missing one answer alike.
        case = selectors.case_get_for_user(user, payload.case)
        if case is None:
            message = _("找不到该案件，或该案件不在您的管辖范围内。")
            raise ApiError(400, "case_not_found", message, fields={"case": message})
    order = supervision.supervision_issue(
        actor=user, unit=unit, reason=payload.reason, respond_by=payload.respond_by, case=case
    )
    return respond(request, 201, supervision_out(order))


@router.post(
    "/supervision/{order_id}/respond", response={200: SupervisionOut, **WRITE_ERRORS},
    summary="回复督办（被督办单位）",
)
@idempotent
def supervision_respond(
    request: HttpRequest, order_id: OrderId, payload: SupervisionRespondIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    order = supervision.supervision_orders_for_user(user, open_only=False).filter(pk=order_id).first()
    if order is None:
        raise not_found()
    answered = supervision.supervision_respond(order=order, actor=user, response=payload.response)
    return respond(request, 200, supervision_out(answered))


@router.post(
    "/callbacks/{callback_id}", response={200: CallBackOut, **WRITE_ERRORS}, tags=["callbacks"],
    summary="登记回访结果（调度员）",
)
@idempotent
def callback_record(
    request: HttpRequest, callback_id: CallBackId, payload: CallBackIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    user = case_user(request)
    visible = selectors.case_list_for_user(user).order_by().values("pk")
    callback = CallBack.objects.select_related("case").filter(pk=callback_id, case__in=visible).first()
    if callback is None:
        raise not_found()
    recorded = followup.callback_record(
        callback=callback, actor=user, reached=payload.reached,
        satisfaction=payload.satisfaction.value if payload.satisfaction is not None else "", note=payload.note,
    )
    return respond(request, 200, callback_out(recorded))
