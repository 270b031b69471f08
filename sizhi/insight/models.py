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
