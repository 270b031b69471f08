from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from sizhi.accounts.models import User
from sizhi.regions.models import Compound, Employment, Grid, GridRole, GridSetVersion, GridWorker, Region, RegionLevel
from sizhi.regions.services import (
    boundary_parse,
    grid_create,
    grid_delete,
    grid_update_boundary,
    grid_worker_assign,
    grid_worker_remove,
    region_upsert,
)
from sizhi.regions.tests.factories import Tree, square

pytestmark = pytest.mark.django_db


def error_codes(exc: ValidationError) -> set[str]:
    if hasattr(exc, "error_dict"):
        return {e.code for errors in exc.error_dict.values() for e in errors if e.code}
    return {e.code for e in exc.error_list if e.code}


# --- regions --------------------------------------------------------------------------------------


def test_region_upsert_pads_codes_and_derives_prefix_and_parent(tree: Tree) -> None:
    assert (tree.town.code, tree.town.prefix, tree.town.parent) == ("410302001000", "410302001", tree.district)
    assert tree.other_village.parent == tree.other_town  # parent found from the code


def test_region_upsert_updates_in_place(tree: Tree) -> None:
    region, created = region_upsert(code="410302001001", name="金业路社区居委会", level=RegionLevel.VILLAGE,
                                    kind="community", center_lat=34.68, center_lng=112.47)
    assert not created and region.pk == tree.community.pk
    region, _ = region_upsert(code="410302001001", name="金业路社区", level=RegionLevel.VILLAGE, kind="community")
    assert (region.name, region.center_lat) == ("金业路社区", 34.68)  # no centre given keeps the old one


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"code": "410303001002", "level": "village", "parent": "town"}, "region_parent_mismatch"),
        ({"code": "410302001", "level": "town", "parent": "town"}, "region_parent_mismatch"),
        ({"code": "410302001100", "level": "town"}, "region_code_level_mismatch"),
        ({"code": "410302000", "level": "town"}, "region_code_level_mismatch"),
        ({"code": "41030200100X", "level": "village"}, "region_code_invalid"),
        ({"code": "410399001", "level": "town"}, "region_parent_required"),
        ({"code": "410302001", "level": "district"}, "region_code_level_mismatch"),
        ({"code": "410302001002", "level": "village", "kind": "farm"}, "region_kind_invalid"),
        ({"code": "410302001000", "level": "town", "kind": "village"}, "region_kind_invalid"),
        ({"code": "410302001002", "level": "village", "center_lat": 134.0, "center_lng": 112.0}, "center_invalid"),
        ({"code": "410302001002", "level": "village", "name": " "}, "name_required"),
        ({"code": "4103", "level": "city", "parent": "town"}, "region_parent_invalid"),
    ],
)
def test_region_upsert_rejects(tree: Tree, kwargs: dict[str, object], code: str) -> None:
    args: dict[str, object] = {"name": "某地", **kwargs}
    if "parent" in args:
        args["parent"] = getattr(tree, str(args["parent"]))
    with pytest.raises(ValidationError) as caught:
        region_upsert(**args)  # type: ignore[arg-type]
    assert code in error_codes(caught.value)


def test_region_level_cannot_change(tree: Tree) -> None:
    Region.objects.filter(pk=tree.village.pk).update(level=RegionLevel.TOWN)
    with pytest.raises(ValidationError) as caught:
        region_upsert(code=tree.village.code, name="某某村", level=RegionLevel.VILLAGE)
    assert "region_level_conflict" in error_codes(caught.value)


# --- boundaries -----------------------------------------------------------------------------------


def test_boundary_parse_normalises_and_drops_altitude() -> None:
    raw = {"type": "Polygon", "coordinates": [[[112, 34, 100], [112.01, 34, 100], [112.01, 34.01, 100],
                                               [112, 34, 100]]]}
    parsed = boundary_parse(raw)
    assert parsed.geojson == {"type": "Polygon", "coordinates": [[[112.0, 34.0], [112.01, 34.0],
                                                                  [112.01, 34.01], [112.0, 34.0]]]}
    assert parsed.bbox == (112.0, 34.0, 112.01, 34.01)


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "Polygon", "coordinates": [[[float("nan"), 34], [112.01, 34], [112.01, 34.01], [float("nan"), 34]]]},
        {"type": "Polygon", "coordinates": [[[181, 34], [182, 34], [182, 35], [181, 34]]]},
        {"type": "Polygon", "coordinates": [[[112, 91], [113, 91], [113, 92], [112, 91]]]},
        {"type": "Polygon", "coordinates": [[[112, 34], [112, 34], [112, 34], [112, 34]]]},
        {"type": "LineString", "coordinates": [[112, 34], [113, 34]]},
        {"type": "Polygon", "coordinates": [[[112, 34], [112.01], [112.01, 34.01], [112, 34]]]},
        "POLYGON ((112 34, 113 34, 113 35, 112 34))",
        # two parts of a MultiPolygon that overlap
        {"type": "MultiPolygon", "coordinates": [square(112, 34)["coordinates"], square(112.005, 34)["coordinates"]]},
        # a hole that is not inside its shell
        {"type": "Polygon", "coordinates": [square(112, 34)["coordinates"][0], square(113, 34)["coordinates"][0]]},
    ],
)
def test_boundary_parse_rejects(raw: object) -> None:
    with pytest.raises(ValidationError) as caught:
        boundary_parse(raw)
    assert error_codes(caught.value) == {"boundary_invalid"}


# --- grids ----------------------------------------------------------------------------------------


def test_grid_create_fills_region_code_bbox_and_bumps_version(tree: Tree) -> None:
    assert not GridSetVersion.objects.exists()
    grid = grid_create(village=tree.community, code="410302001001001", name="第1网格",
                       boundary=square(112.40, 34.60))
    assert grid.region_code == "410302001001"
    assert (grid.min_lng, grid.min_lat, grid.max_lng, grid.max_lat) == pytest.approx((112.40, 34.60, 112.41, 34.61))
    row = GridSetVersion.objects.get()
    grid_create(village=tree.community, code="410302001001002", name="第2网格", boundary=square(112.41, 34.60))
    again = GridSetVersion.objects.get()
    assert again.version == row.version + 1 and again.token != row.token


def test_grid_create_reports_every_field(tree: Tree) -> None:
    with pytest.raises(ValidationError) as caught:
        grid_create(village=tree.town, code="", name="", boundary={"type": "Point"})
    assert set(caught.value.error_dict) == {"village", "code", "name", "boundary"}


@pytest.mark.parametrize(
    ("code", "error"),
    [("410303001001001", "grid_code_invalid"), ("410302001001001" + "9" * 10, "grid_code_invalid")],
)
def test_grid_code_must_extend_its_village_code(tree: Tree, code: str, error: str) -> None:
    with pytest.raises(ValidationError) as caught:
        grid_create(village=tree.community, code=code, name="第1网格", boundary=square(112.4, 34.6))
    assert error in error_codes(caught.value)


def test_grid_code_is_unique(tree: Tree) -> None:
    grid_create(village=tree.community, code="410302001001001", name="第1网格", boundary=square(112.4, 34.6))
    with pytest.raises(ValidationError) as caught:
        grid_create(village=tree.community, code="410302001001001", name="第2网格", boundary=square(112.5, 34.6))
    assert "grid_code_taken" in error_codes(caught.value)


def test_grid_update_boundary_and_delete_bump_version(tree: Tree) -> None:
    grid = grid_create(village=tree.community, code="410302001001001", name="第1网格", boundary=square(112.4, 34.6))
    v1 = GridSetVersion.objects.get().version
    grid_update_boundary(grid=grid, boundary=square(112.3, 34.5, 0.02))
    grid.refresh_from_db()
    assert (grid.min_lng, grid.max_lat) == pytest.approx((112.3, 34.52))
    with pytest.raises(ValidationError):
        grid_update_boundary(grid=grid, boundary=square(200, 34.5))
    grid_delete(grid=grid)
    assert not Grid.objects.exists()
    assert GridSetVersion.objects.get().version == v1 + 2


def test_grid_in_use_cannot_be_deleted(tree: Tree) -> None:
    grid = grid_create(village=tree.community, code="410302001001001", name="第1网格", boundary=square(112.4, 34.6))
    Compound.objects.create(grid=grid, name="某小区")
    with pytest.raises(ValidationError) as caught:
        grid_delete(grid=grid)
    assert "grid_in_use" in error_codes(caught.value)
    assert Grid.objects.filter(pk=grid.pk).exists()


# --- grid workers ---------------------------------------------------------------------------------


def test_grid_worker_assign_keeps_one_leader(tree: Tree) -> None:
    grid = grid_create(village=tree.community, code="410302001001001", name="第1网格", boundary=square(112.4, 34.6))
    alice = User.objects.create_user(username="alice", password="x-Sizhi-2026")
    bob = User.objects.create_user(username="bob", password="x-Sizhi-2026")

    grid_worker_assign(grid=grid, user=alice, role=GridRole.LEADER, employment=Employment.FULL_TIME)
    grid_worker_assign(grid=grid, user=bob, role=GridRole.WORKER, employment=Employment.PART_TIME)
    with pytest.raises(ValidationError) as caught:
        grid_worker_assign(grid=grid, user=bob, role=GridRole.LEADER, employment=Employment.PART_TIME)
    assert "grid_leader_taken" in error_codes(caught.value)

    # The leader steps down, then bob can take over; re-assigning updates the same post.
    grid_worker_assign(grid=grid, user=alice, role=GridRole.WORKER, employment=Employment.FULL_TIME)
    grid_worker_assign(grid=grid, user=bob, role=GridRole.LEADER, employment=Employment.FULL_TIME)
    assert dict(GridWorker.objects.values_list("user__username", "role")) == {"alice": "worker", "bob": "leader"}
    assert grid_worker_remove(grid=grid, user=alice)
    assert GridWorker.objects.count() == 1


@pytest.mark.parametrize(
    ("role", "employment", "active", "code"),
    [
        ("chief", Employment.FULL_TIME, True, "grid_role_invalid"),
        (GridRole.WORKER, "sometimes", True, "grid_employment_invalid"),
        (GridRole.WORKER, Employment.FULL_TIME, False, "grid_worker_inactive"),
    ],
)
def test_grid_worker_assign_rejects(tree: Tree, role: str, employment: str, active: bool, code: str) -> None:
    grid = grid_create(village=tree.community, code="410302001001001", name="第1网格", boundary=square(112.4, 34.6))
    user = User.objects.create_user(username="carol", password="x-Sizhi-2026", is_active=active)
    with pytest.raises(ValidationError) as caught:
        grid_worker_assign(grid=grid, user=user, role=role, employment=employment)
    assert code in error_codes(caught.value)
