"""Typed request and response shapes of the JSON API, and the functions that fill the response
shapes from model rows. The OpenAPI document is generated from these same classes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Schema

from sizhi.cases.models import (
    Assignment,
    Attachment,
    CallBack,
    CallBackStatus,
    Case,
    CaseEvent,
    Category,
    ExtensionRequest,
    ExtensionStatus,
    SupervisionOrder,
    SupervisionStatus,
)
from sizhi.cases.selectors import masked_reporter
from sizhi.cases.workflow import (
    AssignmentRole,
    AssignmentStatus,
    CaseAction,
    CaseStatus,
    Priority,
    RejectionKind,
    Satisfaction,
    WarningLevel,
)
from sizhi.regions.models import Grid, Region, RegionLevel
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


class CaseRef(Schema):
    id: int
    number: str


class AssignmentOut(Schema):
    """One unit's part in the case: the lead (主办) or an assisting unit (协办), each on its own clock."""

    id: int
    unit: UnitRef
    role: AssignmentRole
    role_label: str
    status: AssignmentStatus
    status_label: str
    sign_due_at: datetime = Field(..., description="签收时限")
    signed_at: datetime | None
    due_at: datetime = Field(..., description="该单位的办理时限")
    finished_at: datetime | None


class ExtensionOut(Schema):
    id: int
    days: int = Field(..., description="申请延期的工作日数")
    reason: str
    status: ExtensionStatus
    status_label: str
    requested_by: str | None
    created_at: datetime


class CallBackOut(Schema):
    id: int
    case: CaseRef
    status: CallBackStatus
    status_label: str
    reached: bool | None = Field(..., description="是否联系上反映人；未回访时为 null")
    satisfaction: Satisfaction | None
    note: str
    done_at: datetime | None


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
    priority: Priority
    priority_label: str
    level: RegionLevel = Field(..., description="办理层级：当前由哪一级指挥中心管理")
    level_label: str
    due_at: datetime | None = Field(..., description="办结时限（首次派遣时确定，延期、缓办后顺延）")
    repeat_of: str | None = Field(..., description="重复件：此前同一问题的案件编号（仅当您可查看该案件时）")
    supporter_count: int = Field(..., description="附议人数（含并入本案的反映）")
    warning: WarningLevel | None = Field(..., description="预警状态（仅工作人员可见）")
    warning_label: str | None
    return_count: int | None = Field(..., description="退回次数（仅工作人员可见）")
    needs_ruling: bool | None = Field(..., description="待指挥中心裁定派遣（仅工作人员可见）")
    assignments: list[AssignmentOut] = Field(..., description="各单位的承办任务，含已结束的（仅工作人员可见）")
    pending_extensions: list[ExtensionOut] = Field(..., description="待审批的延期申请（仅工作人员可见）")
    callback: CallBackOut | None = Field(..., description="回访（仅工作人员可见；未抽中回访时为 null）")
    allowed_actions: list[str] = Field(
        ..., description="当前用户此刻可发起的案件操作（不含协办、延期审批等针对子对象的操作）"
    )
    photos: list[PhotoOut]
    timeline: list[EventOut]


class TransitionOut(Schema):
    event: EventOut
    case: CaseDetail | None = Field(..., description="操作后的案件；若该操作使案件移出您的范围则为 null")


class ExtensionCreatedOut(Schema):
    extension: ExtensionOut
    case: CaseDetail | None = Field(..., description="申请后的案件")


class SupportOut(Schema):
    supporter_count: int = Field(..., description="该案件现在的附议人数")


class SupervisionOut(Schema):
    id: int
    case: CaseRef | None = Field(..., description="督办的案件；督办单位整体工作时为 null")
    unit: UnitRef
    issuer_level: RegionLevel
    issued_by: str | None
    reason: str
    respond_by: date = Field(..., description="回复期限（本地日期）")
    status: SupervisionStatus
    status_label: str
    response: str
    responded_at: datetime | None
    created_at: datetime


class TrackedCaseOut(Schema):
    """A case as the holder of its tracking code sees it, whether signed in or not."""

    number: str
    title: str
    status: CaseStatus
    status_label: str
    satisfaction: str
    rated_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime


class TrackActionOut(Schema):
    event: EventOut
    case: TrackedCaseOut


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


Id = Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]
MAX_ASSISTS = 20


class DispatchIn(Schema):
    unit: int = Field(..., ge=1, le=MAX_ID, strict=True, description="主办单位 id")
    assist_units: list[Id] = Field(
        default_factory=list, max_length=MAX_ASSISTS, description="协办单位 id（可省略；与主办单位相同的会被忽略）"
    )
    priority: Priority | None = Field(None, description="紧急程度；省略则沿用案件当前的紧急程度")
    reason: str = Field("", max_length=TEXT_CAP)


class DelegateIn(Schema):
    level: RegionLevel = Field(..., description="下派至的层级：低于案件当前层级，且不低于案发地的受理层级")
    reason: str = Field(..., max_length=TEXT_CAP, description="下派要求")


class ResultIn(Schema):
    result: str = Field(..., max_length=TEXT_CAP, description="协办情况")


class ExtensionIn(Schema):
    # The service decides the range (1–60) and answers extension_days_invalid; the transport
    # only bounds the number.
    days: int = Field(..., ge=-MAX_ID, le=MAX_ID, strict=True, description="延期工作日数（1–60）")
    reason: str = Field(..., max_length=TEXT_CAP)


class ExtensionDecideIn(Schema):
    approve: bool = Field(..., strict=True, description="true：批准（时限顺延）；false：驳回")
    note: str = Field("", max_length=TEXT_CAP, description="审批意见")


class MergeIn(Schema):
    into: str = Field(..., max_length=64, description="并入的案件编号（须为您可查看的、仍在办理中的案件）")
    reason: str = Field("", max_length=TEXT_CAP, description="并案说明（可省略，群众可见）")


class NoteIn(Schema):
    text: str = Field(..., max_length=TEXT_CAP, description="备注内容（公开，关注该案件的人都能看到）")


class SupervisionIn(Schema):
    unit: int = Field(..., ge=1, le=MAX_ID, strict=True, description="被督办单位 id")
    case: int | None = Field(
        None, ge=1, le=MAX_ID, strict=True, description="督办的案件 id（可省略）；须为该单位当前承办的案件"
    )
    reason: str = Field(..., max_length=TEXT_CAP, description="督办事由")
    respond_by: date = Field(..., description="回复期限（YYYY-MM-DD，本地日期，不早于今天）")


class SupervisionRespondIn(Schema):
    response: str = Field(..., max_length=TEXT_CAP, description="督办回复")


class CallBackIn(Schema):
    reached: bool = Field(..., strict=True, description="是否联系上反映人")
    satisfaction: Satisfaction | None = Field(None, description="联系上时必填")
    note: str = Field("", max_length=TEXT_CAP, description="回访记录")


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
    return masked_reporter(case)


def _label(choices: Any, value: str) -> str:
    return str(choices(value).label) if value in choices.values else value


def case_ref(case: Case) -> CaseRef:
    return CaseRef(id=case.pk, number=case.number)


def unit_ref(unit: HandlingUnit) -> UnitRef:
    return UnitRef(id=unit.pk, name=unit.name)


def assignment_out(assignment: Assignment) -> AssignmentOut:
    return AssignmentOut(
        id=assignment.pk, unit=unit_ref(assignment.unit),
        role=AssignmentRole(assignment.role), role_label=_label(AssignmentRole, assignment.role),
        status=AssignmentStatus(assignment.status), status_label=_label(AssignmentStatus, assignment.status),
        sign_due_at=assignment.sign_due_at, signed_at=assignment.signed_at, due_at=assignment.due_at,
        finished_at=assignment.finished_at,
    )


def extension_out(extension: ExtensionRequest) -> ExtensionOut:
    return ExtensionOut(
        id=extension.pk, days=extension.days, reason=extension.reason,
        status=ExtensionStatus(extension.status), status_label=_label(ExtensionStatus, extension.status),
        requested_by=str(extension.requested_by) if extension.requested_by_id else None,
        created_at=extension.created_at,
    )


def callback_out(callback: CallBack) -> CallBackOut:
    return CallBackOut(
        id=callback.pk, case=case_ref(callback.case),
        status=CallBackStatus(callback.status), status_label=_label(CallBackStatus, callback.status),
        reached=callback.reached,
        satisfaction=Satisfaction(callback.satisfaction) if callback.satisfaction in Satisfaction.values else None,
        note=callback.note, done_at=callback.done_at,
    )


def supervision_out(order: SupervisionOrder) -> SupervisionOut:
    return SupervisionOut(
        id=order.pk, case=case_ref(order.case) if order.case is not None else None, unit=unit_ref(order.unit),
        issuer_level=RegionLevel(order.issuer_level), issued_by=str(order.issued_by) if order.issued_by_id else None,
        reason=order.reason, respond_by=order.respond_by,
        status=SupervisionStatus(order.status), status_label=_label(SupervisionStatus, order.status),
        response=order.response, responded_at=order.responded_at, created_at=order.created_at,
    )


def tracked_case_out(case: Case) -> TrackedCaseOut:
    return TrackedCaseOut(
        number=case.number, title=case.title, status=CaseStatus(case.status),
        status_label=_label(CaseStatus, case.status), satisfaction=case.satisfaction, rated_at=case.rated_at,
        closed_at=case.closed_at, updated_at=case.updated_at,
    )


def case_detail(
    request: HttpRequest,
    case: Case,
    *,
    staff_view: bool,
    is_reporter: bool,
    events: list[CaseEvent],
    photos: list[Attachment],
    allowed: list[str],
    repeat_of: str | None,
    supporter_count: int,
    assignments: list[Assignment],
    pending_extensions: list[ExtensionRequest],
    callback: CallBack | None,
) -> CaseDetail:
    """The case as one user sees it. The internal figures (warning, returns, ruling, the units'
    assignments, extension requests, the call-back) are for staff in scope only: null or empty
    for the reporter, whose view is the public one."""
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
        priority=Priority(case.priority),
        priority_label=_label(Priority, case.priority),
        level=RegionLevel(case.level),
        level_label=_label(RegionLevel, case.level),
        due_at=case.due_at,
        repeat_of=repeat_of,
        supporter_count=supporter_count,
        warning=WarningLevel(case.warning) if staff_view else None,
        warning_label=_label(WarningLevel, case.warning) if staff_view else None,
        return_count=case.return_count if staff_view else None,
        needs_ruling=case.needs_ruling if staff_view else None,
        assignments=[assignment_out(a) for a in assignments],
        pending_extensions=[extension_out(e) for e in pending_extensions],
        callback=callback_out(callback) if callback is not None else None,
        allowed_actions=allowed,
        photos=[_photo_out(request, a) for a in photos],
        timeline=[event_out(request, e, staff_view=staff_view) for e in events],
    )
