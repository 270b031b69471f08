"""Handling units: list by region, create, edit, deactivate and reactivate through units.services."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from sizhi.conftest import World
from sizhi.units import matrix
from sizhi.units.models import HandlingUnit, UnitKind
from sizhi.units.services import rule_save, unit_save


def listed(admin: Client, **params: str) -> set[int]:
    html = admin.get(reverse("settingsui:units"), params).content.decode()
    return {int(p.split('"')[0]) for p in html.split('data-testid="unit-row" data-unit="')[1:]}


def test_units_are_listed_by_region_subtree(world: World, admin: Client) -> None:
    everyone = set(HandlingUnit.objects.values_list("pk", flat=True))
    assert listed(admin) == everyone
    in_district_a = {world.district_a_centre.pk, world.district_a_dept.pk, world.town_a_centre.pk,
                     world.village_a1_committee.pk}
    assert listed(admin, region="410302") == in_district_a
    assert listed(admin, region="410302001001") == {world.village_a1_committee.pk}
    assert listed(admin, kind="department") == {world.district_a_dept.pk}
    assert listed(admin, q="王城路") == {world.town_b_centre.pk}
    assert listed(admin, region="not-a-code") == everyone


def test_admin_creates_and_edits_a_unit(world: World, admin: Client) -> None:
    response = admin.post(reverse("settingsui:unit_create"), {
        "name": "  周公庙社区居委会\u200b ", "kind": "village_committee", "region": "410302001002",
    })
    assert response.status_code == 302
    unit = HandlingUnit.objects.get(name="周公庙社区居委会")
    assert (unit.kind, unit.region, unit.region_code, unit.is_active) == (
        "village_committee", world.village_a2, "410302001002", True
    )
    response = admin.post(reverse("settingsui:unit_edit", args=[unit.pk]), {
        "name": "周公庙社区居民委员会", "kind": "village_committee", "region": "410302001002",
    })
    assert response.status_code == 302
    unit.refresh_from_db()
    assert unit.name == "周公庙社区居民委员会"


def test_duplicate_names_in_one_region_are_refused(world: World, admin: Client) -> None:
    response = admin.post(reverse("settingsui:unit_create"), {
        "name": "老城区城市管理局", "kind": "department", "region": "410302",
    })
    assert response.status_code == 400 and "该区划下已有同名单位" in response.content.decode()
    # The same name elsewhere is another unit.
    assert admin.post(reverse("settingsui:unit_create"), {
        "name": "老城区城市管理局", "kind": "department", "region": "410303",
    }).status_code == 302
    with pytest.raises(ValidationError):
        unit_save(name="", kind="department", region=world.district_a)
    with pytest.raises(ValidationError):
        unit_save(name="x", kind="nonsense", region=world.district_a)


@pytest.mark.parametrize("data", [
    {"name": "", "kind": "department", "region": "410302"},
    {"name": "长" * 101, "kind": "department", "region": "410302"},
    {"name": "新单位", "kind": "nonsense", "region": "410302"},
    {"name": "新单位", "kind": "department", "region": ""},
    {"name": "新单位", "kind": "department", "region": "123456"},
    {"name": "新\x00单位", "kind": "department", "region": "410302\x00"},
    {"name": "新单位", "kind": "department", "region": "4" * 5000},
])
def test_bad_unit_input_is_explained(world: World, admin: Client, data: dict[str, str]) -> None:
    before = HandlingUnit.objects.count()
    response = admin.post(reverse("settingsui:unit_create"), data)
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert HandlingUnit.objects.count() == before


def test_deactivating_a_unit_takes_it_out_of_the_matrix(world: World, admin: Client) -> None:
    rule_save(category=world.category, level="village", lead_unit_kind=UnitKind.VILLAGE_COMMITTEE)
    rule_save(category=world.category, level="district", lead_unit_name="老城区城市管理局")
    found = matrix.resolve(world.category, world.village_a1)
    assert found is not None and found.lead == world.village_a1_committee
    url = reverse("settingsui:unit_toggle", args=[world.village_a1_committee.pk])
    assert admin.post(url).status_code == 302
    world.village_a1_committee.refresh_from_db()
    assert not world.village_a1_committee.is_active
    found = matrix.resolve(world.category, world.village_a1)
    assert found is not None and found.lead == world.district_a_dept
    assert "停用" in admin.get(reverse("settingsui:units")).content.decode()
    admin.post(url)
    world.village_a1_committee.refresh_from_db()
    assert world.village_a1_committee.is_active
    # Editing keeps the unit's state.
    admin.post(url)
    admin.post(reverse("settingsui:unit_edit", args=[world.village_a1_committee.pk]), {
        "name": "金业路社区居委会", "kind": "village_committee", "region": "410302001001",
    })
    world.village_a1_committee.refresh_from_db()
    assert not world.village_a1_committee.is_active


def test_toggling_a_unit_stored_with_a_bad_name_explains_instead_of_failing(world: World, admin: Client) -> None:
    HandlingUnit.objects.create(name="老城区住建局", kind=UnitKind.DEPARTMENT, region=world.district_a)
    legacy = HandlingUnit.objects.create(name="老城区住建局\u200b", kind=UnitKind.DEPARTMENT, region=world.district_a)
    response = admin.post(reverse("settingsui:unit_toggle", args=[legacy.pk]), follow=True)
    assert response.status_code == 200 and "该区划下已有同名单位" in response.content.decode()
    legacy.refresh_from_db()
    assert legacy.is_active
