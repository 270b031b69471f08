"""The citizen side (群众端): the 1+10 home page, 有事您说话 (report a problem), my reports, and
the public case page reached by tracking code.

Each view parses its input with a form, calls one service of cases.services and turns a
CaseError into a message beside the field it names; no business rule lives here. Anonymous
reporters come back only with their tracking code, so every page reached by code is limited
per client address against guessing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sizhi.accounts import throttle
from sizhi.accounts.models import User
from sizhi.audit.middleware import mark_repeated_refusal
from sizhi.audit.services import suppress_source
from sizhi.cases import merging, selectors, services
from sizhi.cases.errors import CaseError
from sizhi.cases.models import Case, CaseEvent, Category
from sizhi.cases.text import clean_text
from sizhi.cases.workflow import OPEN_STATUSES, CaseAction, CaseStatus, Channel, RejectionKind, Satisfaction
from sizhi.insight.duplicates import similar_open_cases
from sizhi.regions.models import Grid
from sizhi.web import selectors as web_selectors
from sizhi.web.forms import (
    REPORT_ERROR_FIELDS,
    CategoryQuestions,
    RateForm,
    ReopenForm,
    ReportForm,
    TrackLookupForm,
)

# Report intake, one budget with the API (accounts.throttle): per address, per account and per
# phone, enough to stop one client from flooding the dispatchers' queue.
REPORTS_PER_USER = throttle.REPORTS_PER_USER
REPORTS_PER_ADDRESS = throttle.REPORTS_PER_ADDRESS
REPORTS_PER_PHONE = throttle.REPORTS_PER_PHONE
# Tracking-code lookups: every lookup through the form and every miss on a tracking URL counts.
TRACK_LOOKUPS = throttle.Limit("track-address", 30, 10 * 60)
# "Same problem?" lookups while a report is typed (debounced by the page): enough for a few
# reports from one shared carrier address, not for harvesting the map of open cases.
SIMILAR_LOOKUPS = throttle.Limit("similar-address", 120, 10 * 60)
SIMILAR_MIN_TEXT = 8
SIMILAR_MAX_TEXT = 500
SIMILAR_LIMIT = 5
SUPPORTS_PER_USER = throttle.SUPPORTS_PER_USER  # shared with the API
GRID_FEATURES_MAX = 500
# Square degrees (about 0.5° × 0.5°, a county): beyond that, outlines are too small to tell apart
# and would only cost bandwidth, so the map is asked to zoom in instead.
GRID_BBOX_MAX_AREA = 0.25
MY_REPORTS_PAGE_SIZE = 20
RECEIPT_SESSION_KEY = "web_last_report"


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) and request.user.is_authenticated else None


# --- home --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HomeItem:
    title: str | Promise
    hint: str | Promise
    url: str
    testid: str
    primary: bool = False


@dataclass(frozen=True)
class HomeSection:
    title: str | Promise
    testid: str
    items: list[HomeItem]


def _home_sections() -> list[HomeSection]:
    """The three sections of the 1+10 app with the items that work today. A section without a
    working item is left out rather than filled with "coming soon" tiles."""
    sections = [
        HomeSection(gettext_lazy("党建引领"), "section-party", []),
        HomeSection(gettext_lazy("四治并进"), "section-governance", []),
        HomeSection(
            gettext_lazy("服务进村"), "section-services",
            [
                HomeItem(gettext_lazy("有事您说话"), gettext_lazy("道路、环境、安全等问题，随手拍照反映"),
                         reverse("web:report"), "home-report", primary=True),
                HomeItem(gettext_lazy("书记信箱"), gettext_lazy("写信给村、乡镇、县委书记，可匿名"),
                         reverse("mailbox:write"), "home-mailbox"),
                HomeItem(gettext_lazy("我的反映"), gettext_lazy("查看我提交过的反映和办理进度"),
                         reverse("web:my_reports"), "home-my-reports"),
                HomeItem(gettext_lazy("进度查询"), gettext_lazy("凭查询码查看办理进度、评价结果"),
                         reverse("web:track"), "home-track"),
            ],
        ),
    ]
    return [s for s in sections if s.items]


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html", {"sections": _home_sections()})


# --- report (有事您说话) -------------------------------------------------------------------------


def _report_refusal(request: HttpRequest) -> throttle.Refusal | None:
    user = _user(request)
    return throttle.hit_all([
        (REPORTS_PER_ADDRESS, throttle.client_address(request)),
        (REPORTS_PER_USER, str(user.pk) if user is not None else None),
        (REPORTS_PER_PHONE, throttle.phone_subject(user.phone) if user is not None else None),
    ])


def _asks_anonymity(request: HttpRequest, user: User | None) -> bool:
    return user is None or request.POST.get("is_anonymous", "") not in ("", "off", "false", "0")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """Logged-out visitors may report, always anonymously: a villager with a problem should not
    have to open an account first. The receipt's tracking code is their way back."""
    user = _user(request)
    if request.method != "POST":
        return _render_report(request, ReportForm())

    if _asks_anonymity(request, user):
        # An anonymous report keeps no source address, not even in the audit trail.
        suppress_source(request)
    form = ReportForm(request.POST, request.FILES)
    valid = form.is_valid()
    # The chosen category's questions come back with the answers typed, whatever else was wrong.
    questions = CategoryQuestions(form.cleaned_data.get("category"), request.POST)
    if not questions.check_required() or not valid:
        if "idempotency_key" in form.errors:
            form.renew_key()
        return _render_report(request, form, questions=questions, status=400)
    refusal = _report_refusal(request)
    if refusal is not None:
        if refusal.repeated:
            mark_repeated_refusal(request)
        form.add_error(None, _("提交过于频繁，请 %(n)d 分钟后再试。如情况紧急，请拨打 12345 或 110。") % {
            "n": refusal.minutes})
        response = _render_report(request, form, questions=questions, status=429)
        response["Retry-After"] = str(refusal.retry_after)
        return response

    data = form.cleaned_data
    try:
        case = services.report_submit(
            reporter=user,
            description=data["description"],
            category=data["category"],
            lat=data["lat"],
            lng=data["lng"],
            address=data["address"],
            photos=data["photos"],
            is_anonymous=data["is_anonymous"] or user is None,
            idempotency_key=str(data["idempotency_key"]),
            attributes=questions.answers(),
        )
    except CaseError as err:
        if err.code == "attribute_invalid":
            questions.add_error(str(err.message))
        else:
            form.add_error(REPORT_ERROR_FIELDS.get(err.field or ""), str(err.message))
        if err.code == "idempotency_key_reused":
            form.renew_key()
        return _render_report(request, form, questions=questions, status=err.http_status)
    except OSError:
        # The upload volume is full or unreachable: the transaction rolled back, nothing is kept.
        form.add_error(None, _("暂时无法保存照片，请稍后再试；您填写的内容没有丢失。如情况紧急，请拨打 12345。"))
        response = _render_report(request, form, questions=questions, status=503)
        response["Retry-After"] = "60"
        return response
    if case.is_anonymous and user is not None:
        # A signed-in session is a row naming the account: holding the code there would tie the
        # account to the anonymous case. The receipt is the answer itself (a repeated POST
        # carries the same idempotency key and shows the same receipt).
        return render(request, "web/report_done.html", {"case": case})
    request.session[RECEIPT_SESSION_KEY] = case.tracking_code
    return redirect("web:report_done")


def _render_report(
    request: HttpRequest, form: ReportForm, *, questions: CategoryQuestions | None = None, status: int = 200
) -> HttpResponse:
    # Browsers cannot refill a file input, so after an error the photos must be chosen again.
    photos_dropped = form.is_bound and bool(request.FILES.getlist("photos"))
    context = {
        "form": form,
        "questions": questions or CategoryQuestions(None),
        "photos_dropped": photos_dropped,
        "max_photos": settings.SIZHI_MAX_PHOTOS,
        "max_photo_mb": settings.SIZHI_MAX_PHOTO_BYTES // (1024 * 1024),
        "similar_min_text": SIMILAR_MIN_TEXT,
    }
    return render(request, "web/report.html", context, status=status)


@never_cache
@require_safe
def report_questions(request: HttpRequest) -> HttpResponse:
    """The further questions of one category as a fragment of the report form, fetched by the
    page when the category changes (the page renders the same fragment after a refused POST)."""
    raw = request.GET.get("category", "")
    category: Category | None = None
    if raw:
        if not raw.isdigit() or len(raw) > 18:
            raise Http404
        category = Category.objects.filter(pk=int(raw), is_active=True).first()
        if category is None:
            raise Http404
    return render(request, "web/_questions.html", {"questions": CategoryQuestions(category)})


# --- "same problem?" and "me too" ---------------------------------------------------------------


def _json_error(code: str, message: str, status: int, **extra: Any) -> JsonResponse:
    return JsonResponse({"ok": False, "error": code, "message": message, **extra}, status=status)


def _throttled_json(limit: throttle.Limit, subject: str, message: str) -> JsonResponse:
    wait = limit.retry_after(subject)
    response = _json_error("throttled", message, 429, retry_after=wait)
    response["Retry-After"] = str(wait)
    return response


def _coordinate(raw: str, low: float, high: float) -> float | None:
    try:
        value = float(raw) if len(raw) <= 32 else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


@never_cache
@require_safe
def similar(request: HttpRequest) -> JsonResponse:
    """Open cases near the chosen point that read like the report being typed, so that a
    resident can say "me too" instead of filing it again. Each item carries the public title,
    the status label, the distance in metres, the day it was reported and where to say "me
    too": never who reported it, never a letter to the secretary, never a finished case."""
    address = throttle.client_address(request)
    if not throttle.hit(SIMILAR_LOOKUPS, address):
        return _throttled_json(SIMILAR_LOOKUPS, address, _("查询过于频繁，请稍后再试。"))
    lat = _coordinate(request.GET.get("lat", ""), -90.0, 90.0)
    lng = _coordinate(request.GET.get("lng", ""), -180.0, 180.0)
    if lat is None or lng is None:
        return _json_error("location_invalid", _("位置坐标无效，请在地图上重新选点。"), 400)
    text = clean_text(request.GET.get("text", ""))[:SIMILAR_MAX_TEXT]
    if len(text) < SIMILAR_MIN_TEXT:
        return JsonResponse({"items": []})
    # No visible_to: residents may see the public titles of open cases near them.
    suggestions = similar_open_cases(text=text, lat=lat, lng=lng, limit=SIMILAR_LIMIT)
    found = (
        Case.objects.filter(pk__in=[s.case_id for s in suggestions], status__in=list(OPEN_STATUSES))
        .exclude(channel=Channel.MAILBOX)
        .only("pk", "title", "status", "created_at")
        .in_bulk()
    )
    items = [
        {
            "title": found[s.case_id].title,
            "status": str(found[s.case_id].get_status_display()),
            "distance_m": round(s.distance_m),
            "created": timezone.localtime(found[s.case_id].created_at).date().isoformat(),
            "support_url": reverse("web:case_support", args=[s.case_id]),
        }
        for s in suggestions
        if s.case_id in found
    ][:SIMILAR_LIMIT]
    return JsonResponse({"items": items})


@require_POST
def case_support(request: HttpRequest, pk: int) -> JsonResponse:
    """我也遇到（附议）: a signed-in resident joins an open case and will hear its outcome. JSON
    for the report page's script; a visitor who is not signed in is sent to log in."""
    user = _user(request)
    if user is None:
        login = f"{reverse('accounts:login')}?{urlencode({'next': reverse('web:report')})}"
        return _json_error("login_required", _("请先登录，再附议。"), 401, login_url=login)
    case = Case.objects.filter(pk=pk).exclude(channel=Channel.MAILBOX).first()
    if case is None:
        return _json_error("not_found", _("没有找到这个问题。"), 404)
    if not throttle.hit(SUPPORTS_PER_USER, str(user.pk)):
        return _throttled_json(SUPPORTS_PER_USER, str(user.pk), _("操作过于频繁，请稍后再试。"))
    try:
        merging.case_support(case=case, user=user)
    except CaseError as err:
        return _json_error(err.code, str(err.message), err.http_status)
    return JsonResponse({
        "ok": True,
        "message": _("已附议，办理结果会通知您。同一问题无需再次提交。"),
        "count": merging.supporters(case),
    })


@never_cache
@require_safe
def report_done(request: HttpRequest) -> HttpResponseBase:
    """The receipt, kept in the session rather than the URL so that the tracking code does not
    sit in the browser history of a shared phone."""
    code = request.session.get(RECEIPT_SESSION_KEY)
    case = selectors.case_by_tracking_code(code) if isinstance(code, str) else None
    if case is None:
        return redirect("web:report")
    return render(request, "web/report_done.html", {"case": case})


# --- my reports --------------------------------------------------------------------------------


@login_required
@require_safe
def my_reports(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.cases_of_reporter(request.user), MY_REPORTS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/my_reports.html", {"page": page})


# --- tracking ----------------------------------------------------------------------------------


def _too_many_lookups(request: HttpRequest) -> HttpResponse:
    wait = TRACK_LOOKUPS.retry_after(throttle.client_address(request))
    response = render(
        request, "web/track.html",
        {"form": TrackLookupForm(), "throttled": True, "window_minutes": max(1, math.ceil(wait / 60))},
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response


def _case_for_code(request: HttpRequest, code: str) -> Case | HttpResponse:
    """The case of a tracking code from a URL; a miss counts against the address's lookups, and
    an address over its limit is not even looked up, so that hits and misses look alike."""
    address = throttle.client_address(request)
    if throttle.exceeded(TRACK_LOOKUPS, address):
        return _too_many_lookups(request)
    case = selectors.case_by_tracking_code(code)
    if case is None:
        throttle.hit(TRACK_LOOKUPS, address)
        raise Http404
    if case.is_anonymous:
        # Whoever follows an anonymous report up is, most likely, its reporter: the audit
        # record of a rating or reopening must not tie their address to the case either.
        suppress_source(request)
    return case


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def track(request: HttpRequest) -> HttpResponse | HttpResponseBase:
    """The lookup form. POST, so that codes do not end up in access logs as query strings."""
    if request.method != "POST":
        return render(request, "web/track.html", {"form": TrackLookupForm()})
    address = throttle.client_address(request)
    if throttle.exceeded(TRACK_LOOKUPS, address):
        return _too_many_lookups(request)
    form = TrackLookupForm(request.POST)
    if not form.is_valid():
        return render(request, "web/track.html", {"form": form}, status=400)
    throttle.hit(TRACK_LOOKUPS, address)
    case = selectors.case_by_tracking_code(form.cleaned_data["code"])
    if case is None:
        form.add_error("code", _("没有找到对应的反映，请核对查询码。"))
        return render(request, "web/track.html", {"form": form}, status=404)
    return redirect("web:case_track", tracking_code=case.tracking_code)


@dataclass(frozen=True)
class TimelineRow:
    action: str
    label: str
    at: datetime
    unit: str
    detail: str
    reason: str


# Actions the reporter takes; their rows name the reporter's role, never a person.
_CITIZEN_ACTIONS = frozenset({CaseAction.SUBMIT, CaseAction.RATE, CaseAction.REOPEN})


def _timeline_row(event: CaseEvent) -> TimelineRow:
    """An event as the public sees it: what happened, when, which unit, and the explanation.
    The staff member's own name is never shown, only their unit."""
    if event.action in _CITIZEN_ACTIONS:
        unit = _("反映人")
    elif event.actor_unit is not None:
        unit = event.actor_unit.name
    else:
        unit = _("平台工作人员")
    data: dict[str, Any] = event.data if isinstance(event.data, dict) else {}
    detail = ""
    if event.action == CaseAction.SUPPORT:
        # Supporters are never named: a count, and whether a report was merged in.
        unit = _("群众")
        count = data.get("count")
        counted = isinstance(count, int) and not isinstance(count, bool)
        if data.get("merged"):
            detail = _("一件相同问题的反映并入本案")
            if counted:
                detail += _("，共 %(n)d 人附议") % {"n": count}
        elif counted:
            detail = _("共 %(n)d 人附议") % {"n": count}
    elif event.action == CaseAction.MERGE and data.get("into"):
        detail = _("并入案件 %(number)s") % {"number": data["into"]}
    elif event.action == CaseAction.DISPATCH and data.get("unit_name"):
        detail = _("派遣至：%(unit)s") % {"unit": data["unit_name"]}
    elif event.action == CaseAction.RATE and data.get("satisfaction") in Satisfaction.values:
        detail = str(Satisfaction(data["satisfaction"]).label)
    elif event.action == CaseAction.REJECT and data.get("kind") in RejectionKind.values:
        detail = str(RejectionKind(data["kind"]).label)
    return TimelineRow(
        action=event.action, label=event.get_action_display(), at=event.created_at, unit=unit,
        detail=detail, reason=event.reason,
    )


def _reporter_actor(request: HttpRequest, case: Case) -> User | None:
    """The signed-in user as actor only when they are the case's named reporter: anyone else
    holding the code (or the author of an anonymous report) acts without a name, so that no
    account gets linked to a case it was not linked to."""
    user = _user(request)
    return user if user is not None and case.reporter_id == user.pk else None


def _render_case(
    request: HttpRequest, case: Case, *, rate_form: RateForm | None = None, reopen_form: ReopenForm | None = None,
    error: str = "", status: int = 200,
) -> HttpResponse:
    can_rate = case.status == CaseStatus.CLOSED and case.rated_at is None
    can_reopen = services.can_reopen_now(case)
    primary = case.duplicate_of if case.status == CaseStatus.MERGED else None
    context = {
        "case": case,
        "primary": primary,
        "primary_url": (
            reverse("web:case_track", args=[primary.tracking_code])
            if primary is not None and _holds_code(request, primary) else ""
        ),
        "photos": list(web_selectors.report_photos(case)),
        "timeline": [_timeline_row(e) for e in selectors.case_timeline(case, public_only=True)],
        "rate_form": (rate_form or RateForm()) if can_rate else None,
        "satisfaction_choices": Satisfaction.choices,
        "reopen_form": (reopen_form or ReopenForm()) if can_reopen else None,
        "reopen_deadline": services.reopen_deadline(case) if can_reopen else None,
        "is_reporter": _reporter_actor(request, case) is not None,
        "error": error,
    }
    return render(request, "web/case_track.html", context, status=status)


def _holds_code(request: HttpRequest, case: Case) -> bool:
    """Whether this viewer already has the case's tracking code: its named reporter (who finds it
    under 我的反映) or the browser whose receipt it was. A merged report links to its primary
    case's page only then; anyone else learns the primary's status, not its code."""
    user = _user(request)
    if user is not None and case.reporter_id == user.pk:
        return True
    return request.session.get(RECEIPT_SESSION_KEY) == case.tracking_code


@never_cache
@require_safe
def case_track(request: HttpRequest, tracking_code: str) -> HttpResponse:
    found = _case_for_code(request, tracking_code)
    if isinstance(found, HttpResponse):
        return found
    return _render_case(request, found)


@require_safe
def case_photo(request: HttpRequest, tracking_code: str, attachment_id: int) -> HttpResponse | FileResponse:
    """A report photo, streamed through the storage API for the case of this tracking code
    only: media files are never linked directly, so access cannot be had by guessing a path."""
    found = _case_for_code(request, tracking_code)
    if isinstance(found, HttpResponse):
        return found
    attachment = web_selectors.report_photos(found).filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.storage.open(attachment.file.name, "rb")
    except OSError as exc:
        raise Http404 from exc
    # cases.photos re-encoded every stored photo as JPEG; anything else is not served as an image.
    content_type = attachment.content_type
    if not content_type.startswith("image/"):
        content_type = "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{found.number}-{attachment.pk}.{attachment.extension}"'
    response["Cache-Control"] = "private, max-age=600"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_POST
def case_rate(request: HttpRequest, tracking_code: str) -> HttpResponseBase:
    found = _case_for_code(request, tracking_code)
    if isinstance(found, HttpResponse):
        return found
    form = RateForm(request.POST)
    if not form.is_valid():
        return _render_case(request, found, rate_form=form, status=400)
    try:
        services.case_rate(
            case=found, actor=_reporter_actor(request, found), satisfaction=form.cleaned_data["satisfaction"],
            comment=form.cleaned_data["comment"], tracking_code=tracking_code,
        )
    except CaseError as err:
        return _render_case(request, _reload(found), rate_form=form, error=str(err.message), status=err.http_status)
    messages.success(request, _("感谢您的评价。"))
    return redirect("web:case_track", tracking_code=found.tracking_code)


@require_POST
def case_reopen(request: HttpRequest, tracking_code: str) -> HttpResponseBase:
    found = _case_for_code(request, tracking_code)
    if isinstance(found, HttpResponse):
        return found
    form = ReopenForm(request.POST)
    if not form.is_valid():
        return _render_case(request, found, reopen_form=form, status=400)
    try:
        services.case_reopen(
            case=found, actor=_reporter_actor(request, found), reason=form.cleaned_data["reason"],
            tracking_code=tracking_code,
        )
    except CaseError as err:
        return _render_case(
            request, _reload(found), reopen_form=form, error=str(err.message), status=err.http_status
        )
    messages.success(request, _("已申请重新办理，我们会尽快处理。"))
    return redirect("web:case_track", tracking_code=found.tracking_code)


def _reload(case: Case) -> Case:
    # After a refused or conflicting action the page shows the case as it is now.
    return selectors.case_by_tracking_code(case.tracking_code) or case


# --- map ---------------------------------------------------------------------------------------


def _parse_bbox(raw: str) -> tuple[float, float, float, float] | None:
    """`minLng,minLat,maxLng,maxLat` as finite numbers, clamped to the globe (a map panned past
    the antimeridian asks for longitudes beyond 180)."""
    parts = raw.split(",") if len(raw) <= 200 else []
    if len(parts) != 4:
        return None
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return None
    if not all(math.isfinite(n) for n in numbers):
        return None
    min_lng, min_lat, max_lng, max_lat = numbers
    min_lng, max_lng = max(min_lng, -180.0), min(max_lng, 180.0)
    min_lat, max_lat = max(min_lat, -90.0), min(max_lat, 90.0)
    if min_lng > max_lng or min_lat > max_lat:
        return None
    return min_lng, min_lat, max_lng, max_lat


@require_safe
def grids_geojson(request: HttpRequest) -> JsonResponse:
    """Grid outlines in the visible map area, so that the report map is usable with no tile
    server at all. Boundary and name only, at most GRID_FEATURES_MAX of them; `truncated` tells
    the map that there is more to see when zoomed in."""
    bbox = _parse_bbox(request.GET.get("bbox", ""))
    if bbox is None:
        return JsonResponse(
            {"error": "bbox_invalid", "message": _("请提供 bbox=最小经度,最小纬度,最大经度,最大纬度。")}, status=400
        )
    min_lng, min_lat, max_lng, max_lat = bbox
    grids: list[Grid]
    if (max_lng - min_lng) * (max_lat - min_lat) > GRID_BBOX_MAX_AREA:
        grids, truncated = [], True
    else:
        grids, truncated = web_selectors.grids_in_bbox(*bbox, limit=GRID_FEATURES_MAX)
    features = [
        {
            "type": "Feature",
            "geometry": grid.boundary,
            "properties": {"name": f"{grid.village.name} {grid.name}"},
        }
        for grid in grids
    ]
    response = JsonResponse({"type": "FeatureCollection", "features": features, "truncated": truncated})
    response["Cache-Control"] = "public, max-age=60"
    return response
