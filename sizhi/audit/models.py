"""The audit trail: one hash-chained row per recorded action, plus the chain head.

Rows are only ever inserted (services.audit → chain.append); nothing in the application
updates or deletes them, and on PostgreSQL a trigger refuses both (migration 0002). Retention
is therefore unlimited, which covers the ≥ 6 months MLPS level 3 asks for.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

GENESIS_HASH = "0" * 64


class Result(models.TextChoices):
    OK = "ok", _("成功")
    DENIED = "denied", _("拒绝")
    FAILED = "failed", _("失败")


class AuditRecord(models.Model):
    # The sequence number is the primary key: unique, gap-free (chain.append hands out head + 1
    # under a lock) and the order the chain is walked in.
    seq = models.BigIntegerField(_("序号"), primary_key=True)
    at = models.DateTimeField(_("时间"), db_index=True)
    # The foreign key lets the pages filter by account; the snapshot below is what the hash covers,
    # so deleting an account (SET_NULL) leaves the chain verifiable.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    actor_pk = models.BigIntegerField(_("操作人编号"), null=True, blank=True)
    actor_username = models.CharField(_("操作人用户名"), max_length=150, blank=True)
    actor_roles = models.CharField(_("操作人角色"), max_length=255, blank=True)
    action = models.CharField(_("动作"), max_length=80, db_index=True)
    target_type = models.CharField(_("对象类型"), max_length=80, blank=True)
    target_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    result = models.CharField(_("结果"), max_length=8, choices=Result.choices)
    # Text, not inet: PostgreSQL would re-spell some IPv6 forms and break the hash. NULL (not "")
    # says "deliberately not kept" (anonymous reports), as the requirement for records puts it.
    source_address = models.CharField(_("来源地址"), max_length=45, null=True, blank=True)  # noqa: DJ001
    detail = models.JSONField(_("详情"), default=dict, blank=True)
    prev_hash = models.CharField(_("前一条哈希"), max_length=64)
    hash = models.CharField(_("哈希"), max_length=64)

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["actor", "-seq"], name="audit_actor_seq"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.result}"


class AuditHead(models.Model):
    """The single row that remembers where the chain ends, so a truncated tail is noticed."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        verbose_name = _("审计链头")
        verbose_name_plural = _("审计链头")

    def __str__(self) -> str:
        return f"head {self.last_seq}"
