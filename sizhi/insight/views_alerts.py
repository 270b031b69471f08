"""Early-warning and briefing pages (预警, 研判报告) under /console/alerts/.

Access: signed-in staff with a case-handling (non-admin) membership; citizens and the three
administrator roles get the console's 403 page. Alerts are those whose place lies in one of the
viewer's scopes, briefings those of regions inside one (sizhi.insight.alerts / .briefings); an
alert or briefing outside them is a 404, exactly like a case. Acknowledging is for the people
alerts are raised to: dispatchers and leaders whose scope holds the place.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from sizhi.accounts.models import User
from sizhi.accounts.selectors import is_staff_member
from sizhi.authz.console import console_hidden_from
from sizhi.cases.exports import XLSX_CONTENT_TYPE
from sizhi.insight import alerts, briefings
from sizhi.insight.models import Alert, AlertKind, Briefing, BriefingPeriod

PAGE_SIZE = 20

ViewFunc = Callable[..., HttpResponseBase]


def _login_url() -> str:
    try:
        return reverse(settings.LOGIN_URL)
    except NoReverseMatch:
        return "/accounts/login/"


def staff_page(view: ViewFunc) -> ViewFunc:
    """Anonymous visitors log in first; the admin roles get 404 (sizhi.authz.console), anyone
    else without a case-handling role 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), _login_url())
        if console_hidden_from(request.user):
            raise Http404
        if not is_staff_member(request.user):
            return render(request, "cases/403.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _context(section: str, **extra: Any) -> dict[str, Any]:
    return {"nav": "insight", "alerts_nav": section, **extra}


# --- alerts --------------------------------------------------------------------------------------

ACK_FILTERS = {"": None, "no": False, "yes": True}


@require_safe
@staff_page
def alert_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    kind = kind if kind in AlertKind.values else ""
    ack = request.GET.get("acknowledged", "")
    ack = ack if ack in ACK_FILTERS else ""
    qs = alerts.alerts_for_user(_user(request), kind=kind or None, acknowledged=ACK_FILTERS[ack]).order_by(
        F("acknowledged_at").asc(nulls_first=True), "-created_at", "-id"
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    user = _user(request)
    for alert in page.object_list:
        alert.can_acknowledge = alerts.can_acknowledge(user, alert)  # type: ignore[attr-defined]
    return render(request, "insight/alerts/list.html", _context(
        "alerts", page=page, kinds=AlertKind.choices, kind=kind, acknowledged=ack,
    ))


def _alert_or_404(request: HttpRequest, pk: int) -> Alert:
    alert = alerts.alerts_for_user(_user(request)).filter(pk=pk).first()
    if alert is None:
        raise Http404
    return alert


@require_safe
@staff_page
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert_or_404(request, pk)
    return render(request, "insight/alerts/detail.html", _context(
        "alerts", alert=alert, can_acknowledge=alerts.can_acknowledge(_user(request), alert),
    ))


@require_POST
@staff_page
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponseBase:
    alert = _alert_or_404(request, pk)
    user = _user(request)
    if not alerts.can_acknowledge(user, alert):
        return render(request, "cases/403.html", status=403)
    if alerts.alert_acknowledge(alert=alert, user=user):
        messages.success(request, _("已确认该预警。"))
    else:
        messages.info(request, _("该预警已由他人确认。"))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = reverse("alerts:list")
    return redirect(target)


# --- briefings -----------------------------------------------------------------------------------


@require_safe
@staff_page
def briefing_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    qs = briefings.briefings_for_user(user).order_by("-start", "period", "region_code")
    period = request.GET.get("period", "")
    period = period if period in BriefingPeriod.values else ""
    if period:
        qs = qs.filter(period=period)
    regions = list(briefings.regions_for_user(user))
    region = request.GET.get("region", "")
    if region and any(r.code == region for r in regions):
        qs = qs.filter(region__code=region)
    else:
        region = ""
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "insight/briefings/list.html", _context(
        "briefings", page=page, periods=BriefingPeriod.choices, period=period, regions=regions, region=region,
    ))


def _briefing_or_404(request: HttpRequest, pk: int) -> Briefing:
    briefing = briefings.briefings_for_user(_user(request)).filter(pk=pk).first()
    if briefing is None:
        raise Http404
    return briefing


@require_safe
@staff_page
def briefing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    briefing = _briefing_or_404(request, pk)
    tables = briefings.tables(briefing)
    rows = [
        (table, [
            ([briefings.show(v) for v in row], table.case_ids[i] if i < len(table.case_ids) else None)
            for i, row in enumerate(table.rows)
        ])
        for table in tables
    ]
    return render(request, "insight/briefings/detail.html", _context(
        "briefings", briefing=briefing, title=briefings.title_of(briefing),
        figures=[(label, briefings.show(value)) for label, value in briefings.figure_rows(briefing)],
        tables=rows, chart=briefings.chart_data(briefing),
    ))


def _filename(briefing: Briefing, extension: str) -> str:
    return f"briefing-{briefing.region_code}-{briefing.period}-{briefing.start:%Y%m%d}.{extension}"


@require_safe
@staff_page
def briefing_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    briefing = _briefing_or_404(request, pk)
    response = HttpResponse(briefings.briefing_pdf(briefing), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_filename(briefing, "pdf")}"'
    return response


@require_safe
@staff_page
def briefing_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    briefing = _briefing_or_404(request, pk)
    response = HttpResponse(briefings.briefing_workbook(briefing), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename(briefing, "xlsx")}"'
    return response
