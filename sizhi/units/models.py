"""Handling units (承办单位): centres, departments and village committees at each level."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from sizhi.regions.models import Region


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
