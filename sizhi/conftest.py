"""Shared test world: a small slice of 洛阳 with every staff role, in and out of scope.

    洛阳市 4103
    ├── 老城区 410302 ── 西关街道 410302001 ── 金业路社区 410302001001 (grids A1-1, A1-2)
    │                                      └── 周公庙社区 410302001002 (grid A2-1)
    └── 西工区 410303 ── 王城路街道 410303001 ── 唐宫路社区 410303001001 (grid B1-1)
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from sizhi.accounts.models import Membership, Role, User
from sizhi.cases.models import Category
from sizhi.regions.models import Grid, GridSetVersion, Region, RegionLevel, VillageKind
from sizhi.units.models import HandlingUnit, UnitKind

PASSWORD = "Sizhi-test-pass-2026"  # noqa: S105 - test accounts only


def square(lng: float, lat: float, size: float = 0.01) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [[[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]],
    }


def inside(grid: Grid) -> tuple[float, float]:
    """(lat, lng) of a point well inside a square test grid."""
    ring = grid.boundary["coordinates"][0]
    return ring[0][1] + 0.005, ring[0][0] + 0.005


def make_photo(*, fmt: str = "JPEG", size: tuple[int, int] = (64, 48), exif_gps: bool = False,
               name: str = "photo.jpg") -> SimpleUploadedFile:
    image = Image.new("RGB", size, (200, 120, 40))
    out = io.BytesIO()
    kwargs = {}
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "TestCam"  # Make
        exif[0x8825] = {1: "N", 2: (34.0, 37.0, 10.0), 3: "E", 4: (112.0, 27.0, 5.0)}  # GPS IFD
        kwargs["exif"] = exif
    image.save(out, format=fmt, **kwargs)
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


@dataclass
class World:
    city: Region
    district_a: Region
    district_b: Region
    town_a: Region
    town_b: Region
    village_a1: Region
    village_a2: Region
    village_b1: Region
    grid_a1: Grid
    grid_a1b: Grid
    grid_a2: Grid
    grid_b1: Grid
    town_a_centre: HandlingUnit
    town_b_centre: HandlingUnit
    district_a_centre: HandlingUnit
    city_centre: HandlingUnit
    district_a_dept: HandlingUnit
    village_a1_committee: HandlingUnit
    category: Category
    users: dict[str, User] = field(default_factory=dict)

    def user(self, name: str) -> User:
        return self.users[name]


def _region(code: str, name: str, level: str, parent: Region | None, kind: str = "") -> Region:
    prefix = {"city": 4, "district": 6, "town": 9, "village": 12}[level]
    return Region.objects.create(code=code, prefix=code[:prefix], name=name, level=level, parent=parent, kind=kind)


def _grid(village: Region, code: str, lng: float, lat: float) -> Grid:
    boundary = square(lng, lat)
    return Grid.objects.create(
        code=code, name=code[-3:], village=village, region_code=village.code, boundary=boundary,
        min_lng=lng, min_lat=lat, max_lng=lng + 0.01, max_lat=lat + 0.01,
    )


def refresh_grid_index() -> None:
    """Tests create grids inside a rolled-back transaction, so on-commit invalidation never
    fires there; bump the version and drop the process index by hand."""
    from sizhi.regions import spatial

    row, _ = GridSetVersion.objects.get_or_create(pk=1)
    GridSetVersion.objects.filter(pk=row.pk).update(version=row.version + 1, token=uuid.uuid4())
    spatial.invalidate_grid_index()


def build_world() -> World:
    city = _region("410300000000", "洛阳市", RegionLevel.CITY, None)
    district_a = _region("410302000000", "老城区", RegionLevel.DISTRICT, city)
    district_b = _region("410303000000", "西工区", RegionLevel.DISTRICT, city)
    town_a = _region("410302001000", "西关街道", RegionLevel.TOWN, district_a)
    town_b = _region("410303001000", "王城路街道", RegionLevel.TOWN, district_b)
    village_a1 = _region("410302001001", "金业路社区", RegionLevel.VILLAGE, town_a, VillageKind.COMMUNITY)
    village_a2 = _region("410302001002", "周公庙社区", RegionLevel.VILLAGE, town_a, VillageKind.COMMUNITY)
    village_b1 = _region("410303001001", "唐宫路社区", RegionLevel.VILLAGE, town_b, VillageKind.COMMUNITY)
    grid_a1 = _grid(village_a1, "410302001001001", 112.40, 34.60)
    grid_a1b = _grid(village_a1, "410302001001002", 112.41, 34.60)
    grid_a2 = _grid(village_a2, "410302001002001", 112.42, 34.60)
    grid_b1 = _grid(village_b1, "410303001001001", 112.50, 34.70)
    refresh_grid_index()

    def unit(name: str, kind: str, region: Region) -> HandlingUnit:
        return HandlingUnit.objects.create(name=name, kind=kind, region=region)

    w = World(
        city=city, district_a=district_a, district_b=district_b, town_a=town_a, town_b=town_b,
        village_a1=village_a1, village_a2=village_a2, village_b1=village_b1,
        grid_a1=grid_a1, grid_a1b=grid_a1b, grid_a2=grid_a2, grid_b1=grid_b1,
        town_a_centre=unit("西关街道综治中心", UnitKind.COMMAND_CENTRE, town_a),
        town_b_centre=unit("王城路街道综治中心", UnitKind.COMMAND_CENTRE, town_b),
        district_a_centre=unit("老城区社会治理指挥中心", UnitKind.COMMAND_CENTRE, district_a),
        city_centre=unit("洛阳市社会治理指挥中心", UnitKind.COMMAND_CENTRE, city),
        district_a_dept=unit("老城区城市管理局", UnitKind.DEPARTMENT, district_a),
        village_a1_committee=unit("金业路社区居委会", UnitKind.VILLAGE_COMMITTEE, village_a1),
        category=Category.objects.get(code="roads-damage"),
    )

    def staff(name: str, role: str, unit: HandlingUnit | None, scope: Region | None, grid: Grid | None = None) -> User:
        user = User.objects.create_user(username=name, password=PASSWORD, display_name=name)
        Membership.objects.create(user=user, role=role, unit=unit, scope=scope, grid=grid)
        w.users[name] = user
        return user

    citizen = User.objects.create_user(
        username="citizen", password=PASSWORD, phone="13800000001", is_citizen=True, display_name="张三"
    )
    w.users["citizen"] = citizen
    other = User.objects.create_user(
        username="citizen2", password=PASSWORD, phone="13800000002", is_citizen=True, display_name="李四"
    )
    w.users["citizen2"] = other
    staff("grid_worker", Role.GRID_WORKER, w.village_a1_committee, village_a1, grid_a1)
    staff("grid_worker_b", Role.GRID_WORKER, None, village_b1, grid_b1)
    staff("village_cadre", Role.VILLAGE_CADRE, w.village_a1_committee, village_a1)
    staff("party_secretary", Role.PARTY_SECRETARY, w.village_a1_committee, village_a1)
    staff("town_dispatcher", Role.TOWN_DISPATCHER, w.town_a_centre, town_a)
    staff("town_dispatcher_b", Role.TOWN_DISPATCHER, w.town_b_centre, town_b)
    staff("department_handler", Role.DEPARTMENT_HANDLER, w.district_a_dept, district_a)
    staff("district_dispatcher", Role.DISTRICT_DISPATCHER, w.district_a_centre, district_a)
    staff("city_dispatcher", Role.CITY_DISPATCHER, w.city_centre, city)
    staff("leader", Role.LEADER, None, city)
    staff("system_admin", Role.SYSTEM_ADMIN, None, None)
    staff("security_admin", Role.SECURITY_ADMIN, None, None)
    staff("audit_admin", Role.AUDIT_ADMIN, None, None)
    return w


@pytest.fixture
def world(db: None) -> Iterator[World]:
    yield build_world()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: object, tmp_path: object) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined, operator]
