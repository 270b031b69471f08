"""Second factor (TOTP) and the record of who is signed in where.

The TOTP secret is stored encrypted (sizhi.privacy.crypto); recovery codes only as keyed
hashes. A UserSession row names each web session of a user, so that logout, password change
and deactivation can end all of them at once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TOTPDevice(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device", verbose_name=_("用户")
    )
    # Ciphertext from sizhi.privacy.crypto.encrypt(context="security.totpdevice.secret").
    secret = models.TextField(_("密钥（密文）"))
    confirmed = models.BooleanField(_("已确认"), default=False)
    # The 30-second time step of the last accepted code: a code of that step or an older one is
    # refused, so a code seen over someone's shoulder cannot be replayed.
    last_used_step = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("动态口令设备")
        verbose_name_plural = _("动态口令设备")

    def __str__(self) -> str:
        return f"TOTP #{self.pk} (user {self.user_id})"


class RecoveryCode(models.Model):
    """A one-time code for when the phone with the authenticator is lost; shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes", verbose_name=_("用户")
    )
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("恢复码")
        verbose_name_plural = _("恢复码")
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="recovery_code_unique")]

    def __str__(self) -> str:
        return f"recovery code #{self.pk} (user {self.user_id})"


class UserSession(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="web_sessions", verbose_name=_("用户")
    )
    session_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    is_staff_session = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("登录会话")
        verbose_name_plural = _("登录会话")
        indexes = [models.Index(fields=["user", "created_at"], name="usersession_user_created")]

    def __str__(self) -> str:
        return f"session of user {self.user_id} since {self.created_at:%Y-%m-%d %H:%M}"


class PasswordChangeRequired(models.Model):
    """The account signs in with a one-time password (new account, administrator reset) and
    must choose its own before anything else."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("用户")
    )
    since = models.DateTimeField()

    class Meta:
        verbose_name = _("待修改密码")
        verbose_name_plural = _("待修改密码")

    def __str__(self) -> str:
        return f"password change required (user {self.user_id})"
