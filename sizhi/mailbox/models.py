"""书记信箱: letters to a party secretary, the officials they are about, the delegates the
addressee names, every state change, replies and photos.

A letter lives outside the case tables on purpose: nothing that lists, counts, searches or
exports cases can ever reach it. Its body, its heading and the writer's identity are stored
encrypted; an anonymous letter keeps no account, address or device identifier at all, and the
writer's tracking code is kept only as a SHA-256 hash.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from sizhi.privacy.fields import EncryptedTextField
from sizhi.regions.models import RegionLevel


class LetterLevel(models.TextChoices):
    """Which secretary of the writer's area the letter goes to."""

    VILLAGE = RegionLevel.VILLAGE.value, _("村（社区）党组织书记")
    TOWN = RegionLevel.TOWN.value, _("乡镇（街道）党委书记")
    DISTRICT = RegionLevel.DISTRICT.value, _("区（县）委书记")


class LetterStatus(models.TextChoices):
    RECEIVED = "received", _("已送达")
    READ = "read", _("已阅")
    REPLIED = "replied", _("已回复")
    CLOSED = "closed", _("已办结")
    CONVERTED = "converted", _("已转为办件")


OPEN_LETTER_STATUSES = frozenset({LetterStatus.RECEIVED, LetterStatus.READ, LetterStatus.REPLIED})


class Identity(models.TextChoices):
    """What of the writer's identity may travel with a case made from the letter. The writer
    sets the most that may travel; the addressee chooses at most that when converting."""

    NOTHING = "nothing", _("不提供身份")
    NAME = "name", _("仅提供姓名")
    NAME_PHONE = "name_phone", _("提供姓名和电话")


IDENTITY_ORDER = [Identity.NOTHING, Identity.NAME, Identity.NAME_PHONE]


class LetterAction(models.TextChoices):
    RECEIVED = "received", _("收到来信")
    READ = "read", _("阅信")
    SUBJECT = "subject", _("标注被反映人")
    DELEGATED = "delegated", _("指定协办人")
    UNDELEGATED = "undelegated", _("撤销协办人")
    REPLIED = "replied", _("回复")
    CONVERTED = "converted", _("转为办件")
    CLOSED = "closed", _("办结")


class Letter(models.Model):
    addressee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("收信书记")
    )
    # The addressee's region when the letter was written: the area whose staff may be delegates.
    region = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("收信书记所在区划")
    )
    level = models.CharField(_("收信层级"), max_length=10, choices=LetterLevel.choices)
    title = EncryptedTextField(_("标题"))
    body = EncryptedTextField(_("来信内容"))
    # Named letters only: anonymous letters keep no account link and no name or phone.
    writer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("写信人账号"),
    )
    writer_name = EncryptedTextField(_("写信人姓名"), blank=True)
    writer_phone = EncryptedTextField(_("写信人电话"), blank=True)
    is_anonymous = models.BooleanField(_("匿名"), default=False)
    identity_consent = models.CharField(
        _("转办时可提供的身份"), max_length=12, choices=Identity.choices, default=Identity.NOTHING
    )
    status = models.CharField(_("状态"), max_length=10, choices=LetterStatus.choices, default=LetterStatus.RECEIVED)
    tracking_hash = models.CharField(max_length=64, unique=True, editable=False)
    # A hash of the form's one-time token, so a double submit makes one letter.
    idempotency_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    case = models.OneToOneField(
        "cases.Case", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("转办案件")
    )
    converted_identity = models.CharField(_("转办时提供的身份"), max_length=12, choices=Identity.choices, blank=True)
    created_at = models.DateTimeField(_("来信时间"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("书记信箱来信")
        verbose_name_plural = _("书记信箱来信")
        indexes = [models.Index(fields=["addressee", "status"], name="letter_addressee_status")]
        constraints = [
            # Anonymous means anonymous in the row itself, not only in the pages.
            models.CheckConstraint(
                condition=Q(is_anonymous=False, writer__isnull=False)
                | Q(is_anonymous=True, writer__isnull=True, identity_consent="nothing"),
                name="letter_anonymous_has_no_writer",
            ),
            models.CheckConstraint(
                condition=Q(status="converted", case__isnull=False) | (~Q(status="converted") & Q(case__isnull=True)),
                name="letter_converted_has_case",
            ),
            models.CheckConstraint(
                condition=Q(level__in=["village", "town", "district"]), name="letter_level_valid"
            ),
        ]

    def __str__(self) -> str:
        # Never the heading or the body: this string may end up in logs.
        return f"letter {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_LETTER_STATUSES


class LetterSubject(models.Model):
    """An official the letter is about: picked by the writer from the officials of the area, or
    marked by the addressee (an account, or only a name when the person has none). A subject
    never sees the letter and can never be made its delegate."""

    class MarkedBy(models.TextChoices):
        WRITER = "writer", _("写信人")
        ADDRESSEE = "addressee", _("收信书记")

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="subjects")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("被反映人"),
    )
    name = EncryptedTextField(_("被反映人姓名"), blank=True)
    marked_by = models.CharField(max_length=10, choices=MarkedBy.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("被反映人")
        verbose_name_plural = _("被反映人")
        constraints = [
            models.UniqueConstraint(
                fields=["letter", "user"], condition=Q(user__isnull=False), name="lettersubject_once_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"letter {self.letter_id} subject {self.pk}"


class LetterDelegate(models.Model):
    """Someone the addressee lets read and answer the letter; `removed_at` ends it (the row
    stays, so the history of who could read the letter is complete)."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="delegates")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["added_at", "id"]
        verbose_name = _("协办人")
        verbose_name_plural = _("协办人")
        constraints = [
            models.UniqueConstraint(
                fields=["letter", "user"], condition=Q(removed_at__isnull=True), name="letterdelegate_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"letter {self.letter_id} delegate {self.user_id}"


class LetterEvent(models.Model):
    """One row per change, written in the same transaction; never updated. Holds ids only."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("操作"), max_length=12, choices=LetterAction.choices)
    from_status = models.CharField(max_length=10, choices=LetterStatus.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=LetterStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The person an event is about: the delegate added or removed, the subject marked.
    other_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("来信记录")
        verbose_name_plural = _("来信记录")

    def __str__(self) -> str:
        return f"letter {self.letter_id} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("LetterEvent rows are immutable")
        super().save(*args, **kwargs)


class LetterReply(models.Model):
    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = EncryptedTextField(_("回复内容"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("回复")
        verbose_name_plural = _("回复")

    def __str__(self) -> str:
        return f"letter {self.letter_id} reply {self.pk}"


class _PrivateStorage(FileSystemStorage):
    """Letter photos sit beside, not inside, MEDIA_ROOT: no static file server configured for
    media ever serves them; only the permission-checking view reads them."""

    @cached_property
    def base_location(self) -> str:  # type: ignore[override]
        return str(settings.MEDIA_ROOT).rstrip("/\\") + "-private"

    @cached_property
    def location(self) -> str:  # type: ignore[override]
        return os.path.abspath(self.base_location)

    @cached_property
    def base_url(self) -> None:  # type: ignore[override]
        return None


def _private_storage() -> FileSystemStorage:
    return _PrivateStorage()


def letter_photo_path(instance: LetterPhoto, filename: str) -> str:
    # A random name, never the writer's: not derivable from the picture or the letter.
    return f"mailbox/{secrets.token_hex(16)}.{instance.extension}"


class LetterPhoto(models.Model):
    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(upload_to=letter_photo_path, storage=_private_storage, max_length=200)
    content_type = models.CharField(max_length=40)
    extension = models.CharField(max_length=8)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("来信照片")
        verbose_name_plural = _("来信照片")

    def __str__(self) -> str:
        return f"letter {self.letter_id} photo {self.pk}"
