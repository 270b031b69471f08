"""The demo city: Luoyang's real division tree with invented, plausible grids.

Real grid boundaries are not public, so the demo draws them: towns are scattered around their
district's real seat, villages around their town, every village gets the Voronoi cell of its
seed point (so the cells tile the city without gaps or overlaps), and each cell is cut into 2–4
grids the same way. Areas follow the mix of villages and communities, so urban districts come out
compact and mountain counties spread out.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from sizhi.regions.importers import import_divisions_file
from sizhi.regions.models import Grid, Region, RegionLevel, VillageKind
from sizhi.regions.selectors import grid_list_for_region, region_subtree
from sizhi.regions.services import (
    BULK_BATCH_SIZE,
    CenterRow,
    GridRow,
    ImportSummary,
    SourceRef,
    grids_delete,
    grids_import,
    progress_iter,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_DIVISIONS_FILE = DATA_DIR / "luoyang_divisions.csv"
DEMO_DISTRICT_CENTERS_FILE = DATA_DIR / "luoyang_district_centers.csv"
DEMO_CITY_CODE = "410300000000"
# The seat of the Luoyang municipal government (lat, lng), used when the city has no centre yet.
DEMO_CITY_CENTER = (34.663041, 112.434468)
DEFAULT_SEED = 4103

# Rough land per unit in km²: a rural village committee covers several km², an urban community
# well under one. Only the ratio matters; it sets how far seeds spread.
AREA_KM2 = {VillageKind.VILLAGE: 6.0, VillageKind.COMMUNITY: 0.6, "": 6.0}
# Margin around the outermost seeds, in km, so border villages get a cell of normal size.
ENVELOPE_MARGIN_KM = 1.5
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LNG_EQUATOR = 111.320


def load_demo_divisions(*, progress: bool = False) -> ImportSummary:
    """Import the shipped Luoyang division file (city, 15 districts, 194 towns, 3,228 villages)."""
    return import_divisions_file(DEMO_DIVISIONS_FILE, progress=progress)


def demo_district_centers() -> dict[str, tuple[float, float]]:
    """District code → (lat, lng) of its seat, from the shipped file."""
    with DEMO_DISTRICT_CENTERS_FILE.open(encoding="utf-8", newline="") as f:
        return {row["code"]: (float(row["lat"]), float(row["lng"])) for row in csv.DictReader(f)}


@dataclass(frozen=True)
class _Plane:
    """An equirectangular plane in km around the city, so Voronoi cells are not stretched
    east–west as they would be in raw degrees."""

    lat0: float
    lng0: float

    @property
    def kx(self) -> float:
        return KM_PER_DEG_LNG_EQUATOR * math.cos(math.radians(self.lat0))

    def to_km(self, lat: float, lng: float) -> tuple[float, float]:
        return (lng - self.lng0) * self.kx, (lat - self.lat0) * KM_PER_DEG_LAT

    def to_lnglat(self, xy: np.ndarray) -> np.ndarray:
        out = np.empty_like(xy)
        out[:, 0] = xy[:, 0] / self.kx + self.lng0
        out[:, 1] = xy[:, 1] / KM_PER_DEG_LAT + self.lat0
        return out


def _disc(rng: np.random.Generator, center: tuple[float, float], radius: float) -> tuple[float, float]:
    # sqrt of the uniform draw spreads points evenly over the disc's area, not bunched at the centre.
    r = radius * math.sqrt(rng.random())
    theta = 2 * math.pi * rng.random()
    return center[0] + r * math.cos(theta), center[1] + r * math.sin(theta)


def _spread_points(rng: np.random.Generator, cell: shapely.Polygon, k: int) -> np.ndarray:
    """k well-separated points inside a cell: farthest-point picks among random candidates, so no
    grid comes out as a sliver."""
    min_x, min_y, max_x, max_y = cell.bounds
    shapely.prepare(cell)
    candidates = np.empty((0, 2))
    while len(candidates) < 8 * k:
        xy = rng.random((32 * k, 2)) * [max_x - min_x, max_y - min_y] + [min_x, min_y]
        candidates = np.vstack([candidates, xy[shapely.contains_xy(cell, xy[:, 0], xy[:, 1])]])
    chosen = [0]
    distance = np.hypot(*(candidates - candidates[0]).T)
    for _i in range(1, k):
        nxt = int(distance.argmax())
        chosen.append(nxt)
        distance = np.minimum(distance, np.hypot(*(candidates - candidates[nxt]).T))
    return candidates[chosen]


def _split(cell: shapely.Polygon, points: np.ndarray) -> list[shapely.Polygon]:
    pieces = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points), extend_to=cell, ordered=True)
    )
    # Cells and envelopes are convex, so every intersection is one convex polygon.
    return [p for p in shapely.intersection(pieces, cell) if isinstance(p, shapely.Polygon) and not p.is_empty]


def generate_demo_grids(
    *,
    seed: int = DEFAULT_SEED,
    grids_per_village: tuple[int, int] = (2, 4),
    city_code: str = DEMO_CITY_CODE,
    progress: bool = False,
) -> ImportSummary:
    """Cover every village/community of the city with 2–4 non-overlapping grids and set the
    centre of every region. Deterministic for a given seed; re-running replaces earlier demo grids
    of these villages."""
    low, high = grids_per_village
    if not 1 <= low <= high:
        raise ValidationError(_("每个村/社区的网格数范围无效"), code="demo_invalid")
    city = Region.objects.filter(code=city_code, level=RegionLevel.CITY).first()
    if city is None:
        raise ValidationError(_("市级区划 %(code)s 不存在，请先导入区划") % {"code": city_code}, code="demo_invalid")
    regions = list(region_subtree(city).exclude(pk=city.pk).order_by("code").values_list(
        "code", "level", "kind", "parent__code", "center_lat", "center_lng"))
    villages = [r for r in regions if r[1] == RegionLevel.VILLAGE]
    if not villages:
        raise ValidationError(_("%(city)s 下还没有村/社区，请先导入区划") % {"city": city.name}, code="demo_invalid")
    rng = np.random.default_rng(seed)

    city_center = (
        (city.center_lat, city.center_lng) if city.center_lat is not None and city.center_lng is not None
        else DEMO_CITY_CENTER
    )
    plane = _Plane(*city_center)
    known = demo_district_centers()
    area: dict[str, float] = defaultdict(float)
    for code, _level, kind, parent, _lat, _lng in villages:
        area[code] = AREA_KM2.get(kind, AREA_KM2[""])
        area[parent] += area[code]
        area[parent[:6].ljust(12, "0")] += area[code]

    # Seeds in km, parents before children (the codes sort that way).
    seed_km: dict[str, tuple[float, float]] = {}
    for code, level, _kind, parent, lat, lng in regions:
        if level == RegionLevel.DISTRICT:
            if code in known:
                seed_km[code] = plane.to_km(*known[code])
            elif lat is not None and lng is not None:
                seed_km[code] = plane.to_km(lat, lng)
            else:
                seed_km[code] = _disc(rng, (0.0, 0.0), 30.0)
        else:
            # Towns fill most of their district's estimated disc, villages their town's.
            spread = 0.75 if level == RegionLevel.TOWN else 1.0
            radius = math.sqrt(area[parent] / math.pi) * spread
            seed_km[code] = _disc(rng, seed_km[parent], radius)

    village_codes = [v[0] for v in villages]
    xy = np.array([seed_km[c] for c in village_codes])
    envelope = shapely.convex_hull(shapely.multipoints(xy)).buffer(ENVELOPE_MARGIN_KM)
    cells = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=envelope, ordered=True)),
        envelope,
    )
    if len(cells) != len(village_codes):
        raise ValidationError(_("生成示例网格失败：有村/社区的种子点重合，请换一个随机种子"), code="demo_failed")

    names: dict[str, str] = {}
    rows: list[GridRow] = []
    keep: set[str] = set()
    for village_code, cell in progress_iter(
        zip(village_codes, cells, strict=True), enabled=progress, desc=_("划分网格"), total=len(cells)
    ):
        k = int(rng.integers(low, high + 1))
        pieces = _split(cell, _spread_points(rng, cell, k)) if k > 1 else [cell]
        for serial, piece in enumerate(pieces, start=1):
            code = f"{village_code}{serial:03d}"
            names[code] = _("第%(n)d网格") % {"n": serial}
            ring_lists = [plane.to_lnglat(np.asarray(piece.exterior.coords)).tolist()]
            ring_lists += [plane.to_lnglat(np.asarray(r.coords)).tolist() for r in piece.interiors]
            rows.append(GridRow(SourceRef(len(rows), "feature"), code=code, name=names[code],
                                village_code=village_code, boundary={"type": "Polygon", "coordinates": ring_lists}))
            keep.add(code)

    centers = [CenterRow(SourceRef(0, "feature"), city.code, *city_center)]
    for code, level, *_rest in regions:
        if level == RegionLevel.DISTRICT and code in known:
            lat, lng = known[code]
        else:
            lng, lat = plane.to_lnglat(np.array([seed_km[code]]))[0].tolist()
        centers.append(CenterRow(SourceRef(0, "feature"), code, lat, lng))

    with transaction.atomic():
        stale = [pk for pk, code in grid_list_for_region(city).values_list("pk", "code") if code not in keep]
        deleted = 0
        for i in range(0, len(stale), BULK_BATCH_SIZE):
            deleted += grids_delete(grids=Grid.objects.filter(pk__in=stale[i : i + BULK_BATCH_SIZE]))
        summary = grids_import(rows, centers=centers, progress=progress)
    summary.of("grid").deleted = deleted
    return summary
