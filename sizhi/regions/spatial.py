"""Point → grid lookup on an in-memory index.

Grid boundaries are stored as GeoJSON so that SQLite and PostgreSQL hold them alike; a lookup
therefore never asks the database for geometry. Each process keeps one `GridIndex` (a shapely
STRtree over prepared polygons) and rebuilds it when the grid-set version row says the grids
changed: that row is read at most once per second, and at once after a local write.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from django.db.models import TextField
from django.db.models.functions import Cast

from sizhi.regions.models import GRID_SET_VERSION_PK, Grid, GridSetVersion

# How stale another process's grid change may be here, in seconds.
CHECK_INTERVAL = 1.0


def _coordinate(value: object, limit: float) -> float | None:
    # bool is an int to Python but never a coordinate; strings are the caller's job to parse.
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    number = float(value)
    if not math.isfinite(number) or not -limit <= number <= limit:
        return None
    return number


class GridIndex:
    """Grids by id over an STRtree. A point on a shared edge belongs to the grid with the
    smallest id, so that every process answers the same."""

    def __init__(self, items: Iterable[tuple[int, shapely.Geometry]]) -> None:
        pairs = sorted(
            ((int(grid_id), geom) for grid_id, geom in items if geom is not None and not geom.is_empty),
            key=lambda p: p[0],
        )
        self._ids = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
        self._id_list: list[int] = self._ids.tolist()
        self._geoms = np.empty(len(pairs), dtype=object)
        self._geoms[:] = [p[1] for p in pairs]
        # Prepared polygons answer point-in-polygon from an internal edge index instead of walking
        # every vertex, which matters for real grids with hundreds of vertices.
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)

    def __len__(self) -> int:
        return len(self._ids)

    def locate(self, lng: float, lat: float) -> int | None:
        x, y = _coordinate(lng, 180.0), _coordinate(lat, 90.0)
        if x is None or y is None:
            return None
        point = shapely.Point(x, y)
        best: int | None = None
        # Usually one candidate; a plain loop over the bounding-box hits beats a vectorised
        # call at this size (measured in bench/grid_lookup.py).
        for candidate in self._tree.query(point).tolist():
            if (best is None or candidate < best) and self._geoms[candidate].intersects(point):
                best = candidate
        return None if best is None else self._id_list[best]

    def locate_many(self, lngs: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray) -> list[int | None]:
        """Vectorised `locate`: one bounding-box query for all points, then one prepared
        point-in-polygon test per candidate pair."""
        xs = np.asarray(lngs, dtype=np.float64).ravel()
        ys = np.asarray(lats, dtype=np.float64).ravel()
        if xs.shape != ys.shape:
            raise ValueError("lngs and lats must have the same length")
        n = len(xs)
        result: list[int | None] = [None] * n
        if not n or not len(self._ids):
            return result
        ok = np.isfinite(xs) & np.isfinite(ys) & (np.abs(xs) <= 180.0) & (np.abs(ys) <= 90.0)
        valid = np.flatnonzero(ok)
        if not len(valid):
            return result
        point_idx, tree_idx = self._tree.query(shapely.points(xs[valid], ys[valid]))
        inside = shapely.intersects_xy(self._geoms[tree_idx], xs[valid][point_idx], ys[valid][point_idx])
        point_idx, tree_idx = point_idx[inside], tree_idx[inside]
        # Smallest tree index (= smallest grid id) per point, for the shared-edge rule.
        best = np.full(len(valid), len(self._ids), dtype=np.int64)
        np.minimum.at(best, point_idx, tree_idx)
        found = best < len(self._ids)
        grid_ids = self._ids[best[found]]
        for position, grid_id in zip(valid[found].tolist(), grid_ids.tolist(), strict=True):
            result[position] = grid_id
        return result


def build_grid_index() -> GridIndex:
    """Read every grid boundary and build an index.

    The GeoJSON is fetched as text and parsed by GEOS in one vectorised call: decoding it into
    Python dicts first would cost more than building the tree.
    """
    rows = list(Grid.objects.order_by("pk").annotate(raw=Cast("boundary", TextField())).values_list("pk", "raw"))
    if not rows:
        return GridIndex([])
    ids, texts = zip(*rows, strict=True)
    geoms = shapely.from_geojson(np.array(texts, dtype=object), on_invalid="warn")
    return GridIndex(zip(ids, geoms, strict=True))


@dataclass(frozen=True)
class _Built:
    index: GridIndex
    version: tuple[int, uuid.UUID | None]


_lock = threading.Lock()
_built: _Built | None = None
_checked_at = -math.inf
_dirty = False


def _clock() -> float:
    return time.monotonic()


def _current_version() -> tuple[int, uuid.UUID | None]:
    row = GridSetVersion.objects.filter(pk=GRID_SET_VERSION_PK).values_list("version", "token").first()
    return (row[0], row[1]) if row else (0, None)


def invalidate_grid_index() -> None:
    """Make the next lookup in this process compare the grid-set version with the database."""
    global _dirty
    _dirty = True


def reset_grid_index() -> None:
    """Forget the index entirely (tests that swap databases under a live process)."""
    global _built, _checked_at, _dirty
    with _lock:
        _built, _checked_at, _dirty = None, -math.inf, False


def grid_index(*, fresh: bool = False) -> GridIndex:
    """The process-wide index, rebuilt when the grids changed.

    While one thread rebuilds, others keep answering from the previous index rather than wait.
    With fresh=True the caller waits for a rebuild under way and the version is checked now:
    for a lookup that the previous index answered with no grid (locate_grid), since the grid may
    be one the rebuild is adding.
    """
    global _built, _checked_at, _dirty
    built = _built
    if not fresh and built is not None and not _dirty and _clock() - _checked_at < CHECK_INTERVAL:
        return built.index
    if not _lock.acquire(blocking=fresh or built is None):
        return built.index  # type: ignore[union-attr]  # non-blocking only when built exists
    try:
        built = _built
        if not fresh and built is not None and not _dirty and _clock() - _checked_at < CHECK_INTERVAL:
            return built.index
        # Cleared before reading, so an invalidation arriving during the rebuild is not lost.
        _dirty = False
        # The version is read before the grids: if a change lands in between, the index is
        # labelled older than its content and is merely rebuilt once more.
        version = _current_version()
        if built is None or built.version != version:
            built = _Built(index=build_grid_index(), version=version)
            _built = built
        _checked_at = _clock()
        return built.index
    finally:
        _lock.release()


def locate_grid_id(lat: float, lng: float) -> int | None:
    found = grid_index().locate(lng, lat)
    # A miss may be the previous index answering while another thread rebuilds it.
    return found if found is not None else grid_index(fresh=True).locate(lng, lat)


def locate_grid(lat: float, lng: float, *, boundary: bool = True) -> Grid | None:
    """The grid containing a WGS-84 point, or None when there is none or the input is not a
    finite coordinate in range (callers decide what to tell the user). With boundary=False the
    polygon, the largest part of the row, is left unread (intake needs only the grid's place)."""
    x, y = _coordinate(lng, 180.0), _coordinate(lat, 90.0)
    if x is None or y is None:
        return None
    grids = Grid.objects.select_related("village")
    if not boundary:
        grids = grids.defer("boundary")
    grid_id = grid_index().locate(x, y)
    grid = grids.filter(pk=grid_id).first() if grid_id is not None else None
    if grid is None:
        # No grid there, or a grid id the database no longer has: either may be the previous
        # index answering while another thread rebuilds it after a change of the grids. Ask
        # again once the index is known to match the database.
        grid_id = grid_index(fresh=True).locate(x, y)
        grid = grids.filter(pk=grid_id).first() if grid_id is not None else None
    return grid
