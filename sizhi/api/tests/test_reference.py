"""Categories, the region tree, grids and units: public reference data (units need a sign-in)."""

from __future__ import annotations

import pytest

from sizhi.cases.models import Category
from sizhi.conftest import World, inside
from sizhi.units.models import HandlingUnit

pytestmark = pytest.mark.django_db


def test_categories_are_a_tree_of_active_categories(world: World, as_user) -> None:
    parent = world.category.parent
    assert parent is not None
    Category.objects.create(code="roads-retired", name="停用小类", parent=parent, is_active=False)
    body = as_user(None).get("/categories?page_size=100").json()
    roots = {c["code"]: c for c in body["results"]}
    assert body["count"] == len(roots) == Category.objects.filter(parent__isnull=True, is_active=True).count()
    children = [c["code"] for c in roots[parent.code]["children"]]
    assert world.category.code in children
    assert "roads-retired" not in children


def test_region_detail_has_its_ancestors(world: World, as_user) -> None:
    body = as_user(None).get(f"/regions/{world.village_a1.code}").json()
    assert body["name"] == "金业路社区"
    assert body["level"] == "village"
    assert [a["code"] for a in body["ancestors"]] == [world.city.code, world.district_a.code, world.town_a.code]
    assert body["parent"]["code"] == world.town_a.code


def test_region_accepts_a_short_code(world: World, as_user) -> None:
    assert as_user(None).get("/regions/410302").json()["code"] == world.district_a.code


@pytest.mark.parametrize("code", ["999999999999", "4103020010011", "abc", "%00", "４１０３"])
def test_unknown_or_malformed_region_is_404(world: World, as_user, code: str) -> None:
    response = as_user(None).get(f"/regions/{code}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_region_children_and_roots(world: World, as_user) -> None:
    client = as_user(None)
    roots = client.get("/regions").json()
    assert [r["code"] for r in roots["results"]] == [world.city.code]
    children = client.get(f"/regions/{world.city.code}/children").json()
    assert [r["code"] for r in children["results"]] == [world.district_a.code, world.district_b.code]
    assert children["results"][0]["parent"]["code"] == world.city.code


def test_region_children_are_paginated(world: World, as_user) -> None:
    client = as_user(None)
    first = client.get(f"/regions/{world.city.code}/children?page_size=1").json()
    assert first["count"] == 2 and len(first["results"]) == 1
    assert first["previous"] is None
    assert first["next"] == f"http://testserver/api/v1/regions/{world.city.code}/children?page_size=1&page=2"
    second = client.get(first["next"]).json()
    assert second["results"][0]["code"] == world.district_b.code
    assert second["next"] is None and "page=1" in second["previous"]


def test_grids_of_a_village(world: World, as_user) -> None:
    body = as_user(None).get(f"/regions/{world.village_a1.code}/grids").json()
    assert [g["code"] for g in body["results"]] == [world.grid_a1.code, world.grid_a1b.code]
    assert body["results"][0]["boundary"]["type"] == "Polygon"
    assert body["results"][0]["village"]["code"] == world.village_a1.code


def test_locate_a_point(world: World, as_user) -> None:
    lat, lng = inside(world.grid_b1)
    body = as_user(None).get(f"/grids/locate?lat={lat}&lng={lng}").json()
    assert body["code"] == world.grid_b1.code


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("lat=0&lng=0", 404, "grid_not_found"),
        ("lat=nan&lng=112.4", 400, "validation_error"),
        ("lat=1e308&lng=112.4", 400, "validation_error"),
        ("lat=inf&lng=112.4", 400, "validation_error"),
        ("lat=34.6", 400, "validation_error"),
        ("lat=abc&lng=%00", 400, "validation_error"),
    ],
)
def test_locate_refuses_what_is_no_point(world: World, as_user, query: str, status: int, code: str) -> None:
    response = as_user(None).get(f"/grids/locate?{query}")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_units_by_region_need_a_sign_in(world: World, as_user) -> None:
    assert as_user(None).get(f"/units?region={world.district_a.code}").status_code == 401
    body = as_user("citizen").get(f"/units?region={world.district_a.code}").json()
    names = [u["name"] for u in body["results"]]
    assert set(names) == set(
        HandlingUnit.objects.filter(region_code__startswith="410302").values_list("name", flat=True)
    )
    assert "王城路街道综治中心" not in names


def test_units_leave_out_inactive_ones(world: World, as_user) -> None:
    HandlingUnit.objects.filter(pk=world.district_a_dept.pk).update(is_active=False)
    body = as_user("citizen").get(f"/units?region={world.district_a.code}").json()
    assert world.district_a_dept.name not in [u["name"] for u in body["results"]]


def test_units_of_unknown_region_is_404(world: World, as_user) -> None:
    assert as_user("citizen").get("/units?region=123").status_code == 404
