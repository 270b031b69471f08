"""The floor of the intake benchmark (bench/intake.py): one table, no relations, no events."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class FloorReport(models.Model):
    """What the cheapest possible report intake would store: the five fields and a time."""

    title = models.CharField(_("标题"), max_length=100, blank=True)
    description = models.TextField(_("描述"), max_length=4000)
    lat = models.FloatField(_("纬度"))
    lng = models.FloatField(_("经度"))
    address = models.CharField(_("地址"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("基准对照报告")
        verbose_name_plural = _("基准对照报告")

    def __str__(self) -> str:
        return self.title or self.description[:20]
