"""Open311 GeoReport v2 integrations and what they sent that a case has no field for."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Open311Client(models.Model):
    """An integration allowed to submit requests (a partner app, another city system).

    Only the SHA-256 of its API key is kept. A slow password hash is not needed: the key is 256
    random bits, so it cannot be guessed from its hash, and a plain digest can be looked up by
    index on every request. The service account is the actor of everything the client does.
    """

    name = models.CharField(_("名称"), max_length=100, unique=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The key's first characters, so that an operator can tell keys apart without the key.
    key_prefix = models.CharField(_("密钥前缀"), max_length=12, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="open311_client",
        verbose_name=_("服务账号"),
    )
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("Open311 接入方")
        verbose_name_plural = _("Open311 接入方")

    def __str__(self) -> str:
        return self.name


class Open311Request(models.Model):
    """The Open311 side of a case submitted through the API: which client sent it, the
    client's retry token, and the spec's fields a case has no place for. Never published
    except `address_id` and `media_url`, which the spec returns with the request."""

    case = models.OneToOneField(
        "cases.Case", on_delete=models.PROTECT, related_name="open311", verbose_name=_("案件")
    )
    client = models.ForeignKey(
        Open311Client, on_delete=models.PROTECT, related_name="requests", verbose_name=_("接入方")
    )
    token = models.CharField(_("提交标识"), max_length=40, blank=True)
    address_id = models.CharField(_("地址编码"), max_length=64, blank=True)
    account_id = models.CharField(_("接入方账号"), max_length=64, blank=True)
    # A link as the client sent it (http/https only); it is never fetched.
    media_url = models.URLField(_("媒体链接"), max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("Open311 提交")
        verbose_name_plural = _("Open311 提交")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "token"], condition=~Q(token=""), name="open311request_unique_token"
            ),
        ]
        indexes = [models.Index(fields=["token"], name="open311request_token")]

    def __str__(self) -> str:
        return f"{self.client} → {self.case_id}"
