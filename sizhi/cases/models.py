"""Categories, cases, their immutable events and their photos."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sizhi.cases.workflow import CaseAction, CaseStatus, Channel, RejectionKind, Satisfaction


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

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("案件")
        verbose_name_plural = _("案件")
        indexes = [
            models.Index(fields=["status", "region_code"], name="case_status_region"),
            models.Index(fields=["assigned_unit", "status"], name="case_unit_status"),
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
    reason = models.TextField(_("说明"), max_length=2000, blank=True)
    data = models.JSONField(default=dict, blank=True)
    is_public = models.BooleanField(_("对群众公开"), default=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
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
