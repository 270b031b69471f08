"""Handling units (承办单位): centres, departments and village committees at each level."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from sizhi.regions.models import Region, RegionLevel


class UnitKind(models.TextChoices):
    COMMAND_CENTRE = "command_centre", _("社会治理指挥中心")
    DEPARTMENT = "department", _("职能部门")
    VILLAGE_COMMITTEE = "village_committee", _("村（居）委会")
    MEDIATION_CENTRE = "mediation_centre", _("矛盾调处化解中心")
    PSYCHOLOGY_CENTRE = "psychology_centre", _("社会心理服务中心")


class HandlingUnit(models.Model):
    name = models.CharField(_("单位名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=UnitKind.choices)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="handling_units", verbose_name=_("所在区划")
    )
    region_code = models.CharField(max_length=12, db_index=True, editable=False)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["region_code", "kind", "name"]
        verbose_name = _("承办单位")
        verbose_name_plural = _("承办单位")
        constraints = [models.UniqueConstraint(fields=["region", "name"], name="handlingunit_unique_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        self.region_code = self.region.code
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class ResponsibilityRule(models.Model):
    """One line of the responsibility matrix (权责清单): cases of `category` (or of its
    sub-categories) at `level` go to the unit found in the case's ancestor region at that level,
    by name (e.g. "城市管理局") or by kind (e.g. the village committee). `region`, when set,
    limits the rule to that subtree, so a district may differ from the city's default.
    """

    category = models.ForeignKey(
        "cases.Category", on_delete=models.CASCADE, related_name="responsibility_rules", verbose_name=_("事件类别")
    )
    level = models.CharField(_("承办层级"), max_length=10, choices=RegionLevel.choices)
    region = models.ForeignKey(
        Region, on_delete=models.CASCADE, null=True, blank=True, related_name="responsibility_rules",
        verbose_name=_("适用区域"), help_text=_("留空表示全市适用"),
    )
    lead_unit_name = models.CharField(_("主办单位名称"), max_length=100, blank=True)
    lead_unit_kind = models.CharField(_("主办单位类型"), max_length=20, choices=UnitKind.choices, blank=True)
    assist_unit_names = models.JSONField(_("协办单位名称"), default=list, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category__code", "level"]
        verbose_name = _("权责清单事项")
        verbose_name_plural = _("权责清单")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(lead_unit_name="") | ~models.Q(lead_unit_kind=""),
                name="rule_names_a_lead_unit",
            ),
            models.UniqueConstraint(
                fields=["category", "level", "region"], condition=models.Q(region__isnull=False),
                name="rule_unique_in_region",
            ),
            models.UniqueConstraint(
                fields=["category", "level"], condition=models.Q(region__isnull=True), name="rule_unique_citywide"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category} @ {self.get_level_display()}"
