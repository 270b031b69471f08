"""The one record the demo keeps about itself."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DemoLoad(models.Model):
    """Written in the same transaction as the demo data, so its presence means the demo city is
    complete: `sizhi demo load` then does nothing, and `--reset` knows which accounts are the demo's."""

    created_at = models.DateTimeField(_("载入时间"), default=timezone.now)
    seed = models.IntegerField(_("随机种子"))
    districts = models.CharField(_("区县范围"), max_length=200, blank=True, help_text=_("逗号分隔；空为全市"))
    user_ids = models.JSONField(_("示例账号"), default=list)

    class Meta:
        verbose_name = _("示例数据载入记录")
        verbose_name_plural = _("示例数据载入记录")

    def __str__(self) -> str:
        return f"demo {self.created_at:%Y-%m-%d %H:%M}"
