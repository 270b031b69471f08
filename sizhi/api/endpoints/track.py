"""Rating and reopening by tracking code: how a reporter who filed anonymously (or is not signed
in on this device) follows up, exactly as on the citizen pages' /track/<code>/.

The code is the credential, so every request counts against a per-address limit (429
`rate_limited` beyond it) whether the code is right or not. A signed-in caller acts under their
name only on their own named report; anyone else holding the code acts without a name, so that no
account gets linked to a case it was not linked to.
"""

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Path, Router

from sizhi.accounts import throttle
from sizhi.accounts.models import User
from sizhi.accounts.selectors import is_admin
from sizhi.api.auth import OPTIONAL_AUTH_OPENAPI, SIGNED_IN_OR_ANONYMOUS, request_user
from sizhi.api.endpoints.common import WRITE_ERRORS
from sizhi.api.errors import forbidden, not_found, rate_limited
from sizhi.api.idempotency import IdempotencyKey, idempotent
from sizhi.api.responses import respond
from sizhi.api.schemas import ErrorOut, RateIn, RequiredReasonIn, TrackActionOut, event_out, tracked_case_out
from sizhi.audit.services import suppress_source
from sizhi.cases import selectors, services
from sizhi.cases.models import Case, CaseEvent

router = Router(tags=["track"], auth=SIGNED_IN_OR_ANONYMOUS)

TrackingCode = Annotated[str, Path(..., max_length=64, description="查询码（上报时返回的 tracking_code）")]
RESPONSES: dict[int, Any] = {200: TrackActionOut, 429: ErrorOut, **WRITE_ERRORS}

# Generous for residents behind one carrier address (CGNAT), who rate a case once each; far too
# few to guess a 128-bit code, which is not the point anyway: abuse of a leaked code is.
TRACK_ACTIONS_PER_ADDRESS = throttle.Limit("api-track-address", 30, 10 * 60)


def _case_for_code(request: HttpRequest, code: str) -> tuple[Case, User | None]:
    user = request_user(request)
    if user is not None and is_admin(user):
        raise forbidden(_("管理员账号不能访问案件。"))
    address = throttle.client_address(request)
    if not throttle.hit(TRACK_ACTIONS_PER_ADDRESS, address):
        raise rate_limited(TRACK_ACTIONS_PER_ADDRESS.retry_after(address))
    case = selectors.case_by_tracking_code(code)
    if case is None:
        raise not_found()
    if case.is_anonymous:
        # The follow-up of an anonymous report keeps no source address with the case either.
        suppress_source(request)
    actor = user if user is not None and case.reporter_id == user.pk else None
    return case, actor


def _answer(request: HttpRequest, case: Case, event: CaseEvent) -> HttpResponse:
    # The public view: no staff names, whoever asks.
    body = TrackActionOut(event=event_out(request, event, staff_view=False), case=tracked_case_out(case))
    return respond(request, 200, body)


@router.post(
    "/track/{tracking_code}/rate", response=RESPONSES, openapi_extra=OPTIONAL_AUTH_OPENAPI,
    summary="凭查询码评价（可匿名）",
)
@idempotent
def track_rate(
    request: HttpRequest, tracking_code: TrackingCode, payload: RateIn, idempotency_key: IdempotencyKey = None
) -> HttpResponse:
    case, actor = _case_for_code(request, tracking_code)
    event = services.case_rate(
        case=case, actor=actor, satisfaction=payload.satisfaction.value, comment=payload.comment,
        tracking_code=case.tracking_code,
    )
    return _answer(request, case, event)


@router.post(
    "/track/{tracking_code}/reopen", response=RESPONSES, openapi_extra=OPTIONAL_AUTH_OPENAPI,
    summary="凭查询码申请重新办理（可匿名）",
)
@idempotent
def track_reopen(
    request: HttpRequest, tracking_code: TrackingCode, payload: RequiredReasonIn,
    idempotency_key: IdempotencyKey = None,
) -> HttpResponse:
    case, actor = _case_for_code(request, tracking_code)
    event = services.case_reopen(case=case, actor=actor, reason=payload.reason, tracking_code=case.tracking_code)
    return _answer(request, case, event)
