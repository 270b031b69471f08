"""Versions of the category classifier. The model itself is a file under the models folder;
a row records where it is, how good it was on its hold-out, and whether it is the one in use."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def models_dir() -> Path:
    return Path(settings.DATA_DIR) / "models"


class ClassifierSource(models.TextChoices):
    CSV = "csv", _("CSV 文件")
    CASES = "cases", _("已结案件")


class ClassifierModel(models.Model):
    version = models.PositiveIntegerField(_("版本"), unique=True)
    # Relative to models_dir(), so a deployment can move its data folder.
    file = models.CharField(_("模型文件"), max_length=300)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    n_train = models.PositiveIntegerField(_("训练样本数"))
    accuracy = models.FloatField(_("准确率"), null=True, blank=True)
    macro_f1 = models.FloatField(_("宏平均 F1"), null=True, blank=True)
    labels = models.JSONField(_("类别"), default=list)
    is_active = models.BooleanField(_("使用中"), default=False)
    source = models.CharField(_("训练数据来源"), max_length=10, choices=ClassifierSource.choices)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("分类模型")
        verbose_name_plural = _("分类模型")
        constraints = [
            # Two active versions would make suggestions depend on which row a query meets first.
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="classifier_one_active"),
        ]

    def __str__(self) -> str:
        return f"v{self.version} ({self.source})"

    @property
    def path(self) -> Path:
        return models_dir() / self.file


# --- early warnings (预警) and briefings (研判报告): sizhi.insight.alerts and .briefings --------------


class RiskKind(models.TextChoices):
    SUICIDE = "suicide", _("轻生")
    VIOLENCE = "violence", _("暴力")
    GROUP_PROTEST = "group_protest", _("群体性事件")
    WAGE_ARREARS = "wage_arrears", _("欠薪")
    SAFETY_HAZARD = "safety_hazard", _("安全隐患")
    OTHER = "other", _("其他")


class RiskTerm(models.Model):
    """One word of the risk lexicon (高风险词库). Seeded from insight.lexicon; staff keep it."""

    term = models.CharField(_("词语"), max_length=30, unique=True)
    kind = models.CharField(_("类型"), max_length=16, choices=RiskKind.choices)
    weight = models.PositiveSmallIntegerField(
        _("权重"), default=5, help_text=_("1–10：命中词的最高权重决定预警等级，8 及以上为高，5–7 为中，其余为低。")
    )
    is_active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["kind", "-weight", "term"]
        verbose_name = _("高风险词")
        verbose_name_plural = _("高风险词")
        constraints = [
            models.CheckConstraint(condition=Q(weight__gte=1, weight__lte=10), name="riskterm_weight_range"),
            models.CheckConstraint(condition=Q(kind__in=RiskKind.values), name="riskterm_kind_valid"),
            models.CheckConstraint(condition=~Q(term=""), name="riskterm_term_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.term}（{self.get_kind_display()}）"


class AlertKind(models.TextChoices):
    RISK = "risk", _("高风险内容")
    SPIKE = "spike", _("案件激增")
    REPEAT_REPORTER = "repeat_reporter", _("反复反映")
    REPEAT_CHAIN = "repeat_chain", _("重复件")


class AlertSeverity(models.TextChoices):
    HIGH = "high", _("高")
    MEDIUM = "medium", _("中")
    LOW = "low", _("低")


class Alert(models.Model):
    """An early warning raised to the command centre. About one case (risk words, repeat
    complaints), or about a town and a top-level category on one day (a spike). Raised once:
    the two unique constraints make every detector idempotent, so scanning again is harmless.
    Secretary-mailbox letters are never scanned (sizhi.insight.alerts)."""

    kind = models.CharField(_("类型"), max_length=16, choices=AlertKind.choices)
    severity = models.CharField(_("等级"), max_length=8, choices=AlertSeverity.choices)
    reason = models.TextField(_("预警原因"), max_length=1000)
    # The case's 12-digit code, or the town's for a spike: scope filters are prefix matches.
    region_code = models.CharField(_("区划代码"), max_length=12, db_index=True)
    region = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("所属区划"),
    )
    case = models.ForeignKey(
        "cases.Case", on_delete=models.CASCADE, null=True, blank=True, related_name="alerts",
        verbose_name=_("案件"),
    )
    category = models.ForeignKey(
        "cases.Category", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("类别"),
    )
    day = models.DateField(_("日期"), null=True, blank=True)
    data = models.JSONField(_("依据"), default=dict, blank=True)
    created_at = models.DateTimeField(_("预警时间"), default=timezone.now, db_index=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("确认人"),
    )
    acknowledged_at = models.DateTimeField(_("确认时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("预警")
        verbose_name_plural = _("预警")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "case"], condition=Q(case__isnull=False), name="alert_once_per_case"
            ),
            models.UniqueConstraint(
                fields=["kind", "region_code", "category", "day"], condition=Q(case__isnull=True),
                name="alert_once_per_region_category_day",
            ),
            # Without a case the category and the day must be there, or the second constraint
            # would not hold (NULLs never collide).
            models.CheckConstraint(
                condition=Q(case__isnull=False) | Q(category__isnull=False, day__isnull=False),
                name="alert_has_subject",
            ),
            models.CheckConstraint(condition=Q(kind__in=AlertKind.values), name="alert_kind_valid"),
            models.CheckConstraint(condition=Q(severity__in=AlertSeverity.values), name="alert_severity_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.region_code} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_acknowledged(self) -> bool:
        return self.acknowledged_at is not None


class AlertCursor(models.Model):
    """Where the case scan stopped: the highest case-event id it has read (a high-water mark)."""

    name = models.CharField(max_length=40, unique=True)
    last_id = models.BigIntegerField(default=0)
    # [[event id, ISO time first missed], …]: ids below last_id with no committed event when
    # the scan passed them (alerts._gaps_below); read again until they are OVERLAP old.
    gaps = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("预警扫描进度")
        verbose_name_plural = _("预警扫描进度")

    def __str__(self) -> str:
        return f"{self.name}: {self.last_id}"


class BriefingPeriod(models.TextChoices):
    DAILY = "daily", _("日报")
    WEEKLY = "weekly", _("周报")


class Briefing(models.Model):
    """研判报告 of one region (city, district or town) for one day or one week, written by the
    worker. `start` and `end` are local dates, `end` excluded; `data` holds everything the pages
    and downloads show (sizhi.insight.briefings), so a briefing reads the same later on."""

    region = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("区划")
    )
    region_code = models.CharField(_("区划代码"), max_length=12, db_index=True)
    period = models.CharField(_("周期"), max_length=8, choices=BriefingPeriod.choices)
    start = models.DateField(_("开始日期"))
    end = models.DateField(_("结束日期（不含）"))
    generated_at = models.DateTimeField(_("生成时间"), default=timezone.now)
    data = models.JSONField(_("内容"), default=dict)

    class Meta:
        ordering = ["-start", "period", "region_code"]
        verbose_name = _("研判报告")
        verbose_name_plural = _("研判报告")
        constraints = [
            models.UniqueConstraint(fields=["region", "period", "start"], name="briefing_once_per_period"),
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="briefing_end_after_start"),
            models.CheckConstraint(condition=Q(period__in=BriefingPeriod.values), name="briefing_period_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.region_code} {self.period} {self.start}"


class CaseRollup(models.Model):
    """Running counts of cases for the dashboards (sizhi.insight.rollups), kept exact in the same
    transaction as every case write. `kind` says what is counted and which columns hold it:

    c  cases reported on `day` (grain d) or in the month starting on `day` (grain m), by leaf
       `category` (0: none) and `channel`: n, of them open (n_open) and open red-card (n_red)
    a  the same without category and channel, for the region breakdown (also at village depth)
    x  cases closed (status closed) on `day`: n
    r  ratings given on `day`: n, of them 满意 or 基本满意 (n_satisfied)
    s  open cases now, by `status`: n, of them red-card (n_red); `day` is a fixed date

    `area` is the first `depth` digits of the cases' region code. Secretary-mailbox cases are
    never counted. Rows are summed, never read one by one, so a row may sit at zero."""

    kind = models.CharField(max_length=1)
    grain = models.CharField(max_length=1)
    day = models.DateField()
    depth = models.PositiveSmallIntegerField()
    area = models.CharField(max_length=12)
    category = models.IntegerField(default=0)
    channel = models.CharField(max_length=10, default="")
    status = models.CharField(max_length=12, default="")
    n = models.BigIntegerField(default=0)
    n_open = models.BigIntegerField(default=0)
    n_red = models.BigIntegerField(default=0)
    n_satisfied = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("看板汇总")
        verbose_name_plural = _("看板汇总")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "grain", "depth", "area", "day", "category", "channel", "status"],
                name="caserollup_key",
            ),
        ]
        indexes = [models.Index(fields=["kind", "grain", "depth", "day"], name="caserollup_day")]

    def __str__(self) -> str:
        return f"{self.kind}{self.grain} {self.day} {self.area}"
