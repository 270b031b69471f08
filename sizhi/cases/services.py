"""Every change to a case: one function per action, each writing its CaseEvent in the same
transaction and guarded by the transition table (cases.workflow) and the permission
functions (cases.permissions). Views, APIs, commands and the demo loader all come here."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import User
from sizhi.cases import followup, linkage, merging, permissions
from sizhi.cases.attributes import clean_attribute_answers
from sizhi.cases.errors import CaseError, CasePermissionDenied, ReportInvalid, TransitionNotAllowed
from sizhi.cases.models import Attachment, AttachmentKind, Case, CaseEvent, Category
from sizhi.cases.photos import ProcessedPhoto, check_photo_count, process_photo
from sizhi.cases.text import clean_text, finite_coordinate
from sizhi.cases.transitions import (
    actor_unit,
    choose_dispatchers,
    dispatcher_memberships,
    lowest_staffed_level,
    notify_dispatchers,
    require,
    require_reason,
    tell_reporter,
    tell_unit,
    transition,
)
from sizhi.cases.workflow import (
    TRANSITIONS,
    CaseAction,
    CaseStatus,
    Channel,
    Priority,
    RejectionKind,
    Satisfaction,
)
from sizhi.regions.models import Region, RegionLevel
from sizhi.regions.spatial import locate_grid
from sizhi.units.models import HandlingUnit

DESCRIPTION_MIN = 5
DESCRIPTION_MAX = 4000
TITLE_MAX = 100


def new_tracking_code() -> str:
    # 128 bits of randomness, URL-safe, 22 characters: unguessable and rate-limited at lookup.
    return secrets.token_urlsafe(16)


# --- intake ------------------------------------------------------------------------------------


def report_submit(
    *,
    reporter: User | None,
    description: str,
    title: str = "",
    category: Category | None = None,
    lat: object = None,
    lng: object = None,
    address: str = "",
    photos: Sequence[UploadedFile] = (),
    is_anonymous: bool = False,
    channel: str = Channel.APP,
    idempotency_key: str | None = None,
    actor: User | None = None,
    attributes: Mapping[str, object] | None = None,
) -> Case:
    """Create a case from a report. Repeating the call with the same idempotency key returns
    the case made the first time instead of a second one.

    `attributes` are the answers to the category's further questions (cases.attributes). None
    means the caller asks no such questions (hotline entry, older forms): nothing is checked
    or stored. A mapping, even an empty one, is checked in full, required questions included.
    """
    if channel not in Channel.values:
        raise ReportInvalid(_("来源渠道无效。"), code="channel_invalid", field="channel")
    # A repeated key is found by the case's unique index when the INSERT below fails, not by a
    # read on every report: retries are rare, first sends are not.
    key = clean_text(idempotency_key)[:64] or None

    description = clean_text(description)
    if len(description) < DESCRIPTION_MIN:
        raise ReportInvalid(
            _("请把问题描述清楚，至少 %(n)d 个字。") % {"n": DESCRIPTION_MIN}, code="description_too_short",
            field="description",
        )
    if len(description) > DESCRIPTION_MAX:
        raise ReportInvalid(
            _("问题描述不能超过 %(n)d 个字。") % {"n": DESCRIPTION_MAX}, code="description_too_long",
            field="description",
        )
    title = clean_text(title)[:TITLE_MAX] or _summarise(description)
    address = clean_text(address)[:200]
    if category is not None and not category.is_active:
        raise ReportInvalid(_("所选类别已停用，请重新选择。"), code="category_inactive", field="category")
    answers = clean_attribute_answers(category, attributes) if attributes is not None else {}

    grid = None
    region: Region | None
    has_point = lat not in (None, "") or lng not in (None, "")
    if has_point:
        flat = finite_coordinate(lat, -90.0, 90.0)
        flng = finite_coordinate(lng, -180.0, 180.0)
        if flat is None or flng is None:
            raise ReportInvalid(_("位置坐标无效，请在地图上重新选点。"), code="location_invalid", field="location")
        grid = locate_grid(flat, flng, boundary=False)
        if grid is None:
            raise ReportInvalid(
                _("所选位置不在本平台的服务范围内，请确认位置，或改为填写地址。"),
                code="location_outside", field="location",
            )
        region = grid.village
    else:
        flat = flng = None
        if not address:
            raise ReportInvalid(
                _("请在地图上选择位置，或填写事发地址。"), code="location_required", field="location"
            )
        # Without a point the case starts at the top of the tree; a dispatcher places it.
        region = Region.objects.filter(level=RegionLevel.CITY).order_by("code").first()
        if region is None:
            raise ReportInvalid(_("平台尚未配置行政区划。"), code="regions_missing", field="location")

    check_photo_count(len(photos))
    processed = [process_photo(p) for p in photos]

    if is_anonymous:
        # An anonymous report keeps no link to the account that sent it (follow-up is by tracking code).
        reporter = None
    try:
        with transaction.atomic():
            now = timezone.now()
            tracking = new_tracking_code()
            dispatchers, level = intake_routing(region)
            case = Case(
                number=f"NEW-{tracking}",
                tracking_code=tracking,
                title=title,
                description=description,
                category=category,
                attributes=answers,
                channel=channel,
                status=CaseStatus.REPORTED,
                reporter=reporter,
                is_anonymous=is_anonymous,
                idempotency_key=key,
                lat=flat,
                lng=flng,
                address=address,
                grid=grid,
                region=region,
                region_code=region.code,
                level=level,
                created_at=now,
                updated_at=now,
            )
            # Found before the INSERT, so that the number's UPDATE below is the only one.
            earlier = followup.find_repeat_of(case)
            case.repeat_of = earlier
            case.save(force_insert=True)
            local = timezone.localtime(now)
            case.number = f"{settings.SIZHI_CASE_NUMBER_PREFIX}{local:%Y%m%d}{case.pk:08d}"
            Case.objects.filter(pk=case.pk).update(number=case.number)
            event = CaseEvent.objects.create(
                case=case, action=CaseAction.SUBMIT, from_status="", to_status=CaseStatus.REPORTED,
                actor=None if is_anonymous else (actor or reporter), created_at=now,
                data={"channel": channel, **({"repeat_of": earlier.number} if earlier else {})},
            )
            _store_photos(case, event, processed, AttachmentKind.REPORT)
            notify_dispatchers(case, users=dispatchers)
            _scan_for_alerts_after_commit()
    except IntegrityError:
        # A retry, or two submissions with the same key that raced: return the case made first.
        if key:
            existing = _case_for_idempotency_key(key, reporter, is_anonymous)
            if existing is not None:
                return existing
        raise
    return case


def _scan_for_alerts_after_commit() -> None:
    """预警: the report is scanned for risk words and repeats as soon as it is committed (the
    worker's minute scan is the safety net). Imported here because insight reads cases, not
    the other way round."""
    from sizhi.insight.alerts import scan_after_commit

    scan_after_commit()


def intake_routing(region: Region) -> tuple[list[User], str]:
    """Who is told of a new report in `region` and the level it starts at, from one read of the
    dispatchers whose scope holds the place (transitions.managing_level and dispatchers_for
    would read them twice)."""
    lowest = RegionLevel.TOWN if region.level == RegionLevel.VILLAGE else region.level
    memberships = dispatcher_memberships(region.code)
    level = lowest_staffed_level(memberships, lowest)
    return choose_dispatchers(memberships, level), level


def _case_for_idempotency_key(key: str, reporter: User | None, is_anonymous: bool) -> Case | None:
    existing = Case.objects.filter(idempotency_key=key).first()
    if existing is None:
        return None
    same_sender = existing.reporter_id == (None if is_anonymous or reporter is None else reporter.pk)
    if not same_sender:
        raise ReportInvalid(_("重复的提交标识，请刷新页面后重新提交。"), code="idempotency_key_reused")
    return existing


def _summarise(description: str) -> str:
    first_line = description.splitlines()[0]
    return first_line[:30] + ("…" if len(first_line) > 30 else "")


def _store_photos(case: Case, event: CaseEvent, photos: Sequence[ProcessedPhoto], kind: str) -> None:
    for photo in photos:
        attachment = Attachment(
            case=case, event=event, kind=kind, content_type=photo.content_type, extension=photo.extension,
            width=photo.width, height=photo.height, size=len(photo.content), sha256=photo.sha256,
        )
        attachment.file.save(f"{photo.sha256}.{photo.extension}", ContentFile(photo.content), save=False)
        attachment.save()


# --- transitions -------------------------------------------------------------------------------


NOTE_MAX = 2000


@transaction.atomic
def case_add_public_note(
    *, case: Case, actor: User | None, text: str, data: dict[str, Any] | None = None
) -> CaseEvent:
    """A remark everyone following the case sees on its timeline, status unchanged.

    Not a transition, so it is not in TRANSITIONS and takes no version guard: a note never
    races a dispatcher's action. `updated_at` moves, since the case did change for the people
    who follow it. The caller authorises the actor: the Open311 API by the integration's key.
    """
    body = clean_text(text)
    if not body:
        raise CaseError(_("备注内容不能为空。"), code="note_required", field="text")
    if len(body) > NOTE_MAX:
        raise CaseError(_("备注不能超过 %(n)d 个字。") % {"n": NOTE_MAX}, code="note_too_long", field="text")
    now = timezone.now()
    Case.objects.filter(pk=case.pk).update(updated_at=now)
    # Read after the UPDATE, which holds the row: the event records the status it really annotated.
    status = Case.objects.values_list("status", flat=True).get(pk=case.pk)
    case.updated_at, case.status = now, status
    return CaseEvent.objects.create(
        case=case, action=CaseAction.NOTE, from_status=status, to_status=status, actor=actor,
        actor_unit=actor_unit(actor, case), reason=body, data=data or {}, is_public=True, created_at=now,
    )


@transaction.atomic
def case_accept(*, case: Case, actor: User, reason: str = "") -> CaseEvent:
    require(actor, case, CaseAction.ACCEPT)
    event = transition(case=case, action=CaseAction.ACCEPT, actor=actor, reason=clean_text(reason))
    tell_reporter(case, _("您的反映已受理"), _("编号 %(number)s 已受理，我们会尽快处理。") % {"number": case.number})
    return event


@transaction.atomic
def case_reject(
    *, case: Case, actor: User, kind: str, reason: str, duplicate_of: Case | None = None
) -> CaseEvent:
    require(actor, case, CaseAction.REJECT)
    if kind not in RejectionKind.values:
        raise CaseError(_("请选择不予受理的原因。"), code="rejection_kind_invalid", field="kind")
    text = require_reason(reason, _("请说明不予受理的理由，群众会看到这段说明。"))
    if kind == RejectionKind.DUPLICATE:
        if duplicate_of is None:
            raise CaseError(_("请填写与之重复的案件编号。"), code="duplicate_of_required", field="duplicate_of")
        if duplicate_of.pk == case.pk:
            raise CaseError(_("案件不能与自身重复。"), code="duplicate_of_self", field="duplicate_of")
        if not permissions.can_view_case(actor, duplicate_of):
            # Never reveal that a case outside the actor's scope exists.
            raise CaseError(_("找不到该案件编号。"), code="duplicate_of_not_found", field="duplicate_of")
    elif duplicate_of is not None:
        raise CaseError(_("只有“重复上报”才能关联重复案件。"), code="duplicate_of_unexpected", field="duplicate_of")
    event = transition(
        case=case, action=CaseAction.REJECT, actor=actor, reason=text,
        changes={"rejection_kind": kind, "duplicate_of": duplicate_of, "closed_at": timezone.now()},
        data={"kind": kind, "duplicate_of": duplicate_of.number if duplicate_of else None},
    )
    tell_reporter(case, _("您的反映未予受理"), text)
    return event


@transaction.atomic
def case_register(*, case: Case, actor: User, category: Category | None = None, reason: str = "") -> CaseEvent:
    require(actor, case, CaseAction.REGISTER)
    category = category or case.category
    if category is None:
        raise CaseError(_("立案前请选择事件类别。"), code="category_required", field="category")
    if not category.is_active:
        raise CaseError(_("所选类别已停用，请重新选择。"), code="category_inactive", field="category")
    case.category = category
    earlier = followup.find_repeat_of(case) if case.repeat_of_id is None else None
    event = transition(
        case=case, action=CaseAction.REGISTER, actor=actor, reason=clean_text(reason),
        changes={"category": category, **({"repeat_of": earlier} if earlier else {})},
        data={"category": category.code, **({"repeat_of": earlier.number} if earlier else {})},
    )
    linkage.dispatch_by_matrix(case=case)
    return event


@transaction.atomic
def case_dispatch(
    *,
    case: Case,
    actor: User,
    unit: HandlingUnit,
    reason: str = "",
    assist_units: Sequence[HandlingUnit] = (),
    priority: str | None = None,
) -> CaseEvent:
    """Send the case to a lead unit (主办), optionally with assisting units (协办)."""
    require(actor, case, CaseAction.DISPATCH)
    for target in (unit, *assist_units):
        if not permissions.can_dispatch_to(actor, case, target):
            raise CaseError(
                _("不能派遣给“%(unit)s”：该单位不在您的管辖范围内，或其辖区不包含案发地。") % {"unit": target.name},
                code="dispatch_unit_out_of_scope", field="unit",
            )
    if priority is not None and priority not in Priority.values:
        raise CaseError(_("紧急程度无效。"), code="priority_invalid", field="priority")
    return linkage.dispatch(
        case=case, actor=actor, lead=unit, assists=assist_units, reason=clean_text(reason), priority=priority
    )


@transaction.atomic
def case_sign_for(*, case: Case, actor: User) -> CaseEvent:
    require(actor, case, CaseAction.SIGN_FOR)
    event = transition(case=case, action=CaseAction.SIGN_FOR, actor=actor, changes={"handler": actor})
    linkage.lead_signed(case=case, at=event.created_at)
    return event


@transaction.atomic
def case_return(*, case: Case, actor: User, reason: str) -> CaseEvent:
    require(actor, case, CaseAction.RETURN)
    text = require_reason(reason, _("退回必须说明理由。"))
    return linkage.give_back(case=case, actor=actor, reason=text)


@transaction.atomic
def case_handle(*, case: Case, actor: User, result: str, photos: Sequence[UploadedFile] = ()) -> CaseEvent:
    require(actor, case, CaseAction.HANDLE)
    text = require_reason(result, _("请填写处置情况。"))
    linkage.require_assists_finished(case)
    check_photo_count(len(photos))
    processed = [process_photo(p) for p in photos]
    event = transition(case=case, action=CaseAction.HANDLE, actor=actor, reason=text, changes={"handler": actor})
    _store_photos(case, event, processed, AttachmentKind.HANDLING)
    linkage.lead_finished(case=case, result=text, at=event.created_at)
    return event


@transaction.atomic
def case_verify(*, case: Case, actor: User, passed: bool, reason: str = "") -> CaseEvent:
    action = CaseAction.VERIFY_PASS if passed else CaseAction.VERIFY_FAIL
    require(actor, case, action)
    if passed:
        return transition(case=case, action=action, actor=actor, reason=clean_text(reason))
    text = require_reason(reason, _("核查不通过时必须说明原因。"))
    event = transition(case=case, action=action, actor=actor, reason=text)
    linkage.lead_reworks(case=case)
    if case.assigned_unit is not None:
        tell_unit(case.assigned_unit, case, _("核查未通过，请重新处置：%(number)s") % {"number": case.number})
    return event


@transaction.atomic
def case_close(*, case: Case, actor: User, reason: str = "") -> CaseEvent:
    require(actor, case, CaseAction.CLOSE)
    if not case.events.filter(action=CaseAction.HANDLE).exists():
        raise CaseError(_("没有处置记录的案件不能结案。"), code="case_close_without_handling")
    event = transition(
        case=case, action=CaseAction.CLOSE, actor=actor, reason=clean_text(reason),
        changes={"closed_at": timezone.now()},
    )
    followup.maybe_queue_callback(case)
    merging.tell_supporters(
        case, _("您关注的问题已办结"),
        _("案件 %(number)s「%(title)s」已办结。") % {"number": case.number, "title": case.title},
    )
    tell_reporter(
        case, _("您的反映已办结"),
        _("编号 %(number)s 已办结，欢迎对办理结果进行评价。") % {"number": case.number},
    )
    return event


def _check_rate(case: Case, actor: User | None, tracking_code: str | None) -> None:
    if tracking_code is not None:
        # Compared as bytes: compare_digest raises TypeError on non-ASCII str, and the code is user input.
        if not secrets.compare_digest(tracking_code.encode(), case.tracking_code.encode()):
            raise CasePermissionDenied(_("查询码不正确。"))
        return
    if actor is None or not actor.is_authenticated or case.reporter_id != actor.pk:
        raise CasePermissionDenied(_("只有反映人可以评价。"))


@transaction.atomic
def case_rate(
    *, case: Case, actor: User | None, satisfaction: str, comment: str = "", tracking_code: str | None = None
) -> CaseEvent:
    """The reporter rates a closed case once; anonymous reporters prove themselves by tracking code."""
    if case.status not in TRANSITIONS[CaseAction.RATE].sources or case.rated_at is not None:
        raise TransitionNotAllowed(CaseAction.RATE, case.status)
    _check_rate(case, actor, tracking_code)
    if satisfaction not in Satisfaction.values:
        raise CaseError(_("请选择满意、基本满意或不满意。"), code="satisfaction_invalid", field="satisfaction")
    text = clean_text(comment)[:1000]
    return transition(
        case=case, action=CaseAction.RATE, actor=actor, reason=text,
        changes={"satisfaction": satisfaction, "rating_comment": text, "rated_at": timezone.now()},
        data={"satisfaction": satisfaction},
    )


def reopen_deadline(case: Case) -> Any:
    return case.closed_at + timedelta(days=settings.SIZHI_REOPEN_DAYS) if case.closed_at else None


def can_reopen_now(case: Case) -> bool:
    deadline = reopen_deadline(case)
    return (
        case.status == CaseStatus.CLOSED
        and case.satisfaction == Satisfaction.UNSATISFIED
        and deadline is not None
        and timezone.now() <= deadline
    )


@transaction.atomic
def case_reopen(*, case: Case, actor: User | None, reason: str, tracking_code: str | None = None) -> CaseEvent:
    """A reporter who rated 不满意 may have the case handled again within SIZHI_REOPEN_DAYS."""
    if case.status not in TRANSITIONS[CaseAction.REOPEN].sources:
        raise TransitionNotAllowed(CaseAction.REOPEN, case.status)
    _check_rate(case, actor, tracking_code)
    if not can_reopen_now(case):
        raise CaseError(
            _("只有评价为“不满意”且在结案后 %(days)d 天内才能申请重新办理。") % {"days": settings.SIZHI_REOPEN_DAYS},
            code="case_reopen_not_allowed",
        )
    text = require_reason(reason, _("请说明哪里还没有解决。"))
    # The rating stays on the earlier event; the case is rated afresh after the next closure.
    event = transition(
        case=case, action=CaseAction.REOPEN, actor=actor, reason=text,
        changes={
            "assigned_unit": None, "handler": None, "closed_at": None,
            "satisfaction": "", "rating_comment": "", "rated_at": None,
        },
    )
    notify_dispatchers(case)
    return event
