"""Point → grid lookup throughput and index rebuild time.

    .venv/bin/python bench/grid_lookup.py [--sizes 10000 50000] [--points 100000] [--no-db]

For each size it builds a tiling of square-ish polygons (a jittered lattice, each edge cut into
a few segments like a digitised boundary) and measures, in the same run:

- floor: shapely's own vectorised STRtree query of prepared points with predicate "intersects",
  the fastest this library can answer;
- GridIndex.locate (one call per point, as case intake does) and GridIndex.locate_many;
- building a GridIndex from the GeoJSON text, and (unless --no-db) `build_grid_index()` reading
  the grids back from a scratch SQLite database.

The last line is the ratio floor / locate rate.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def lattice(n: int, seed: int) -> list[shapely.Polygon]:
    """About n quadrilaterals over Luoyang's extent that tile without overlap."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    step = 1.6 / side  # degrees: the city is roughly 1.6° × 1.6°
    jitter = (rng.random((side + 1, side + 1, 2)) - 0.5) * step * 0.4
    xs = 111.3 + np.arange(side + 1) * step
    ys = 33.5 + np.arange(side + 1) * step
    corners = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1) + jitter
    polys = []
    for k in range(n):
        i, j = divmod(k, side)
        ring = [corners[i, j], corners[i + 1, j], corners[i + 1, j + 1], corners[i, j + 1], corners[i, j]]
        polys.append(shapely.Polygon(ring))
    # Four segments per edge: real grid boundaries have more than four vertices.
    return list(shapely.segmentize(np.array(polys), step / 4))


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f}/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--no-db", action="store_true", help="skip the rebuild from a scratch SQLite database")
    args = parser.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="sizhi-bench-")
    os.environ["SIZHI_DATA_DIR"] = scratch.name
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sizhi.config.settings")
    import django

    django.setup()
    from sizhi.regions.spatial import GridIndex

    ratios = []
    for n in args.sizes:
        polys = lattice(n, seed=n)
        texts = [shapely.to_geojson(p) for p in polys]
        minx, miny, maxx, maxy = shapely.total_bounds(np.array(polys))
        rng = np.random.default_rng(1)
        lngs = rng.uniform(minx, maxx, args.points)
        lats = rng.uniform(miny, maxy, args.points)
        print(f"\n{n:,} polygons, {shapely.get_num_coordinates(np.array(polys)).mean():.0f} vertices each, "
              f"{args.points:,} random points")

        started = time.perf_counter()
        index = GridIndex(zip(range(1, n + 1), shapely.from_geojson(np.array(texts, dtype=object)), strict=True))
        print(f"  GridIndex from GeoJSON text   {time.perf_counter() - started:8.3f} s")

        tree = shapely.STRtree(np.array(polys))
        points = shapely.points(lngs, lats)
        shapely.prepare(points)
        tree.query(points[:1000], predicate="intersects")  # warm-up
        started, cpu = time.perf_counter(), time.process_time()
        tree.query(points, predicate="intersects")
        floor = args.points / (time.perf_counter() - started)
        floor_cpu = args.points / max(time.process_time() - cpu, 1e-9)
        print(f"  floor: STRtree bulk query     {rate(args.points, args.points / floor)}  "
              f"({floor_cpu:,.0f}/CPU-s)")

        locate = index.locate
        pairs = list(zip(lngs.tolist(), lats.tolist(), strict=True))
        for x, y in pairs[:1000]:
            locate(x, y)
        started, cpu = time.perf_counter(), time.process_time()
        found = sum(1 for x, y in pairs if locate(x, y) is not None)
        single = args.points / (time.perf_counter() - started)
        single_cpu = args.points / max(time.process_time() - cpu, 1e-9)
        print(f"  GridIndex.locate (one by one) {rate(args.points, args.points / single)}  "
              f"({single_cpu:,.0f}/CPU-s, {found:,} found)")

        # Batches as intake would send them: 1,000 points per call, and all at once.
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(0, args.points, 1000):
            index.locate_many(lngs[i : i + 1000], lats[i : i + 1000])
        print(f"  GridIndex.locate_many ×1000   {rate(args.points, time.perf_counter() - started)}  "
              f"({args.points / max(time.process_time() - cpu, 1e-9):,.0f}/CPU-s)")
        started, cpu = time.perf_counter(), time.process_time()
        many = index.locate_many(lngs, lats)
        print(f"  GridIndex.locate_many (all)   {rate(args.points, time.perf_counter() - started)}  "
              f"({args.points / max(time.process_time() - cpu, 1e-9):,.0f}/CPU-s)")
        assert sum(g is not None for g in many) == found

        if not args.no_db:
            print(f"  rebuild from the database     {rebuild_from_db(polys):8.3f} s")
        ratios.append((n, floor / single, floor_cpu / single_cpu, single, single_cpu))

    print()
    print("single lookups/s (wall, CPU) and ratio floor/locate (wall, CPU): " + ", ".join(
        f"{n:,} grids {s:,.0f}/s {sc:,.0f}/CPU-s {r:.1f}x {rc:.1f}x" for n, r, rc, s, sc in ratios))
    scratch.cleanup()


def rebuild_from_db(polys: list[shapely.Polygon]) -> float:
    """Store the polygons as grids in a scratch database and time `build_grid_index()`."""
    from django.core.management import call_command
    from django.db import connection

    from sizhi.regions.models import Grid, Region
    from sizhi.regions.spatial import build_grid_index

    if "regions_grid" not in connection.introspection.table_names():
        call_command("migrate", verbosity=0)
    Grid.objects.all().delete()
    village = Region.objects.filter(level="village").first()
    if village is None:
        city = Region.objects.create(code="410300000000", prefix="4103", name="洛阳市", level="city")
        district = Region.objects.create(code="410302000000", prefix="410302", name="老城区", level="district",
                                         parent=city)
        town = Region.objects.create(code="410302001000", prefix="410302001", name="西关街道", level="town",
                                     parent=district)
        village = Region.objects.create(code="410302001001", prefix="410302001001", name="金业路社区",
                                        level="village", parent=town)
    # Fixture rows for the benchmark only; the services would check each boundary first.
    Grid.objects.bulk_create(
        [
            Grid(code=f"410302001001{i:06d}", name=f"第{i}网格", village=village, region_code=village.code,
                 boundary=json.loads(shapely.to_geojson(p)), min_lng=p.bounds[0], min_lat=p.bounds[1],
                 max_lng=p.bounds[2], max_lat=p.bounds[3])
            for i, p in enumerate(polys)
        ],
        batch_size=1000,
    )
    started = time.perf_counter()
    index = build_grid_index()
    seconds = time.perf_counter() - started
    assert len(index) == len(polys)
    return seconds


if __name__ == "__main__":
    main()
