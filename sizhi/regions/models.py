"""The one network (一张网): the region tree, grids and what lives inside a grid."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sizhi.accounts.phones import normalise_phone, phone_blind_index
from sizhi.privacy.fields import EncryptedTextField
from sizhi.privacy.idcards import id_number_blind_index, normalise_id_number


class RegionLevel(models.TextChoices):
    CITY = "city", _("市")
    DISTRICT = "district", _("区/县")
    TOWN = "town", _("乡镇/街道")
    VILLAGE = "village", _("村/社区")


# Significant digits of a 12-digit statistical code at each level (GB/T 2260 + NBS town/village codes).
LEVEL_PREFIX_LENGTH = {
    RegionLevel.CITY: 4,
    RegionLevel.DISTRICT: 6,
    RegionLevel.TOWN: 9,
    RegionLevel.VILLAGE: 12,
}
PARENT_LEVEL = {
    RegionLevel.DISTRICT: RegionLevel.CITY,
    RegionLevel.TOWN: RegionLevel.DISTRICT,
    RegionLevel.VILLAGE: RegionLevel.TOWN,
}


class VillageKind(models.TextChoices):
    VILLAGE = "village", _("行政村")
    COMMUNITY = "community", _("社区")


class Region(models.Model):
    """A division keyed by its official 12-digit statistical code.

    `prefix` is the code's significant part; every descendant's code starts with it, so a
    scope filter is one indexed `startswith` (LIKE 'prefix%') instead of a tree walk.
    """

    code = models.CharField(_("统计代码"), max_length=12, unique=True)
    prefix = models.CharField(_("代码前缀"), max_length=12, db_index=True)
    name = models.CharField(_("名称"), max_length=100)
    level = models.CharField(_("层级"), max_length=10, choices=RegionLevel.choices)
    kind = models.CharField(_("类型"), max_length=10, choices=VillageKind.choices, blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
        verbose_name=_("上级"),
    )
    center_lat = models.FloatField(_("中心纬度"), null=True, blank=True)
    center_lng = models.FloatField(_("中心经度"), null=True, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        constraints = [
            models.CheckConstraint(
                condition=Q(level="city") | Q(parent__isnull=False), name="region_parent_required_below_city"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def contains(self, other: Region) -> bool:
        return other.code.startswith(self.prefix)


class Grid(models.Model):
    """A cell of the one network. The boundary is GeoJSON (WGS-84 lng/lat) so that SQLite and
    PostgreSQL store it alike; lookups run on an in-memory shapely index (regions.spatial)."""

    code = models.CharField(_("网格编码"), max_length=20, unique=True)
    name = models.CharField(_("网格名称"), max_length=100)
    village = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="grids", verbose_name=_("所属村/社区"),
        limit_choices_to={"level": RegionLevel.VILLAGE},
    )
    region_code = models.CharField(_("村/社区代码"), max_length=12, db_index=True, editable=False)
    boundary = models.JSONField(_("边界"))
    min_lng = models.FloatField(editable=False)
    min_lat = models.FloatField(editable=False)
    max_lng = models.FloatField(editable=False)
    max_lat = models.FloatField(editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("网格")
        verbose_name_plural = _("网格")

    def __str__(self) -> str:
        return f"{self.village.name} {self.name}"


class GridRole(models.TextChoices):
    LEADER = "leader", _("网格长")
    WORKER = "worker", _("网格员")


class Employment(models.TextChoices):
    FULL_TIME = "full_time", _("专职")
    PART_TIME = "part_time", _("兼职")


class GridWorker(models.Model):
    grid = models.ForeignKey(Grid, on_delete=models.CASCADE, related_name="workers", verbose_name=_("网格"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grid_posts", verbose_name=_("人员")
    )
    role = models.CharField(_("职务"), max_length=10, choices=GridRole.choices, default=GridRole.WORKER)
    employment = models.CharField(
        _("专兼职"), max_length=10, choices=Employment.choices, default=Employment.FULL_TIME
    )

    class Meta:
        verbose_name = _("网格员")
        verbose_name_plural = _("网格员")
        constraints = [
            models.UniqueConstraint(fields=["grid", "user"], name="gridworker_once_per_grid"),
            models.UniqueConstraint(
                fields=["grid"], condition=Q(role="leader"), name="gridworker_one_leader_per_grid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grid} {self.get_role_display()}"


# The one GridSetVersion row every writer bumps and every process reads.
GRID_SET_VERSION_PK = 1


class GridSetVersion(models.Model):
    """One row whose counter moves whenever any grid changes, so every process can tell
    cheaply whether its in-memory spatial index is stale.

    `token` changes with every bump as well: a counter alone can come back to a value an index
    was already built for (a rolled-back transaction, or every test starting again from 0),
    while a fresh random token never does.
    """

    version = models.PositiveBigIntegerField(default=0)
    token = models.UUIDField(default=uuid.uuid4, editable=False)

    def __str__(self) -> str:
        return f"grid set v{self.version}"


class Compound(models.Model):
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="compounds", verbose_name=_("网格"))
    name = models.CharField(_("小区名称"), max_length=100)
    address = models.CharField(_("地址"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("小区")
        verbose_name_plural = _("小区")

    def __str__(self) -> str:
        return self.name


class Building(models.Model):
    compound = models.ForeignKey(
        Compound, on_delete=models.PROTECT, related_name="buildings", verbose_name=_("小区")
    )
    name = models.CharField(_("楼栋"), max_length=50)

    class Meta:
        verbose_name = _("楼栋")
        verbose_name_plural = _("楼栋")
        constraints = [models.UniqueConstraint(fields=["compound", "name"], name="building_unique_name")]

    def __str__(self) -> str:
        return f"{self.compound.name} {self.name}"


class Unit(models.Model):
    """单元 (a stairwell of a building), not a handling unit (see units.HandlingUnit)."""

    building = models.ForeignKey(
        Building, on_delete=models.PROTECT, related_name="units", verbose_name=_("楼栋")
    )
    name = models.CharField(_("单元"), max_length=50)

    class Meta:
        verbose_name = _("单元")
        verbose_name_plural = _("单元")
        constraints = [models.UniqueConstraint(fields=["building", "name"], name="unit_unique_name")]

    def __str__(self) -> str:
        return f"{self.building} {self.name}"


class Household(models.Model):
    grid = models.ForeignKey(
        Grid, on_delete=models.PROTECT, related_name="households", verbose_name=_("网格")
    )
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="households",
        verbose_name=_("单元"),
    )
    door = models.CharField(_("门牌号"), max_length=50)
    head_name = models.CharField(_("户主"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("户")
        verbose_name_plural = _("户")

    def __str__(self) -> str:
        return self.door


class Resident(models.Model):
    """A resident. The ID-card number and phone are personal data (PIPL): ciphertext in the
    database, plaintext in Python, found through their keyed blind indexes. save() keeps each
    index in step with its value; register and change residents through
    sizhi.privacy.services, which validates and audits."""

    household = models.ForeignKey(
        Household, on_delete=models.CASCADE, related_name="residents", verbose_name=_("户")
    )
    name = models.CharField(_("姓名"), max_length=50)
    relation = models.CharField(_("与户主关系"), max_length=20, blank=True)
    birth_year = models.PositiveSmallIntegerField(_("出生年份"), null=True, blank=True)
    is_party_member = models.BooleanField(_("党员"), default=False)
    id_number = EncryptedTextField(_("身份证号码"), null=True, blank=True)
    # One person, one registration: the index is unique.
    id_number_index = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    phone = EncryptedTextField(_("手机号"), null=True, blank=True)
    phone_index = models.CharField(  # noqa: DJ001 - NULL is "no phone", like the ciphertext column
        max_length=64, db_index=True, null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("居民")
        verbose_name_plural = _("居民")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.id_number = normalise_id_number(self.id_number) if self.id_number else None
        self.id_number_index = id_number_blind_index(self.id_number) if self.id_number else None
        if self.phone:
            number = normalise_phone(self.phone)
            if number is None:
                raise ValueError("Resident.phone must be a mainland mobile number")  # never the value
            self.phone = number
        else:
            self.phone = None
        self.phone_index = phone_blind_index(self.phone)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            extra = {f"{f}_index" for f in ("id_number", "phone") if f in update_fields}
            kwargs["update_fields"] = {*update_fields, *extra}
        super().save(*args, **kwargs)
