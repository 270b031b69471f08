"""Dashboard pages (数据看板): the dashboard, the case list behind each of its numbers, the map,
the command-centre big screen and the JSON they refresh from.

Access: signed-in staff with a case-handling (non-admin) membership, exactly like the console;
citizens and the three administrator roles get the console's 403 page (or a 403 JSON error on
the JSON endpoints, which a page's fetch can show). Every figure comes from insight.dashboards,
which starts from the viewer's scope and never counts a secretary-mailbox case; these views
only parse the request and turn figures into links and JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from sizhi.accounts.models import User
from sizhi.accounts.selectors import is_staff_member
from sizhi.authz.console import console_hidden_from
from sizhi.cases import evaluation
from sizhi.cases.models import Category
from sizhi.cases.selectors import ORDERINGS
from sizhi.insight import dashboards
from sizhi.insight.dashboards import BreakdownRow, CaseFilter, Dashboard, Figure, Rate
from sizhi.regions.models import Grid, Region

PAGE_SIZE = 20
# Grid outlines per answer, and the largest box (square degrees, about a county) worth drawing
# them in: beyond it outlines are too small to tell apart, and the map says to zoom in.
GRID_FEATURES_MAX = 500
GRID_BBOX_MAX_AREA = 0.25
# Cases sent one by one; past this the map gets counts per cell (dashboards.map_points).
POINTS_MAX = 3000
# How often the big screen asks for fresh figures.
SCREEN_REFRESH_SECONDS = 60

ViewFunc = Callable[..., HttpResponseBase]


# --- access ----------------------------------------------------------------------------------------


def _login_url() -> str:
    try:
        return reverse(settings.LOGIN_URL)
    except NoReverseMatch:
        return "/accounts/login/"


def staff_page(view: ViewFunc) -> ViewFunc:
    """Pages: anonymous visitors log in first; the admin roles get 404 (sizhi.authz.console),
    anyone else without a case-handling role 403."""

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


def staff_json(view: ViewFunc) -> ViewFunc:
    """JSON for the pages' own scripts: a redirect to a login form would be useless to fetch()."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return _error(401, "not_authenticated", _("登录已失效，请重新登录。"))
        if console_hidden_from(request.user):
            return _error(404, "not_found", _("没有这些数据。"))
        if not is_staff_member(request.user):
            return _error(403, "forbidden", _("您无权查看这些数据。"))
        return view(request, *args, **kwargs)

    return wrapper


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": code, "message": message}, status=status)


def _user(request: HttpRequest) -> User:
    # staff_page / staff_json have run: the user is a signed-in accounts.User.
    return cast(User, request.user)


# --- links -----------------------------------------------------------------------------------------


def cases_url(f: CaseFilter) -> str:
    """insight:cases with the figure's filter: it lists exactly the cases the figure counts."""
    params = f.params()
    return reverse("insight:cases") + ("?" + urlencode(params) if params else "")


# Filters the console's case list can express on its own (status and warning only). The console
# list shows every channel, so its count can differ from the figure's by secretary-mailbox cases.
_CONSOLE_KEYS = frozenset({"status", "warning"})


def console_url(f: CaseFilter) -> str | None:
    params = f.params()
    if not params or not set(params) <= _CONSOLE_KEYS:
        return None
    return reverse("cases:list") + "?" + urlencode(params)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _figure(f: Figure) -> dict[str, Any]:
    return {"key": f.key, "label": f.label, "value": f.value, "url": cases_url(f.filter)}


def _rate(rate: Rate) -> dict[str, Any]:
    return {
        "key": rate.key, "label": rate.label, "value": rate.value, "text": _percent(rate.value),
        "numerator": _figure(rate.numerator), "denominator": _figure(rate.denominator),
    }


def _breakdown(rows: list[BreakdownRow]) -> list[dict[str, Any]]:
    return [
        {"key": r.key, "label": r.label, "total": _figure(r.total), "open": _figure(r.open),
         "overdue": _figure(r.overdue)}
        for r in rows
    ]


def _region_title(board: Dashboard) -> str:
    parent = board.regions.parent
    if board.regions.level == "grid":
        return _("各网格")
    if parent is None:
        return _("各管辖区域")
    return _("%(name)s各下级区域") % {"name": parent.name}


def _ranked(row: evaluation.Ranked, period: evaluation.Period) -> dict[str, Any]:
    query = urlencode(period.query())

    def figure(metric: str) -> str:
        return reverse("command:figure_cases", args=[row.kind, row.pk, metric]) + "?" + query

    f = row.figures
    return {
        "rank": row.rank, "name": row.name, "place": row.place,
        "score": row.score.total, "score_text": "—" if row.score.total is None else f"{row.score.total:.2f}",
        "ranking_url": reverse("command:ranking") + "?" + query,
        "rates": [
            {"label": _("响应率"), "text": _percent(f.response_rate), "url": figure("responded")},
            {"label": _("按期结案率"), "text": _percent(f.on_time_rate), "url": figure("closed_on_time")},
            {"label": _("满意率"), "text": _percent(f.satisfaction_rate), "url": figure("satisfied")},
        ],
        "dispatched": {"value": f["dispatched"], "url": figure("dispatched")},
    }


def payload(board: Dashboard, *, latest: list[Any] | None = None) -> dict[str, Any]:
    """The dashboard as JSON: what the page's charts draw and what the big screen refreshes."""
    win = board.window
    k = board.kpis
    data: dict[str, Any] = {
        "generated_at": timezone.localtime(timezone.now(), dashboards.platform_zone()).strftime("%Y-%m-%d %H:%M:%S"),
        "period": {
            "granularity": win.granularity, "label": win.label(),
            "first": win.first.isoformat(), "last": win.last.isoformat(),
        },
        "kpis": [_figure(f) for f in k.figures()],
        "satisfaction": _rate(k.satisfaction),
        "trend": {
            "labels": [p.label for p in board.trend],
            "created": [_figure(p.created) for p in board.trend],
            "closed": [_figure(p.closed) for p in board.trend],
            "names": {"created": _("上报"), "closed": _("办结")},
        },
        "categories": _breakdown(board.categories),
        "channels": _breakdown(board.channels),
        "regions": {"title": _region_title(board), "rows": _breakdown(board.regions.rows)},
        "statuses": [_figure(f) for f in board.statuses],
        "names": {"total": _("上报"), "open": _("未办结"), "overdue": _("红牌超期")},
    }
    if board.ranking is not None:
        r = board.ranking
        data["ranking"] = {
            "period": str(r.period), "units": r.units,
            "best": [_ranked(x, r.period) for x in r.best], "worst": [_ranked(x, r.period) for x in r.worst],
        }
    if latest is not None:
        data["latest"] = [
            {
                "number": c.number, "title": c.title, "region": c.region.name,
                "category": c.category.name if c.category else "", "status": c.get_status_display(),
                "warning": c.warning,
                "created_at": timezone.localtime(c.created_at, dashboards.platform_zone()).strftime("%m-%d %H:%M"),
                "url": reverse("cases:detail", args=[c.pk]),
            }
            for c in latest
        ]
    return data


# --- dashboard ---------------------------------------------------------------------------------------


def _granularities(current: str) -> list[dict[str, Any]]:
    labels = {"day": _("按日"), "week": _("按周"), "month": _("按月")}
    return [{"value": g, "label": labels[g], "current": g == current} for g in dashboards.GRANULARITIES]


@require_safe
@staff_page
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    granularity = dashboards.parse_granularity(request.GET.get("period"))
    board = dashboards.dashboard(user, granularity)
    data = payload(board)
    return render(request, "insight/dashboard.html", {
        "nav": "insight", "insight_nav": "dashboard", "board": board, "data": data,
        "granularities": _granularities(granularity),
        "trend_rows": list(zip(*(data["trend"][k] for k in ("labels", "created", "closed")), strict=True)),
    })


@never_cache
@require_safe
@staff_json
def dashboard_data(request: HttpRequest) -> JsonResponse:
    """The dashboard's figures for the page's own refresh (the big screen asks every minute).
    `ranking=1` adds the evaluation ranking, `latest=1` the newest cases for the ticker."""
    user = _user(request)
    granularity = dashboards.parse_granularity(request.GET.get("period"))
    board = dashboards.dashboard(user, granularity, with_ranking=request.GET.get("ranking") == "1")
    latest = dashboards.latest_cases(user) if request.GET.get("latest") == "1" else None
    return JsonResponse(payload(board, latest=latest), json_dumps_params={"ensure_ascii": False})


# --- the cases behind a figure -----------------------------------------------------------------------


@require_safe
@staff_page
def case_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    f = CaseFilter.from_params(request.GET)
    ordering = request.GET.get("ordering", "newest")
    if ordering not in ORDERINGS:
        ordering = "newest"
    qs = dashboards.drill_cases(user, f, ordering=ordering)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    # Names for the heading: at most one category, region and grid, each one query.
    categories = list(Category.objects.filter(pk=f.category)) if f.category is not None else []
    regions = list(Region.objects.filter(prefix=f.region)) if f.region else []
    grids = list(Grid.objects.filter(pk=f.grid).select_related("village")) if f.grid is not None else []
    return render(request, "insight/cases.html", {
        "nav": "insight", "insight_nav": "cases", "page": page, "filter": f,
        "conditions": dashboards.describe(f, categories=categories, regions=regions, grids=grids),
        "console_url": console_url(f),
    })


# --- map ---------------------------------------------------------------------------------------------


def parse_bbox(raw: str) -> dashboards.BBox | None:
    """`minLng,minLat,maxLng,maxLat` as finite numbers, clamped to the globe."""
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


def map_config(user: User, *, granularity: str = "day") -> dict[str, Any]:
    """What the map script needs: endpoints, tiles (only when the deployment names a server),
    where to open, and its words (so that the script holds no text of its own)."""
    bounds = dashboards.scope_bounds(user)
    placeholder = 987654321
    return {
        "gridsUrl": reverse("insight:map_grids"),
        "pointsUrl": reverse("insight:map_points"),
        "detailUrl": reverse("cases:detail", args=[placeholder]).replace(str(placeholder), "{id}"),
        "tileUrl": settings.SIZHI_TILE_URL,
        "attribution": settings.SIZHI_TILE_ATTRIBUTION,
        "center": list(settings.SIZHI_MAP_CENTER),
        "bounds": [[bounds[1], bounds[0]], [bounds[3], bounds[2]]] if bounds else None,
        "period": granularity,
        "labels": {
            "grids": _("网格（按未办结案件着色）"), "points": _("案件点位"), "heat": _("热力"),
            "open": _("未办结"), "overdue": _("红牌超期"), "cases": _("件"),
            "zoomForGrids": _("范围过大，放大地图后显示网格。"),
            "gridsTruncated": _("网格较多，仅显示部分，请放大地图。"),
            "cells": _("案件较多，已按区域汇总，放大地图查看单个案件。"),
            "listCases": _("查看案件列表"), "layerOpen": _("未办结案件"), "layerPeriod": _("本期上报案件"),
            "failed": _("地图数据加载失败，请稍后重试。"),
        },
    }


@require_safe
@staff_page
def map_page(request: HttpRequest) -> HttpResponse:
    granularity = dashboards.parse_granularity(request.GET.get("period"))
    return render(request, "insight/map.html", {
        "nav": "insight", "insight_nav": "map", "map_config": map_config(_user(request), granularity=granularity),
        "granularities": _granularities(granularity),
    })


def _bbox_or_error(request: HttpRequest) -> dashboards.BBox | JsonResponse:
    bbox = parse_bbox(request.GET.get("bbox", ""))
    if bbox is None:
        return _error(400, "bbox_invalid", _("请提供 bbox=最小经度,最小纬度,最大经度,最大纬度。"))
    return bbox


@require_safe
@staff_json
def map_grids(request: HttpRequest) -> JsonResponse:
    """The viewer's grids in the box with their open and red-card overdue counts, as GeoJSON;
    at most GRID_FEATURES_MAX of them, none when the box is wider than a county (`truncated`
    then tells the map to zoom in)."""
    bbox = _bbox_or_error(request)
    if isinstance(bbox, JsonResponse):
        return bbox
    min_lng, min_lat, max_lng, max_lat = bbox
    if (max_lng - min_lng) * (max_lat - min_lat) > GRID_BBOX_MAX_AREA:
        rows: list[dashboards.GridCounts] = []
        truncated, too_large = True, True
    else:
        rows, truncated = dashboards.grids_with_counts(_user(request), bbox, limit=GRID_FEATURES_MAX)
        too_large = False
    features = []
    for row in rows:
        open_filter = CaseFilter(state="open", grid=row.grid.pk)
        features.append({
            "type": "Feature",
            "geometry": row.grid.boundary,
            "properties": {
                "id": row.grid.pk, "name": f"{row.grid.village.name} {row.grid.name}",
                "open": row.open, "overdue": row.overdue,
                "open_url": cases_url(open_filter),
                "overdue_url": cases_url(CaseFilter(state="open", warning="red", grid=row.grid.pk)),
            },
        })
    response = JsonResponse(
        {"type": "FeatureCollection", "features": features, "truncated": truncated, "too_large": too_large},
        json_dumps_params={"ensure_ascii": False},
    )
    # Scoped data: the browser may reuse it briefly while panning, no shared cache may keep it.
    response["Cache-Control"] = "private, max-age=30"
    return response


@require_safe
@staff_json
def map_points(request: HttpRequest) -> JsonResponse:
    """Located cases in the box: `layer=open` (default) or `layer=period` (reported in the
    dashboard period); one by one up to POINTS_MAX, otherwise counts per cell."""
    bbox = _bbox_or_error(request)
    if isinstance(bbox, JsonResponse):
        return bbox
    layer: dashboards.MapLayer = "period" if request.GET.get("layer") == "period" else "open"
    win = dashboards.window(dashboards.parse_granularity(request.GET.get("period")))
    result = dashboards.map_points(_user(request), bbox, layer, win, limit=POINTS_MAX)
    response = JsonResponse(
        {
            "mode": result.mode, "total": result.total, "url": cases_url(result.filter),
            "points": result.points, "cells": result.cells,
        },
        json_dumps_params={"ensure_ascii": False},
    )
    response["Cache-Control"] = "private, max-age=30"
    return response


# --- big screen --------------------------------------------------------------------------------------


@require_safe
@staff_page
def screen(request: HttpRequest) -> HttpResponse:
    """The command-centre wall: full-screen and dark, refreshed in place every minute."""
    user = _user(request)
    granularity = dashboards.parse_granularity(request.GET.get("period"))
    board = dashboards.dashboard(user, granularity, with_ranking=False)
    data = payload(board, latest=dashboards.latest_cases(user))
    config = {
        "dataUrl": reverse("insight:data") + "?" + urlencode({"period": granularity, "latest": "1"}),
        "refreshSeconds": SCREEN_REFRESH_SECONDS,
        "map": map_config(user, granularity=granularity),
        "labels": {"stale": _("数据刷新失败，显示的是 %(time)s 的数据。"), "expired": _("登录已失效，请重新登录。")},
    }
    return render(request, "insight/screen.html", {"data": data, "config": config, "board": board})
