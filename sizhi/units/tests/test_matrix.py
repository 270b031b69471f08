import pytest

from sizhi.cases.models import Category
from sizhi.conftest import World
from sizhi.regions.models import RegionLevel
from sizhi.units import matrix
from sizhi.units.models import HandlingUnit, UnitKind
from sizhi.units.services import rule_save, rules_import_csv


@pytest.fixture
def roads(world: World) -> Category:
    return world.category  # roads-damage, a sub-category of roads


def test_lowest_level_with_a_rule_wins(world: World, roads: Category) -> None:
    rule_save(category=roads, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局")
    rule_save(category=roads, level=RegionLevel.VILLAGE, lead_unit_kind=UnitKind.VILLAGE_COMMITTEE)
    found = matrix.resolve(roads, world.village_a1)
    assert found is not None
    assert (found.level, found.lead) == (RegionLevel.VILLAGE, world.village_a1_committee)


def test_level_without_the_named_unit_falls_through_to_the_next_level(world: World, roads: Category) -> None:
    # 周公庙社区 has no village committee unit in the test world.
    rule_save(category=roads, level=RegionLevel.VILLAGE, lead_unit_kind=UnitKind.VILLAGE_COMMITTEE)
    rule_save(category=roads, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局")
    found = matrix.resolve(roads, world.village_a2)
    assert found is not None and found.lead == world.district_a_dept


def test_sub_category_rule_beats_the_parent_rule(world: World, roads: Category) -> None:
    assert roads.parent is not None
    HandlingUnit.objects.create(name="老城区住建局", kind=UnitKind.DEPARTMENT, region=world.district_a)
    rule_save(category=roads.parent, level=RegionLevel.DISTRICT, lead_unit_name="老城区住建局")
    rule_save(category=roads, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局")
    found = matrix.resolve(roads, world.village_a1)
    assert found is not None and found.lead == world.district_a_dept
    other = Category.objects.get(code="roads-bridge")
    found = matrix.resolve(other, world.village_a1)
    assert found is not None and found.lead.name == "老城区住建局"


def test_regional_rule_beats_the_citywide_rule_and_stays_in_its_region(world: World, roads: Category) -> None:
    HandlingUnit.objects.create(name="西工区城市管理局", kind=UnitKind.DEPARTMENT, region=world.district_b)
    rule_save(category=roads, level=RegionLevel.DISTRICT, lead_unit_name="西工区城市管理局")
    rule_save(category=roads, level=RegionLevel.DISTRICT, region=world.district_a, lead_unit_name="老城区城市管理局")
    a = matrix.resolve(roads, world.village_a1)
    b = matrix.resolve(roads, world.village_b1)
    assert a is not None and a.lead == world.district_a_dept
    assert b is not None and b.lead.name == "西工区城市管理局"


def test_assisting_units_are_found_in_the_same_area(world: World, roads: Category) -> None:
    rule_save(
        category=roads, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局",
        assist_unit_names=["老城区社会治理指挥中心", "不存在的单位", "老城区城市管理局"],
    )
    found = matrix.resolve(roads, world.village_a1)
    assert found is not None and found.assists == [world.district_a_centre]


def test_case_known_only_at_city_level_skips_lower_rules(world: World, roads: Category) -> None:
    rule_save(category=roads, level=RegionLevel.VILLAGE, lead_unit_kind=UnitKind.VILLAGE_COMMITTEE)
    assert matrix.resolve(roads, world.city) is None
    rule_save(category=roads, level=RegionLevel.CITY, lead_unit_kind=UnitKind.COMMAND_CENTRE)
    found = matrix.resolve(roads, world.city)
    assert found is not None and found.lead == world.city_centre


def test_resolution_from_a_higher_level_is_used_for_escalation(world: World, roads: Category) -> None:
    rule_save(category=roads, level=RegionLevel.VILLAGE, lead_unit_kind=UnitKind.VILLAGE_COMMITTEE)
    rule_save(category=roads, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局")
    found = matrix.resolve(roads, world.village_a1, from_level=RegionLevel.TOWN)
    assert found is not None and found.level == RegionLevel.DISTRICT


def test_csv_import_checks_every_line_and_imports_nothing_on_error(world: World) -> None:
    bad = (
        "category,level,region,lead_unit,lead_kind,assist_units\n"
        "roads-damage,district,,老城区城市管理局,,老城区社会治理指挥中心\n"
        "no-such,town,,某单位,,\n"
        "roads-damage,galaxy,999999,,,\n"
    )
    result = rules_import_csv(bad)
    assert result.saved == 0
    assert [e.split("：")[0] for e in result.errors] == ["第 3 行", "第 4 行"]
    assert "no-such" in result.errors[0] and "999999" in result.errors[1]
    from sizhi.units.models import ResponsibilityRule

    assert not ResponsibilityRule.objects.exists()
    good = (
        "\ufeffcategory,level,region,lead_unit,lead_kind,assist_units\n"
        "roads-damage,district,410302,老城区城市管理局,,\n"
    )
    assert rules_import_csv(good).saved == 1
    assert ResponsibilityRule.objects.get().region == world.district_a


def test_rule_needs_a_lead_unit(world: World, roads: Category) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        rule_save(category=roads, level=RegionLevel.TOWN)
    with pytest.raises(ValidationError):
        rule_save(category=roads, level=RegionLevel.TOWN, region=world.village_a1, lead_unit_name="x")
