"""The one table of ops: where sign-in lockout counts while Redis is down (see redis_outage)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from sizhi.ops.redis_outage import LOCKOUT_FALLBACK_TABLE


class LockoutFallbackEntry(models.Model):
    # Read by Django's DatabaseCache, which expects exactly these three columns (the layout
    # `createcachetable` makes); made by a migration so that no deployment step is forgotten.
    cache_key = models.CharField(max_length=255, primary_key=True)
    value = models.TextField()
    expires = models.DateTimeField(db_index=True)

    class Meta:
        db_table = LOCKOUT_FALLBACK_TABLE
        verbose_name = _("登录锁定计数（Redis 不可用时）")
        verbose_name_plural = _("登录锁定计数（Redis 不可用时）")

    def __str__(self) -> str:
        return self.cache_key
