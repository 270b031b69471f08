from __future__ import annotations

import pytest

from sizhi.regions.selectors import (
    grid_list_for_region,
    region_ancestors,
    region_by_code,
    region_scope_q,
    region_subtree,
    regions_children,
)
from sizhi.regions.services import grid_create
from sizhi.regions.tests.factories import Tree, square

pytestmark = pytest.mark.django_db


def test_subtree_is_the_prefix_range(tree: Tree) -> None:
    codes = set(region_subtree(tree.district).values_list("code", flat=True))
    assert codes == {"410302000000", "410302001000", "410302001001", "410302001201"}
    assert set(region_subtree(tree.city).values_list("pk", flat=True)) >= {tree.other_village.pk, tree.village.pk}
    assert not region_subtree(tree.village, include_self=False).exists()


def test_children_and_ancestors(tree: Tree) -> None:
    assert list(regions_children(tree.town)) == [tree.community, tree.village]
    assert region_ancestors(tree.village) == [tree.city, tree.district, tree.town]
    assert region_ancestors(tree.city) == []


def test_region_by_code_accepts_short_codes(tree: Tree) -> None:
    assert region_by_code("410302") == tree.district
    assert region_by_code("410302001001") == tree.community
    assert region_by_code("4103x") is None and region_by_code("4103029999999") is None


def test_grid_list_for_region(tree: Tree) -> None:
    a = grid_create(village=tree.community, code="410302001001001", name="第1网格", boundary=square(112.4, 34.6))
    b = grid_create(village=tree.village, code="410302001201001", name="第1网格", boundary=square(112.5, 34.6))
    c = grid_create(village=tree.other_village, code="410303001001001", name="第1网格", boundary=square(112.6, 34.6))
    assert list(grid_list_for_region(tree.district)) == [a, b]
    assert list(grid_list_for_region(tree.village)) == [b]
    assert list(grid_list_for_region(tree.city)) == [a, b, c]
    assert region_scope_q(tree.town, "region__code").children == [
        ("region__code__gte", "410302001000"), ("region__code__lte", "410302001999"),
    ]
