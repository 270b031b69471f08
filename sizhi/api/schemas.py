"""Typed request and response shapes of the JSON API, and the functions that fill the response
shapes from model rows. The OpenAPI document is generated from these same classes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar

from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Schema

from sizhi.accounts.models import User
from sizhi.accounts.phones import mask_phone
from sizhi.cases.models import Attachment, Case, CaseEvent, Category
from sizhi.cases.workflow import CaseAction, CaseStatus, RejectionKind, Satisfaction
from sizhi.regions.models import Grid, Region
from sizhi.units.models import HandlingUnit

T = TypeVar("T")

# Transport limits: they only bound what a request may carry. The case services decide what a
# valid reason or description is, and answer with their own codes (reason_too_long, …).
TEXT_CAP = 10_000
SHORT_CAP = 200
MAX_ID = 2**63 - 1
MAX_PAGE = 100_000


# --- errors --------------------------------------------------------------------------------------


class ErrorDetail(Schema):
    code: str = Field(..., description="稳定的错误码，例如 case_accept_not_allowed、validation_error")
    message: str = Field(..., description="面向用户的说明（用户语言）")
    fields: dict[str, str] = Field(default_factory=dict, description="字段名 → 该字段的错误说明")


class ErrorOut(Schema):
    error: ErrorDetail


# --- pagination ----------------------------------------------------------------------------------


class PageQuery(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE, description="页码，从 1 开始")
    page_size: int = Field(20, ge=1, le=100, description="每页条数（最多 100）")


class Page(Schema, Generic[T]):
    count: int
    next: str | None
    previous: str | None
    results: list[T]


# --- reference data ------------------------------------------------------------------------------


class CategoryRef(Schema):
    id: int
    code: str
    name: str


class CategoryNode(Schema):
    id: int
    code: str
    name: str
    children: list[CategoryRef]


class RegionRef(Schema):
    code: str
    name: str
    level: str


class RegionOut(Schema):
    code: str
    name: str
    level: str
    level_label: str
    kind: str
    parent: RegionRef | None
    ancestors: list[RegionRef]
    center_lat: float | None
    center_lng: float | None


class GridOut(Schema):
    id: int
    code: str
    name: str
    village: RegionRef
    boundary: dict[str, Any] = Field(..., description="GeoJSON Polygon/MultiPolygon (WGS-84, lng/lat)")


class UnitOut(Schema):
    id: int
    name: str
    kind: str
    kind_label: str
    region: RegionRef


class UnitRef(Schema):
    id: int
    name: str


class GridRef(Schema):
    id: int
    code: str
    name: str


# --- cases ---------------------------------------------------------------------------------------


class CaseListQuery(PageQuery):
    status: CaseStatus | None = Field(None, description="按状态筛选")
    q: str | None = Field(None, max_length=SHORT_CAP, description="编号（精确）、标题或地址（包含）")
    category: int | None = Field(None, ge=1, le=MAX_ID, description="类别 id（含其子类）")
    created_from: date | None = Field(None, alias="from", description="上报日期起（含，本地日期）")
    created_to: date | None = Field(None, alias="to", description="上报日期止（含，本地日期）")
    ordering: str = Field(
        "newest", max_length=SHORT_CAP, description="排序：newest、oldest、updated、number",
        json_schema_extra={"enum": ["newest", "oldest", "updated", "number"]},
    )


class PhotoOut(Schema):
    id: int
    kind: str
    width: int
    height: int
    url: str


class EventOut(Schema):
    id: int
    action: str
    action_label: str
    from_status: str
    to_status: str
    actor: str | None = Field(None, description="操作人（群众看不到工作人员姓名）")
    actor_unit: str | None
    reason: str
    created_at: datetime
    photos: list[PhotoOut]


class CaseSummary(Schema):
    id: int
    number: str
    title: str
    status: CaseStatus
    status_label: str
    category: CategoryRef | None
    region: RegionRef
    grid: GridRef | None
    assigned_unit: UnitRef | None
    address: str
    is_anonymous: bool
    created_at: datetime
    updated_at: datetime


class CaseDetail(CaseSummary):
    description: str
    channel: str
    lat: float | None
    lng: float | None
    attributes: dict[str, Any] = Field(..., description="类别补充问题的回答")
    reporter: str | None = Field(None, description="上报人（仅工作人员可见，已脱敏）")
    tracking_code: str | None = Field(None, description="查询码（仅上报人本人可见）")
    satisfaction: str
    rating_comment: str
    rated_at: datetime | None
    dispatched_at: datetime | None
    closed_at: datetime | None
    version: int
    allowed_actions: list[str] = Field(..., description="当前用户此刻可执行的操作")
    photos: list[PhotoOut]
    timeline: list[EventOut]


class TransitionOut(Schema):
    event: EventOut
    case: CaseDetail | None = Field(..., description="操作后的案件；若该操作使案件移出您的范围则为 null")


class ReportOut(Schema):
    id: int
    number: str
    tracking_code: str = Field(..., description="查询码：匿名上报时凭此查询和评价，请妥善保存")
    status: CaseStatus
    created_at: datetime


# --- action bodies -------------------------------------------------------------------------------


class ReasonIn(Schema):
    reason: str = Field("", max_length=TEXT_CAP)


class RequiredReasonIn(Schema):
    reason: str = Field(..., max_length=TEXT_CAP)


class RejectIn(Schema):
    kind: RejectionKind
    reason: str = Field(..., max_length=TEXT_CAP)
    duplicate_of: str | None = Field(None, max_length=64, description="重复于的案件编号（仅 duplicate）")


# JSON bodies take JSON types strictly: `true` or `"5"` is not an id and `1` is not a yes, since a
# lenient cast could dispatch or verify a case nobody meant to.
class RegisterIn(Schema):
    category: int | None = Field(None, ge=1, le=MAX_ID, strict=True, description="类别 id；省略则沿用上报时的类别")
    reason: str = Field("", max_length=TEXT_CAP)


class DispatchIn(Schema):
    unit: int = Field(..., ge=1, le=MAX_ID, strict=True, description="承办单位 id")
    reason: str = Field("", max_length=TEXT_CAP)


class VerifyIn(Schema):
    passed: bool = Field(..., strict=True, description="true：核查通过；false：不通过（须说明原因）")
    reason: str = Field("", max_length=TEXT_CAP)


class RateIn(Schema):
    satisfaction: Satisfaction
    comment: str = Field("", max_length=TEXT_CAP)


class ReportIn(Schema):
    description: str = Field(..., max_length=TEXT_CAP)
    title: str = Field("", max_length=SHORT_CAP)
    category: int | None = Field(None, ge=1, le=MAX_ID, description="类别 id")
    lat: float | None = Field(None, description="纬度（WGS-84）；与 lng 同时提供，或改填 address")
    lng: float | None = Field(None, description="经度（WGS-84）")
    address: str = Field("", max_length=SHORT_CAP * 5)
    is_anonymous: bool = Field(False, description="匿名：案件不关联账号，凭查询码跟进")
    attributes: str | None = Field(
        None, max_length=TEXT_CAP,
        description='类别补充问题的回答，JSON 对象 {"问题编码": 回答}；省略表示不回答补充问题',
    )


class HandleIn(Schema):
    result: str = Field(..., max_length=TEXT_CAP, description="处置情况")


# --- serializers ---------------------------------------------------------------------------------


def region_ref(region: Region) -> RegionRef:
    return RegionRef(code=region.code, name=region.name, level=region.level)


def region_out(region: Region, ancestors: list[Region]) -> RegionOut:
    parent = ancestors[-1] if ancestors else None
    return RegionOut(
        code=region.code, name=region.name, level=region.level, level_label=region.get_level_display(),
        kind=region.kind, parent=region_ref(parent) if parent else None,
        ancestors=[region_ref(a) for a in ancestors], center_lat=region.center_lat, center_lng=region.center_lng,
    )


def grid_out(grid: Grid) -> GridOut:
    return GridOut(
        id=grid.pk, code=grid.code, name=grid.name, village=region_ref(grid.village),
        boundary=grid.boundary if isinstance(grid.boundary, dict) else {},
    )


def unit_out(unit: HandlingUnit) -> UnitOut:
    return UnitOut(
        id=unit.pk, name=unit.name, kind=unit.kind, kind_label=unit.get_kind_display(), region=region_ref(unit.region)
    )


def category_ref(category: Category) -> CategoryRef:
    return CategoryRef(id=category.pk, code=category.code, name=category.name)


def _photo_out(request: HttpRequest, attachment: Attachment) -> PhotoOut:
    url = reverse("api_v1:case_photo", kwargs={"case_id": attachment.case_id, "photo_id": attachment.pk})
    return PhotoOut(
        id=attachment.pk, kind=attachment.kind, width=attachment.width, height=attachment.height,
        url=request.build_absolute_uri(url),
    )


def event_out(request: HttpRequest, event: CaseEvent, *, staff_view: bool) -> EventOut:
    actor = None
    if staff_view and event.actor is not None:
        actor = str(event.actor)
    return EventOut(
        id=event.pk, action=event.action,
        action_label=str(CaseAction(event.action).label) if event.action in CaseAction.values else event.action,
        from_status=event.from_status, to_status=event.to_status, actor=actor,
        actor_unit=event.actor_unit.name if event.actor_unit is not None else None,
        reason=event.reason, created_at=event.created_at,
        photos=[_photo_out(request, a) for a in event.attachments.all()],
    )


def case_summary_fields(case: Case) -> dict[str, Any]:
    return {
        "id": case.pk,
        "number": case.number,
        "title": case.title,
        "status": case.status,
        "status_label": str(CaseStatus(case.status).label) if case.status in CaseStatus.values else case.status,
        "category": category_ref(case.category) if case.category is not None else None,
        "region": region_ref(case.region),
        "grid": GridRef(id=case.grid.pk, code=case.grid.code, name=case.grid.name) if case.grid else None,
        "assigned_unit": UnitRef(id=case.assigned_unit.pk, name=case.assigned_unit.name)
        if case.assigned_unit is not None else None,
        "address": case.address,
        "is_anonymous": case.is_anonymous,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
    }


def case_summary(case: Case) -> CaseSummary:
    return CaseSummary(**case_summary_fields(case))


def reporter_label(case: Case) -> str | None:
    """Who reported, as staff may see it: never the full name or number (PIPL minimisation)."""
    if case.is_anonymous or case.reporter is None:
        return None
    reporter: User = case.reporter
    name = reporter.display_name.strip()
    masked = f"{name[0]}{'*' * max(len(name) - 1, 1)}" if name else "群众"
    return f"{masked} · {mask_phone(reporter.phone)}" if reporter.phone else masked


def case_detail(
    request: HttpRequest,
    case: Case,
    *,
    staff_view: bool,
    is_reporter: bool,
    events: list[CaseEvent],
    photos: list[Attachment],
    allowed: list[str],
) -> CaseDetail:
    return CaseDetail(
        **case_summary_fields(case),
        description=case.description,
        channel=case.channel,
        lat=case.lat,
        lng=case.lng,
        attributes=case.attributes if isinstance(case.attributes, dict) else {},
        reporter=reporter_label(case) if staff_view else None,
        tracking_code=case.tracking_code if is_reporter else None,
        satisfaction=case.satisfaction,
        rating_comment=case.rating_comment,
        rated_at=case.rated_at,
        dispatched_at=case.dispatched_at,
        closed_at=case.closed_at,
        version=case.version,
        allowed_actions=allowed,
        photos=[_photo_out(request, a) for a in photos],
        timeline=[event_out(request, e, staff_view=staff_view) for e in events],
    )
