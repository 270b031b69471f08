"""The demo city is generated once for this module (about 10,000 grids, a few seconds) and
removed afterwards; the tests only read it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest
import shapely
from django.db import transaction

from sizhi.regions import spatial
from sizhi.regions.demo import DEFAULT_SEED, generate_demo_grids, load_demo_divisions
from sizhi.regions.models import Grid, GridSetVersion, Region, RegionLevel
from sizhi.regions.services import ImportSummary

pytestmark = pytest.mark.django_db


def _wipe() -> None:
    with transaction.atomic():
        Grid.objects.all().delete()
        for level in (RegionLevel.VILLAGE, RegionLevel.TOWN, RegionLevel.DISTRICT, RegionLevel.CITY):
            Region.objects.filter(level=level).delete()
        GridSetVersion.objects.all().delete()
    spatial.reset_grid_index()


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[ImportSummary]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        _wipe()
        try:
            load_demo_divisions()
            yield generate_demo_grids(seed=DEFAULT_SEED)
        finally:
            _wipe()


@pytest.fixture(scope="module")
def geometries(demo: ImportSummary, django_db_blocker: pytest.FixtureRequest) -> tuple[list[int], np.ndarray]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        rows = list(Grid.objects.order_by("pk").values_list("pk", "boundary"))
    return [pk for pk, _ in rows], np.array([shapely.geometry.shape(b) for _, b in rows])


def test_every_village_has_two_to_four_grids(demo: ImportSummary) -> None:
    per_village = Counter(Grid.objects.values_list("region_code", flat=True))
    villages = set(Region.objects.filter(level=RegionLevel.VILLAGE).values_list("code", flat=True))
    assert set(per_village) == villages and len(villages) == 3228
    assert set(per_village.values()) == {2, 3, 4}
    assert demo.counts["grid"].created == sum(per_village.values())
    assert 8000 < sum(per_village.values()) < 11000


def test_codes_and_names_follow_the_village(demo: ImportSummary) -> None:
    for code, name, region_code in Grid.objects.values_list("code", "name", "region_code"):
        serial = int(code[12:])
        assert code.startswith(region_code) and len(code) == 15 and name == f"第{serial}网格"
        assert re.fullmatch(r"\d{15}", code)


def test_no_two_grids_overlap(geometries: tuple[list[int], np.ndarray]) -> None:
    _ids, geoms = geometries
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
    assert pairs.sum() > len(geoms)  # neighbours touch
    # ~0 in square degrees: 1e-12 deg² is about 0.01 m².
    assert overlap.max() < 1e-12


def test_grids_tile_the_city_without_gaps(geometries: tuple[list[int], np.ndarray]) -> None:
    _ids, geoms = geometries
    union = shapely.union_all(geoms)
    # One piece without holes (GEOS may still wrap it as a one-part MultiPolygon).
    parts = shapely.get_parts(union)
    assert len(parts) == 1 and not list(parts[0].interiors)
    assert union.area == pytest.approx(shapely.area(geoms).sum(), rel=1e-9)


def test_a_point_inside_each_grid_locates_that_grid(geometries: tuple[list[int], np.ndarray]) -> None:
    ids, geoms = geometries
    points = shapely.point_on_surface(geoms)
    xs, ys = shapely.get_x(points), shapely.get_y(points)
    index = spatial.grid_index()
    assert len(index) == len(ids)
    assert [index.locate(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)] == ids
    assert index.locate_many(xs, ys) == ids
    grid = spatial.locate_grid(float(ys[0]), float(xs[0]))
    assert grid is not None and grid.pk == ids[0]


def test_grids_lie_around_luoyang(demo: ImportSummary) -> None:
    bounds = Grid.objects.values_list("min_lng", "min_lat", "max_lng", "max_lat")
    min_lng = min(b[0] for b in bounds)
    max_lng = max(b[2] for b in bounds)
    min_lat = min(b[1] for b in bounds)
    max_lat = max(b[3] for b in bounds)
    assert 110.5 < min_lng < max_lng < 113.5 and 33.0 < min_lat < max_lat < 35.5
    laocheng = spatial.locate_grid(34.682945, 112.477298)
    assert laocheng is not None and laocheng.region_code.startswith("4103")


def test_every_region_has_a_centre(demo: ImportSummary) -> None:
    assert not Region.objects.filter(center_lat__isnull=True).exists()
    assert not Region.objects.filter(center_lng__isnull=True).exists()
    laocheng = Region.objects.get(code="410302000000")
    assert (laocheng.center_lat, laocheng.center_lng) == (34.682945, 112.477298)


def test_same_seed_again_changes_nothing(demo: ImportSummary) -> None:
    before = dict(Grid.objects.values_list("code", "pk"))
    again = generate_demo_grids(seed=DEFAULT_SEED)
    grids = again.counts["grid"]
    assert (grids.created, grids.updated, grids.deleted, grids.unchanged) == (0, 0, 0, len(before))
    assert dict(Grid.objects.values_list("code", "pk")) == before
