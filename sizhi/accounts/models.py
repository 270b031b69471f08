"""Users, roles and memberships. A membership binds a user to a handling unit in one role and
gives a scope: a region subtree, or a single grid for grid workers."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sizhi.accounts.phones import normalise_phone, phone_blind_index
from sizhi.privacy.fields import EncryptedTextField


class Role(models.TextChoices):
    GRID_WORKER = "grid_worker", _("网格员")
    VILLAGE_CADRE = "village_cadre", _("村（社区）干部")
    PARTY_SECRETARY = "party_secretary", _("党组织书记")
    TOWN_DISPATCHER = "town_dispatcher", _("乡镇（街道）中心调度员")
    DEPARTMENT_HANDLER = "department_handler", _("职能部门处置人员")
    DISTRICT_DISPATCHER = "district_dispatcher", _("区县指挥中心调度员")
    CITY_DISPATCHER = "city_dispatcher", _("市指挥中心调度员")
    LEADER = "leader", _("领导（只读）")
    SYSTEM_ADMIN = "system_admin", _("系统管理员")
    SECURITY_ADMIN = "security_admin", _("安全管理员")
    AUDIT_ADMIN = "audit_admin", _("审计管理员")


DISPATCHER_ROLES = frozenset({Role.TOWN_DISPATCHER, Role.DISTRICT_DISPATCHER, Role.CITY_DISPATCHER})
HANDLER_ROLES = frozenset(
    {Role.DEPARTMENT_HANDLER, Role.VILLAGE_CADRE, Role.PARTY_SECRETARY, Role.GRID_WORKER}
)
# 三权分立: these three are never combined in one account, nor with any case-handling role.
ADMIN_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})


class UserQuerySet(models.QuerySet["User"]):
    def with_phone(self, raw: str | None) -> UserQuerySet:
        """Users whose phone is `raw` however it was typed (+86, spaces, full-width digits);
        none when `raw` is not a mainland mobile number."""
        index = phone_blind_index(raw)
        return self.filter(phone_index=index) if index else self.none()


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    def get_by_phone(self, raw: str | None) -> User:
        """The user with this phone; raises User.DoesNotExist like get()."""
        user: User = self.get_queryset().with_phone(raw).get()
        return user


class User(AbstractUser):
    """Citizens log in with their mobile number; staff with a username.

    `phone` is the normalised 11-digit mainland number in Python and ciphertext in the database
    (PIPL: encrypted at rest); `phone_index` is its keyed blind index, the only thing lookups and
    the uniqueness constraint see. save() keeps the two in step, so write `user.phone = ...` and
    save; never filter on `phone` (it raises), use `User.objects.with_phone(raw)`."""

    phone = EncryptedTextField(_("手机号"), null=True, blank=True)
    phone_index = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    is_citizen = models.BooleanField(_("群众账号"), default=False)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.display_name or self.username

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.phone:
            number = normalise_phone(self.phone)
            if number is None:
                # The value itself is left out of the message: it may end up in a log.
                raise ValueError("User.phone must be a mainland mobile number")
            self.phone = number
        else:
            self.phone = None
        self.phone_index = phone_blind_index(self.phone)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "phone" in update_fields:
            kwargs["update_fields"] = {*update_fields, "phone_index"}
        super().save(*args, **kwargs)


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("用户"))
    role = models.CharField(_("角色"), max_length=30, choices=Role.choices)
    unit = models.ForeignKey(
        "units.HandlingUnit", on_delete=models.PROTECT, null=True, blank=True,
        related_name="memberships", verbose_name=_("所属单位"),
    )
    scope = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("管辖范围"),
    )
    grid = models.ForeignKey(
        "regions.Grid", on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("负责网格"),
    )
    is_active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("任职")
        verbose_name_plural = _("任职")
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "unit"], name="membership_unique_role_unit"),
            # A staff role that touches cases needs a scope; admin roles must not have one.
            models.CheckConstraint(
                condition=Q(role__in=sorted(r.value for r in ADMIN_ROLES)) | Q(scope__isnull=False),
                name="membership_scope_required",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()}"


class VerificationCode(models.Model):
    """An SMS code, stored as a hash only; attempts are counted so it cannot be brute-forced.
    The phone is kept only as its blind index: codes are looked up by number, never shown."""

    class Purpose(models.TextChoices):
        SIGNUP = "signup", _("注册")
        RESET = "reset", _("重置密码")

    phone_index = models.CharField(max_length=64, db_index=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.purpose} {self.created_at:%Y-%m-%d %H:%M}"
