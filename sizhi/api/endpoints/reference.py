"""Reference data a client needs to file and route a report: categories, the region tree, grids
(with point → grid lookup) and handling units. Public except units, which need a sign-in."""

from typing import Annotated, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema

from sizhi.api.auth import OPTIONAL_AUTH_OPENAPI, SIGNED_IN, SIGNED_IN_OR_ANONYMOUS
from sizhi.api.errors import ApiError, not_found
from sizhi.api.pagination import paginate
from sizhi.api.schemas import (
    CategoryNode,
    ErrorOut,
    GridOut,
    Page,
    PageQuery,
    RegionOut,
    UnitOut,
    category_ref,
    grid_out,
    region_out,
    unit_out,
)
from sizhi.cases.models import Category
from sizhi.cases.selectors import category_tree
from sizhi.regions.models import Region, RegionLevel
from sizhi.regions.selectors import grid_list_for_region, region_ancestors, region_by_code, regions_children
from sizhi.regions.spatial import locate_grid
from sizhi.units.selectors import units_in_region

router = Router(tags=["reference"], auth=SIGNED_IN_OR_ANONYMOUS)

ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 503: ErrorOut}
RegionCode = Annotated[str, Path(..., max_length=32, description="12 位统计用区划代码（可省略末尾的 0）")]


class LocateQuery(Schema):
    lat: float = Field(..., ge=-90, le=90, allow_inf_nan=False, description="纬度（WGS-84）")
    lng: float = Field(..., ge=-180, le=180, allow_inf_nan=False, description="经度（WGS-84）")


class UnitQuery(PageQuery):
    region: str = Field(..., max_length=32, description="区划代码：列出该区划及其下级的承办单位")


def _region_or_404(code: str) -> Region:
    region = region_by_code(code)
    if region is None:
        raise not_found()
    return region


def _category_node(category: Category) -> CategoryNode:
    children = getattr(category, "active_children", [])
    return CategoryNode(
        id=category.pk, code=category.code, name=category.name, children=[category_ref(c) for c in children]
    )


@router.get(
    "/categories", response={200: Page[CategoryNode], **ERRORS}, openapi_extra=OPTIONAL_AUTH_OPENAPI,
    summary="事件类别（树：大类及其小类）",
)
def category_list(request: HttpRequest, query: Query[PageQuery]) -> Any:
    return paginate(request, category_tree(), query, _category_node)


@router.get(
    "/regions", response={200: Page[RegionOut], **ERRORS}, openapi_extra=OPTIONAL_AUTH_OPENAPI,
    summary="顶层行政区划（市）",
)
def region_roots(request: HttpRequest, query: Query[PageQuery]) -> Any:
    roots = Region.objects.filter(level=RegionLevel.CITY).order_by("code")
    return paginate(request, roots, query, lambda r: region_out(r, []))


@router.get(
    "/regions/{code}", response={200: RegionOut, **ERRORS}, openapi_extra=OPTIONAL_AUTH_OPENAPI,
    summary="行政区划详情",
)
def region_get(request: HttpRequest, code: RegionCode) -> Any:
    region = _region_or_404(code)
    return region_out(region, region_ancestors(region))


@router.get(
    "/regions/{code}/children", response={200: Page[RegionOut], **ERRORS}, openapi_extra=OPTIONAL_AUTH_OPENAPI,
    summary="下级行政区划",
)
def region_children(request: HttpRequest, code: RegionCode, query: Query[PageQuery]) -> Any:
    region = _region_or_404(code)
    # Every child shares the same ancestors: read them once instead of once per row.
    ancestors = [*region_ancestors(region), region]
    return paginate(request, regions_children(region), query, lambda r: region_out(r, ancestors))


@router.get(
    "/regions/{code}/grids", response={200: Page[GridOut], **ERRORS}, openapi_extra=OPTIONAL_AUTH_OPENAPI,
    summary="区划内的网格（村/社区的网格，或其上级区划内的全部网格）",
)
def region_grids(request: HttpRequest, code: RegionCode, query: Query[PageQuery]) -> Any:
    region = _region_or_404(code)
    return paginate(request, grid_list_for_region(region), query, grid_out)


@router.get(
    "/grids/locate", response={200: GridOut, **ERRORS}, openapi_extra=OPTIONAL_AUTH_OPENAPI,
    summary="按坐标查找所在网格",
)
def grid_locate(request: HttpRequest, query: Query[LocateQuery]) -> Any:
    grid = locate_grid(query.lat, query.lng)
    if grid is None:
        raise ApiError(404, "grid_not_found", _("该位置不在任何网格内。"))
    return grid_out(grid)


@router.get("/units", auth=SIGNED_IN, response={200: Page[UnitOut], **ERRORS}, summary="承办单位")
def unit_list(request: HttpRequest, query: Query[UnitQuery]) -> Any:
    region = _region_or_404(query.region)
    return paginate(request, units_in_region(region), query, unit_out)
