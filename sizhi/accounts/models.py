"""Users, roles and memberships. A membership binds a user to a handling unit in one role and
gives a scope: a region subtree, or a single grid for grid workers."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


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


class User(AbstractUser):
    """Citizens log in with their mobile number; staff with a username. `phone` is the
    normalised 11-digit mainland number (encryption at rest arrives with the privacy work)."""

    phone = models.CharField(_("手机号"), max_length=11, unique=True, null=True, blank=True)
    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    is_citizen = models.BooleanField(_("群众账号"), default=False)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username


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
    """An SMS code, stored as a hash only; attempts are counted so it cannot be brute-forced."""

    class Purpose(models.TextChoices):
        SIGNUP = "signup", _("注册")
        RESET = "reset", _("重置密码")

    phone = models.CharField(max_length=11, db_index=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.purpose} {self.created_at:%Y-%m-%d %H:%M}"
