"""Categories, cases, their immutable events and their photos."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sizhi.cases.workflow import (
    AssignmentRole,
    AssignmentStatus,
    CaseAction,
    CaseStatus,
    Channel,
    Priority,
    RejectionKind,
    Satisfaction,
    WarningLevel,
)
from sizhi.regions.models import RegionLevel


class Category(models.Model):
    code = models.SlugField(_("编码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=60)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("上级")
    )
    order = models.PositiveSmallIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["order", "code"]
        verbose_name = _("事件类别")
        verbose_name_plural = _("事件类别")

    def __str__(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent_id and self.parent else self.name


class AttributeDatatype(models.TextChoices):
    """How a further question is answered; the values are Open311's datatype names."""

    STRING = "string", _("单行文字")
    NUMBER = "number", _("数字")
    DATETIME = "datetime", _("日期时间")
    TEXT = "text", _("多行文字")
    SINGLEVALUELIST = "singlevaluelist", _("单选")
    MULTIVALUELIST = "multivaluelist", _("多选")


LIST_DATATYPES = frozenset({AttributeDatatype.SINGLEVALUELIST, AttributeDatatype.MULTIVALUELIST})


class CategoryAttribute(models.Model):
    """A further question asked with reports of one category (损坏程度, 停水户数 …): the citizen
    form shows it and Open311 publishes it as the service definition's attribute.

    `variable=False` is a notice shown to the reporter with nothing to answer. `values` holds the
    options of the two list types as [{"key": …, "name": …}]; answers store the keys.
    """

    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="attributes", verbose_name=_("事件类别")
    )
    code = models.SlugField(_("编码"), max_length=40)
    datatype = models.CharField(_("类型"), max_length=16, choices=AttributeDatatype.choices)
    required = models.BooleanField(_("必答"), default=False)
    variable = models.BooleanField(_("需要回答"), default=True, help_text=_("否：只向群众展示这段说明"))
    order = models.PositiveSmallIntegerField(_("排序"), default=1)
    description = models.CharField(_("问题"), max_length=200)
    values = models.JSONField(_("选项"), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "order", "code"]
        verbose_name = _("补充问题")
        verbose_name_plural = _("补充问题")
        constraints = [
            models.UniqueConstraint(fields=["category", "code"], name="categoryattribute_unique_code"),
            # Open311: "any positive integer not used for other attributes in the same service_code".
            models.UniqueConstraint(fields=["category", "order"], name="categoryattribute_unique_order"),
            models.CheckConstraint(condition=Q(order__gte=1), name="categoryattribute_order_positive"),
            models.CheckConstraint(
                condition=Q(datatype__in=AttributeDatatype.values), name="categoryattribute_datatype_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category} · {self.description}"

    def clean(self) -> None:
        if self.datatype in LIST_DATATYPES:
            ok = (
                isinstance(self.values, list)
                and bool(self.values)
                and all(
                    isinstance(v, dict) and set(v) == {"key", "name"}
                    and isinstance(v["key"], str) and v["key"] and isinstance(v["name"], str) and v["name"]
                    for v in self.values
                )
            )
            if not ok or len({v["key"] for v in self.values}) != len(self.values):
                raise ValidationError(
                    {"values": _("选项应为 [{\"key\": …, \"name\": …}] 的列表，key 不能重复。")}
                )
        elif self.values:
            raise ValidationError({"values": _("只有单选、多选题才有选项。")})

    def option_keys(self) -> list[str]:
        return [str(v["key"]) for v in self.values or [] if isinstance(v, dict) and "key" in v]


class Case(models.Model):
    """A citizen's report from the moment it is submitted; after 立案 it is a case proper.

    `region_code` copies the 12-digit code of the case's village (or the city's code when
    the place is not known yet) so that every scope filter is an indexed prefix match.
    `version` guards every transition: a conditional UPDATE on it lets exactly one of two
    simultaneous actors win.
    """

    number = models.CharField(_("案件编号"), max_length=32, unique=True)
    tracking_code = models.CharField(_("查询码"), max_length=32, unique=True)
    title = models.CharField(_("标题"), max_length=100)
    description = models.TextField(_("问题描述"), max_length=4000)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="cases", verbose_name=_("类别")
    )
    channel = models.CharField(_("来源"), max_length=10, choices=Channel.choices, default=Channel.APP)
    status = models.CharField(_("状态"), max_length=12, choices=CaseStatus.choices, default=CaseStatus.REPORTED)

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="reported_cases", verbose_name=_("上报人"),
    )
    is_anonymous = models.BooleanField(_("匿名"), default=False)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)

    lat = models.FloatField(_("纬度"), null=True, blank=True)
    lng = models.FloatField(_("经度"), null=True, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    grid = models.ForeignKey(
        "regions.Grid", on_delete=models.PROTECT, null=True, blank=True, related_name="cases", verbose_name=_("网格")
    )
    region = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, related_name="cases", verbose_name=_("所属区划")
    )
    region_code = models.CharField(max_length=12, db_index=True, editable=False)

    assigned_unit = models.ForeignKey(
        "units.HandlingUnit", on_delete=models.PROTECT, null=True, blank=True,
        related_name="cases", verbose_name=_("承办单位"),
    )
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="handled_cases", verbose_name=_("处置人"),
    )
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="duplicates",
        verbose_name=_("重复于"),
    )
    rejection_kind = models.CharField(_("不予受理原因"), max_length=12, choices=RejectionKind.choices, blank=True)
    # Answers to the category's CategoryAttribute questions, by attribute code (see cases.attributes).
    attributes = models.JSONField(_("补充信息"), default=dict, blank=True)

    satisfaction = models.CharField(_("满意度"), max_length=12, choices=Satisfaction.choices, blank=True)
    rating_comment = models.TextField(_("评价意见"), max_length=1000, blank=True)
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)

    created_at = models.DateTimeField(_("上报时间"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)
    dispatched_at = models.DateTimeField(_("派遣时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    version = models.PositiveIntegerField(default=0, editable=False)

    # 一网统管: where the case is handled now and the total clock it runs against. `due_at` is
    # set at the first dispatch and moves only by an approved extension or a suspension, so a
    # case bounced between units keeps its original clock.
    priority = models.CharField(_("紧急程度"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    level = models.CharField(_("办理层级"), max_length=10, choices=RegionLevel.choices, default=RegionLevel.TOWN)
    due_at = models.DateTimeField(_("办结时限"), null=True, blank=True)
    yellow_at = models.DateTimeField(_("预警时间"), null=True, blank=True, editable=False)
    warning = models.CharField(_("预警状态"), max_length=8, choices=WarningLevel.choices, default=WarningLevel.NONE)
    suspended_at = models.DateTimeField(_("缓办开始"), null=True, blank=True)
    return_count = models.PositiveSmallIntegerField(_("退回次数"), default=0)
    needs_ruling = models.BooleanField(_("待指挥中心裁定"), default=False)
    repeat_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="repeats", verbose_name=_("重复件")
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("案件")
        verbose_name_plural = _("案件")
        indexes = [
            models.Index(fields=["status", "region_code"], name="case_status_region"),
            models.Index(fields=["assigned_unit", "status"], name="case_unit_status"),
            # The deadline sweep reads only these two ranges; with nothing due it touches no row.
            models.Index(fields=["warning", "due_at"], name="case_warning_due"),
            models.Index(fields=["warning", "yellow_at"], name="case_warning_yellow"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(lat__isnull=True, lng__isnull=True)
                | Q(lat__gte=-90, lat__lte=90, lng__gte=-180, lng__lte=180),
                name="case_location_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_kind=""), name="case_rejection_has_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class CaseEvent(models.Model):
    """One row per transition, written in the same transaction as the change; never updated."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events", verbose_name=_("案件"))
    action = models.CharField(_("操作"), max_length=20, choices=CaseAction.choices)
    from_status = models.CharField(_("原状态"), max_length=12, choices=CaseStatus.choices, blank=True)
    to_status = models.CharField(_("新状态"), max_length=12, choices=CaseStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("操作人"),
    )
    actor_unit = models.ForeignKey(
        "units.HandlingUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("操作单位"),
    )
    # The handling unit the event concerns (the unit dispatched to, signing, handling, returning…),
    # so evaluation reads one indexed column instead of parsing `data`.
    unit = models.ForeignKey(
        "units.HandlingUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="case_events",
        verbose_name=_("承办单位"),
    )
    reason = models.TextField(_("说明"), max_length=2000, blank=True)
    data = models.JSONField(default=dict, blank=True)
    is_public = models.BooleanField(_("对群众公开"), default=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["unit", "action", "created_at"], name="caseevent_unit_action_time")]
        verbose_name = _("案件事件")
        verbose_name_plural = _("案件事件")

    def __str__(self) -> str:
        return f"{self.case_id} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("CaseEvent rows are immutable")
        super().save(*args, **kwargs)


class AttachmentKind(models.TextChoices):
    REPORT = "report", _("上报照片")
    HANDLING = "handling", _("处置照片")


def attachment_path(instance: Attachment, filename: str) -> str:
    # The stored name is our own (hash + extension): user-supplied names never reach the disk.
    return f"cases/{instance.sha256[:2]}/{instance.sha256}.{instance.extension}"


class Attachment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="attachments", verbose_name=_("案件"))
    event = models.ForeignKey(
        CaseEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="attachments"
    )
    kind = models.CharField(max_length=10, choices=AttachmentKind.choices, default=AttachmentKind.REPORT)
    file = models.FileField(upload_to=attachment_path, max_length=200)
    content_type = models.CharField(max_length=40)
    extension = models.CharField(max_length=8)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("照片")
        verbose_name_plural = _("照片")

    def __str__(self) -> str:
        return f"{self.case_id}/{self.pk}"


class TimeLimit(models.Model):
    """Official time limits (category × priority); a row without a category is the default."""

    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, null=True, blank=True, related_name="time_limits", verbose_name=_("类别")
    )
    priority = models.CharField(_("紧急程度"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    sign_hours = models.DecimalField(_("签收时限（工作小时）"), max_digits=5, decimal_places=1)
    handle_days = models.PositiveSmallIntegerField(_("办结时限（工作日）"))

    class Meta:
        ordering = ["category__code", "priority"]
        verbose_name = _("办理时限")
        verbose_name_plural = _("办理时限")
        constraints = [
            models.UniqueConstraint(
                fields=["category", "priority"], condition=Q(category__isnull=False), name="timelimit_unique"
            ),
            models.UniqueConstraint(
                fields=["priority"], condition=Q(category__isnull=True), name="timelimit_unique_default"
            ),
            models.CheckConstraint(condition=Q(sign_hours__gt=0) & Q(handle_days__gt=0), name="timelimit_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.category or _('默认')} {self.get_priority_display()}"


class Assignment(models.Model):
    """One unit's part in a case: the lead (主办) or an assisting unit (协办), each with its own
    sign-for and handling clock."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="assignments", verbose_name=_("案件"))
    unit = models.ForeignKey(
        "units.HandlingUnit", on_delete=models.PROTECT, related_name="assignments", verbose_name=_("单位")
    )
    role = models.CharField(_("角色"), max_length=8, choices=AssignmentRole.choices)
    status = models.CharField(
        _("状态"), max_length=10, choices=AssignmentStatus.choices, default=AssignmentStatus.PENDING
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField(_("派遣时间"), default=timezone.now)
    sign_due_at = models.DateTimeField(_("签收时限"))
    signed_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    due_at = models.DateTimeField(_("办理时限"))
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    result = models.TextField(_("办理情况"), max_length=2000, blank=True)

    class Meta:
        ordering = ["assigned_at", "id"]
        verbose_name = _("承办任务")
        verbose_name_plural = _("承办任务")
        indexes = [models.Index(fields=["unit", "status"], name="assignment_unit_status")]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(role="lead", status__in=["pending", "signed"]),
                name="assignment_one_active_lead",
            ),
            models.CheckConstraint(condition=Q(due_at__gt=F("assigned_at")), name="assignment_due_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.unit_id} {self.role}"


class ExtensionStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("已驳回")


class ExtensionRequest(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="extension_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    days = models.PositiveSmallIntegerField(_("延期工作日"))
    reason = models.TextField(_("理由"), max_length=2000)
    status = models.CharField(max_length=10, choices=ExtensionStatus.choices, default=ExtensionStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("延期申请")
        verbose_name_plural = _("延期申请")
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=Q(status="pending"), name="extension_one_pending"),
            models.CheckConstraint(condition=Q(days__gte=1, days__lte=60), name="extension_days_range"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} +{self.days}"


class SupervisionStatus(models.TextChoices):
    OPEN = "open", _("待回复")
    ANSWERED = "answered", _("已回复")


class SupervisionOrder(models.Model):
    """督办: a higher level orders a unit to act on a case (or on its work in general) and to
    answer by a date. Open and late orders count against the unit in its evaluation."""

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, null=True, blank=True, related_name="supervision_orders",
        verbose_name=_("督办案件"),
    )
    unit = models.ForeignKey(
        "units.HandlingUnit", on_delete=models.PROTECT, related_name="supervision_orders", verbose_name=_("被督办单位")
    )
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    issuer_level = models.CharField(_("督办层级"), max_length=10, choices=RegionLevel.choices)
    reason = models.TextField(_("督办事由"), max_length=2000)
    respond_by = models.DateField(_("回复期限"))
    status = models.CharField(
        _("状态"), max_length=10, choices=SupervisionStatus.choices, default=SupervisionStatus.OPEN
    )
    response = models.TextField(_("回复"), max_length=2000, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    responded_at = models.DateTimeField(_("回复时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("督办时间"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("督办单")
        verbose_name_plural = _("督办单")
        indexes = [models.Index(fields=["unit", "status"], name="supervision_unit_status")]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.respond_by}"


class CallBackStatus(models.TextChoices):
    PENDING = "pending", _("待回访")
    DONE = "done", _("已回访")


class CallBack(models.Model):
    """回访: a sample of closed cases is called back; the result is recorded against the case."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="callback", verbose_name=_("案件"))
    status = models.CharField(_("状态"), max_length=10, choices=CallBackStatus.choices, default=CallBackStatus.PENDING)
    reached = models.BooleanField(_("联系上"), null=True, blank=True)
    satisfaction = models.CharField(_("回访满意度"), max_length=12, choices=Satisfaction.choices, blank=True)
    note = models.TextField(_("回访记录"), max_length=2000, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    done_at = models.DateTimeField(_("回访时间"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("回访")
        verbose_name_plural = _("回访")
        indexes = [models.Index(fields=["status", "created_at"], name="callback_status")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.status}"


def default_evaluation_weights() -> dict[str, float]:
    # 三率 as one published local weighting has them (DOMAIN §3); a city changes them as data.
    return {"response": 30, "resolution": 35, "satisfaction": 35}


def default_evaluation_deductions() -> dict[str, float]:
    return {"verify_fail_each": 0.2, "return_from_third_each": 0.5, "falsify_each": 1, "shirk_each": 1}


EVALUATION_WEIGHT_KEYS = frozenset(default_evaluation_weights())
EVALUATION_DEDUCTION_KEYS = frozenset(default_evaluation_deductions())


class EvaluationScheme(models.Model):
    """联动考评 rules: the weights of the three rates, the deductions, and the 按期结案率 at or
    above which the resolution part gets full marks. Cities change these, so they are a row, not
    code; at most one scheme is active, and without one cases.evaluation uses the defaults."""

    name = models.CharField(_("名称"), max_length=60, unique=True)
    is_active = models.BooleanField(_("启用"), default=False)
    weights = models.JSONField(_("权重"), default=default_evaluation_weights)
    deductions = models.JSONField(_("扣分标准"), default=default_evaluation_deductions)
    full_marks_threshold = models.DecimalField(
        _("按期结案率满分线（%）"), max_digits=5, decimal_places=2, default=70
    )
    points_per_point_below = models.DecimalField(
        _("每低一个百分点扣分"), max_digits=5, decimal_places=2, default=1
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_active", "name"]
        verbose_name = _("考评方案")
        verbose_name_plural = _("考评方案")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="evaluationscheme_one_active"
            ),
            models.CheckConstraint(
                condition=Q(full_marks_threshold__gte=0, full_marks_threshold__lte=100)
                & Q(points_per_point_below__gte=0),
                name="evaluationscheme_threshold_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if not _numbers_for(self.weights, EVALUATION_WEIGHT_KEYS, exact=True) or not sum(self.weights.values()):
            errors["weights"] = str(_("权重应为 response、resolution、satisfaction 三项非负数，且不全为 0。"))
        if not _numbers_for(self.deductions, EVALUATION_DEDUCTION_KEYS, exact=False):
            errors["deductions"] = str(
                _("扣分标准只能包含 verify_fail_each、return_from_third_each、falsify_each、shirk_each，且为非负数。")
            )
        if errors:
            raise ValidationError(errors)

    def weight(self, key: str) -> float:
        return float((self.weights or {}).get(key, 0))

    def deduction(self, key: str) -> float:
        return float((self.deductions or {}).get(key, default_evaluation_deductions()[key]))


def _numbers_for(value: object, keys: frozenset[str], *, exact: bool) -> bool:
    if not isinstance(value, dict) or not set(value) <= keys or (exact and set(value) != keys):
        return False
    return all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value.values())


class CaseSupporter(models.Model):
    """Someone else with the same problem: a citizen who said "me too", or the reporter of a
    case merged into this one. Every supporter hears the outcome."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="supporters", verbose_name=_("案件"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    merged_case = models.OneToOneField(
        Case, on_delete=models.CASCADE, null=True, blank=True, related_name="merged_into_support"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("附议")
        verbose_name_plural = _("附议")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "user"], condition=Q(user__isnull=False), name="supporter_once_per_user"
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(merged_case__isnull=False), name="supporter_is_someone"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} +1"


class EvaluationRollup(models.Model):
    """联动考评 roll-up (sizhi.cases.evaluation_rollup): how many of one unit's countable things
    fall on one local `day`, kept exact in the same transaction as every CaseEvent write and
    summed, never read one by one (a row may sit at zero).

    The dates `a` … `e` are the few facts the period-dependent conditions of the event walk need
    (the tenure's dispatch day, the day a deadline state starts to hold, …); the table in
    sizhi.cases.evaluation_rollup's docstring says which. 0001-01-01 in all five means "counts in
    every period containing the day", which is where nearly everything lands: one row per unit
    and day, with a few more for histories the window of the walk cuts."""

    unit_id = models.BigIntegerField()
    day = models.DateField()
    a = models.DateField()
    b = models.DateField()
    c = models.DateField()
    d = models.DateField()
    e = models.DateField()
    dispatched = models.IntegerField(default=0)
    responded = models.IntegerField(default=0)
    signed_24h = models.IntegerField(default=0)
    closed_7d = models.IntegerField(default=0)
    shirks = models.IntegerField(default=0)
    handle = models.IntegerField(default=0)
    handle_seconds = models.FloatField(default=0.0)
    handles = models.IntegerField(default=0)
    returns = models.IntegerField(default=0)
    overdue = models.IntegerField(default=0)
    rated = models.IntegerField(default=0)
    satisfied = models.IntegerField(default=0)
    verify_early = models.IntegerField(default=0)
    verify_fails = models.IntegerField(default=0)
    handled = models.IntegerField(default=0)
    resolved = models.IntegerField(default=0)
    due_open = models.IntegerField(default=0)
    due_suspended = models.IntegerField(default=0)
    due_on_time = models.IntegerField(default=0)
    due_late = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("考评汇总")
        verbose_name_plural = _("考评汇总")
        constraints = [
            # Unit and day first: a period's figures are one range scan of this index per unit.
            models.UniqueConstraint(fields=["unit_id", "day", "a", "b", "c", "d", "e"], name="evaluationrollup_key"),
        ]
        # A city's ranking reads every unit's rows of the period.
        indexes = [models.Index(fields=["day"], name="evaluationrollup_day")]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.day}"


def _evaluation_rollup_after_event(sender: type[CaseEvent], instance: CaseEvent, created: bool, raw: bool = False,
                                   **kwargs: Any) -> None:
    # Every CaseEvent written through the ORM one at a time (transitions, services, fixtures of
    # tests) moves the 联动考评 roll-up in the same transaction; bulk writers call record() or
    # rebuild themselves. Imported here: the roll-up module reads these models.
    if created and not raw:
        from sizhi.cases import evaluation_rollup

        evaluation_rollup.record([instance])


models.signals.post_save.connect(
    _evaluation_rollup_after_event, sender=CaseEvent, dispatch_uid="cases.evaluation_rollup.post_save"
)
