from __future__ import annotations

import math
import threading
import uuid

import pytest
import shapely
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sizhi.regions import spatial
from sizhi.regions.models import GridSetVersion
from sizhi.regions.services import grid_create, grid_delete, grid_update_boundary
from sizhi.regions.spatial import GridIndex, grid_index, locate_grid
from sizhi.regions.tests.factories import Tree, square, square_with_hole


def shape(geojson: dict) -> shapely.Geometry:  # type: ignore[type-arg]
    return shapely.geometry.shape(geojson)


@pytest.fixture
def index() -> GridIndex:
    return GridIndex([
        (7, shape(square_with_hole(112.0, 34.0))),   # 112.00–112.03 with a hole 112.01–112.02
        (3, shape(square(112.03, 34.0))),            # shares the edge lng = 112.03 with grid 7
        (9, shape(square(112.015, 34.015, 0.005))),  # fills the lower-left part of 7's hole
    ])


def test_locate_inside_outside_and_in_hole(index: GridIndex) -> None:
    assert index.locate(112.005, 34.005) == 7
    assert index.locate(112.035, 34.005) == 3
    assert index.locate(112.0125, 34.0125) is None  # in the hole, where no grid is
    assert index.locate(112.0175, 34.0175) == 9  # in the hole, inside the grid that fills it
    assert index.locate(113.0, 35.0) is None


def test_shared_edge_goes_to_the_smallest_id(index: GridIndex) -> None:
    assert index.locate(112.03, 34.005) == 3


@pytest.mark.parametrize(
    ("lng", "lat"),
    [(math.nan, 34.0), (112.0, math.inf), (-math.inf, 34.0), (181.0, 34.0), (112.0, -91.0), (True, 34.0)],
)
def test_locate_rejects_non_coordinates(index: GridIndex, lng: float, lat: float) -> None:
    assert index.locate(lng, lat) is None


def test_locate_many_agrees_with_locate(index: GridIndex) -> None:
    lngs = [112.005, 112.035, 112.0125, 112.0175, 112.03, math.nan, 200.0, 113.0]
    lats = [34.005, 34.005, 34.0125, 34.0175, 34.005, 34.0, 34.0, 35.0]
    assert index.locate_many(lngs, lats) == [index.locate(x, y) for x, y in zip(lngs, lats, strict=True)]
    assert index.locate_many(lngs, lats) == [7, 3, None, 9, 3, None, None, None]
    assert index.locate_many([], []) == []


def test_empty_index_finds_nothing() -> None:
    empty = GridIndex([])
    assert len(empty) == 0 and empty.locate(112.0, 34.0) is None and empty.locate_many([112.0], [34.0]) == [None]


# --- with the database ----------------------------------------------------------------------------


@pytest.fixture
def grids(tree: Tree) -> Tree:
    grid_create(village=tree.community, code="410302001001001", name="第1网格", boundary=square_with_hole(112.4, 34.6))
    grid_create(village=tree.village, code="410302001201001", name="第1网格", boundary=square(112.43, 34.6))
    return tree


@pytest.mark.django_db
def test_locate_grid_finds_the_grid_with_its_village(grids: Tree) -> None:
    grid = locate_grid(34.605, 112.405)
    assert grid is not None and grid.code == "410302001001001" and grid.village == grids.community
    assert locate_grid(34.615, 112.415) is None  # the hole
    assert locate_grid(35.0, 113.0) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lat", "lng"),
    [(math.nan, 112.405), (34.605, math.nan), (math.inf, 112.405), (34.605, -math.inf), (91.0, 112.405),
     (34.605, 180.5), (None, 112.405), ("34.605", 112.405), (False, 112.405)],
)
def test_locate_grid_rejects_bad_input(grids: Tree, lat: object, lng: object) -> None:
    assert locate_grid(lat, lng) is None  # type: ignore[arg-type]


@pytest.mark.django_db
def test_index_is_rebuilt_after_a_local_grid_change(grids: Tree) -> None:
    grid = locate_grid(34.605, 112.405)
    assert grid is not None
    grid_update_boundary(grid=grid, boundary=square(112.50, 34.70))
    assert locate_grid(34.605, 112.405) is None
    moved = locate_grid(34.705, 112.505)
    assert moved is not None and moved.pk == grid.pk
    grid_delete(grid=grid)
    assert locate_grid(34.705, 112.505) is None


@pytest.mark.django_db
def test_invalidation_is_also_scheduled_after_commit(
    grids: Tree, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        grid_create(village=grids.village, code="410302001201002", name="第2网格", boundary=square(112.44, 34.6))
    assert spatial.invalidate_grid_index in callbacks


@pytest.mark.django_db
def test_another_process_change_is_seen_within_the_check_interval(
    grids: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(spatial, "_clock", lambda: now[0])
    first = grid_index()
    assert first.locate(112.405, 34.605) is not None

    # Another process moves a grid: same database, but nothing marks this process's index stale.
    grid_update_boundary(grid=grids.community.grids.get(), boundary=square(112.50, 34.70))
    spatial._dirty = False
    now[0] += 0.5
    with CaptureQueriesContext(connection) as queries:
        assert grid_index() is first  # within the interval: no query at all
    assert len(queries) == 0

    now[0] += 0.6
    rebuilt = grid_index()
    assert rebuilt is not first and rebuilt.locate(112.505, 34.705) is not None

    now[0] += 1.5
    with CaptureQueriesContext(connection) as queries:
        assert grid_index() is rebuilt  # checked the version, found it unchanged, kept the index
    assert len(queries) == 1


@pytest.mark.django_db
def test_a_reused_counter_with_a_new_token_still_rebuilds(grids: Tree) -> None:
    # Tests (and rolled-back transactions) can bring the counter back to a value already seen.
    first = grid_index()
    row = GridSetVersion.objects.get()
    GridSetVersion.objects.filter(pk=row.pk).update(version=row.version)
    spatial.invalidate_grid_index()
    assert grid_index() is first
    GridSetVersion.objects.filter(pk=row.pk).update(token=uuid.uuid4())
    spatial.invalidate_grid_index()
    assert grid_index() is not first


@pytest.mark.django_db
def test_a_miss_while_another_thread_rebuilds_waits_for_the_new_index(grids: Tree) -> None:
    """gunicorn's threads share the index: while one rebuilds it after a change of the grids, the
    others answer from the previous one, but a report in a grid the rebuild is adding must not be
    refused as outside the platform's area."""
    grid_index()
    added = grid_create(village=grids.village, code="410302001201002", name="第2网格", boundary=square(112.44, 34.6))
    spatial.invalidate_grid_index()
    spatial._lock.acquire()  # another thread is rebuilding
    release = threading.Timer(0.3, spatial._lock.release)
    release.start()
    try:
        found = locate_grid(34.605, 112.445)
    finally:
        release.join()
    assert found is not None and found.pk == added.pk
