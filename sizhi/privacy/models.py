"""Why someone saw a full ID-card number or phone number (PIPL: purpose limitation).

One row per unmasking: who, which object and field, the declared purpose and the reason in their
own words. The audit record ("privacy.unmask") points here by id and never holds the value; the
reason text stays out of the audit chain because people write names into it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UnmaskPurpose(models.TextChoices):
    CONTACT = "contact", _("联系当事人核实或反馈情况")
    VERIFY_IDENTITY = "verify_identity", _("核验身份")
    SERVICE = "service", _("为本人办理服务事项")
    LEGAL = "legal", _("依法配合调查取证")


class UnmaskField(models.TextChoices):
    ID_NUMBER = "id_number", _("身份证号码")
    PHONE = "phone", _("手机号")


class UnmaskRecord(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("查看人")
    )
    target_type = models.CharField(_("对象类型"), max_length=80)
    target_id = models.CharField(_("对象编号"), max_length=64)
    field = models.CharField(_("字段"), max_length=20, choices=UnmaskField.choices)
    purpose = models.CharField(_("用途"), max_length=20, choices=UnmaskPurpose.choices)
    reason = models.CharField(_("事由"), max_length=200)
    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("查看完整信息记录")
        verbose_name_plural = _("查看完整信息记录")
        indexes = [models.Index(fields=["target_type", "target_id"], name="unmask_target")]

    def __str__(self) -> str:
        return f"{self.target_type}#{self.target_id} {self.field}"
