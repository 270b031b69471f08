"""What every case endpoint shares: who is calling, which case, the documented error answers, and
the case detail every action answers with.

A case is read through cases.selectors, exactly like the workbench, so one outside the caller's
scope is 404 here as everywhere. Objects below a case (assignments, extension requests) are
looked up among that case's own rows, so an id of another case is 404 too.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Path

from sizhi.accounts.models import User
from sizhi.accounts.selectors import is_admin, is_staff_member
from sizhi.api.auth import require_user
from sizhi.api.errors import forbidden, not_found
from sizhi.api.responses import respond
from sizhi.api.schemas import MAX_ID, CaseDetail, ErrorOut, TransitionOut, case_detail, event_out
from sizhi.cases import merging, permissions, selectors
from sizhi.cases.models import CallBack, Case, CaseEvent, ExtensionStatus

CaseId = Annotated[int, Path(..., ge=1, le=MAX_ID, description="案件 id")]

READ_ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 503: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {**READ_ERRORS, 409: ErrorOut, 413: ErrorOut, 422: ErrorOut}
TRANSITION_RESPONSES: dict[int, Any] = {200: TransitionOut, **WRITE_ERRORS}


def case_user(request: HttpRequest) -> User:
    """The signed-in user, unless an administrator: the three administrator roles see no case
    content on any channel (三权分立), and are told so rather than shown an empty world."""
    user = require_user(request)
    if is_admin(user):
        raise forbidden(_("管理员账号不能访问案件。"))
    return user


def staff_user(request: HttpRequest, message: str | None = None) -> User:
    user = case_user(request)
    if not is_staff_member(user):
        raise forbidden(message or _("只有工作人员可以执行此操作。"))
    return user


def case_or_404(user: User, case_id: int) -> Case:
    case = selectors.case_get_for_user(user, case_id)
    if case is None:
        raise not_found()
    return case


def in_staff_scope(user: User, case: Case) -> bool:
    """Whether the user sees the case as staff (internal timeline, masked reporter, the units'
    clocks), rather than only as its reporter (public timeline)."""
    scope = permissions.case_scope_q(user)
    return scope is not None and Case.objects.filter(scope, pk=case.pk).exists()


def detail(request: HttpRequest, user: User, case: Case) -> CaseDetail:
    staff_view = in_staff_scope(user, case)
    repeat_of = case.repeat_of if case.repeat_of_id is not None else None
    return case_detail(
        request, case, staff_view=staff_view, is_reporter=case.reporter_id == user.pk,
        events=list(selectors.case_timeline(case, public_only=not staff_view)),
        photos=list(selectors.case_attachments(case, public_only=not staff_view)),
        allowed=permissions.available_actions(user, case),
        # Only a number the caller could open: the earlier case may be another resident's.
        repeat_of=repeat_of.number if repeat_of is not None and permissions.can_view_case(user, repeat_of) else None,
        supporter_count=merging.supporters(case),
        assignments=list(selectors.case_assignments(case)) if staff_view else [],
        pending_extensions=(
            list(selectors.case_extension_requests(case).filter(status=ExtensionStatus.PENDING)) if staff_view else []
        ),
        callback=_callback(case) if staff_view else None,
    )


def _callback(case: Case) -> CallBack | None:
    callback = CallBack.objects.filter(case=case).first()
    if callback is not None:
        callback.case = case
    return callback


def after(request: HttpRequest, user: User, case: Case, event: CaseEvent) -> HttpResponse:
    """The answer to every action: the event it wrote and the case as the actor now sees it
    (null when the action took the case out of the actor's scope, e.g. a return)."""
    fresh = selectors.case_get_for_user(user, case.pk)
    staff_view = fresh is not None and in_staff_scope(user, fresh)
    body = TransitionOut(
        event=event_out(request, event, staff_view=staff_view),
        case=detail(request, user, fresh) if fresh is not None else None,
    )
    return respond(request, 200, body)


def case_after(request: HttpRequest, user: User, case_id: int) -> CaseDetail | None:
    """The case as the user sees it after an action that wrote no event of its own to return."""
    fresh = selectors.case_get_for_user(user, case_id)
    return detail(request, user, fresh) if fresh is not None else None
