"""City- and town-level dashboards on 20,000,000 cases (PostgreSQL), against the plain GROUP BY.

    .venv/bin/python bench/dashboards.py [--cases 20000000] [--generate 2600000] [--db sizhi_bench20m]
        [--requests 20] [--skip-rebuild]

Uses (creating and migrating it when missing) the database --db on the server of DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/postgres). When it holds fewer generated cases than
--cases it makes more: `sizhi demo generate` (insight.generate, full event histories) up to
--generate cases, then the rest by copying those rows server-side with new ids, numbers and
tracking codes (INSERT … SELECT, no events: the dashboards read no events), because the Python
generator alone would take hours on a shared 2-core machine. Reruns reuse the data.

Then, in the same run:
  1. `rebuild_rollups()` (skipped with --skip-rebuild when the roll-ups already add up);
  2. warm requests through the Django test client, median and p95 over --requests each, for a
     city dispatcher and a town dispatcher: data.json (every dashboard figure: key figures,
     trend, category, channel and region breakdowns, statuses) per granularity, the screen page,
     and the dashboard page (which adds the 联动考评 ranking from cases.evaluation);
  3. the floor: the plain GROUP BY over the raw cases table for the same figures (window counts
     by bucket × category × channel × area, key figures, closed per bucket, open by status);
  4. the dashboards' own direct-query path (roll-ups switched off), the "before";
  5. the 联动考评 ranking (cases.evaluation over its roll-up, cases.evaluation_rollup), rebuilt with
     the dashboards' roll-ups (each generated case's history counted once for itself and once per
     copy of it), against its floor (a plain GROUP BY summing the same roll-up rows without the
     window conditions) and against the event walk on a sample of units (the copies have no
     events, so the walk sees only the generated cases: its time, not its figures, is compared).
The last line has the figures and the ratios (dashboard / floor, ranking / floor).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(fn: Callable[[], Any], n: int, *, warm: int = 2) -> tuple[float, float]:
    """Median and p95 in milliseconds of n warm calls (after `warm` warm-up calls)."""
    for _ in range(warm):
        fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


def setup(db: str) -> None:
    import psycopg

    admin_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not admin_url.startswith("postgres"):
        sys.exit("bench/dashboards.py needs DATABASE_URL pointing at a PostgreSQL server")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {db}")
    parts = urlparse(admin_url)
    os.environ["DATABASE_URL"] = urlunparse(parts._replace(path=f"/{db}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sizhi.config.settings")
    os.environ["SIZHI_DATA_DIR"] = tempfile.mkdtemp(prefix="sizhi-bench-dashboards-")
    # The test client signs the viewers in directly: the second factor is not what is timed.
    os.environ["SIZHI_REQUIRE_TOTP"] = "0"

    import django

    django.setup()


def fill_by_copying(target: int) -> float:
    """Copy generated case rows (ids 1…n) server-side until there are `target` cases."""
    from django.db import connection

    from sizhi.cases.models import Case
    from sizhi.demo import generate

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), max(id) FROM cases_case")
        have, top = cursor.fetchone()
        if have >= target:
            return 0.0
        cursor.execute("SELECT count(*) FROM cases_case WHERE number NOT LIKE %s", [generate.GENERATED_PREFIX + "%"])
        if cursor.fetchone()[0]:
            sys.exit("the bench database holds cases the generator did not make: use another --db")
        block = top
        columns = [f.column for f in Case._meta.concrete_fields]
        special = {
            "id": "id + %(off)s",
            "number": "'GEN' || substr(number, 4, 8) || lpad((id + %(off)s)::text, 9, '0')",
            "tracking_code": "rtrim(translate(encode(decode(md5('copy:' || (id + %(off)s)::text), 'hex'), "
                             "'base64'), '+/', '-_'), '=')",
        }
        select = ", ".join(special.get(c, c) for c in columns)
        dropped = generate._drop_indexes()
        started = time.perf_counter()
        try:
            copy = 1
            while have < target:
                off = copy * block
                need = min(block, target - have)
                print(f"copying {need:,} cases (ids +{off:,}) …", file=sys.stderr, flush=True)
                with connection.cursor() as c2:
                    c2.execute("SET synchronous_commit = off")
                    c2.execute(
                        f"INSERT INTO cases_case ({', '.join(columns)}) SELECT {select} FROM cases_case "  # noqa: S608
                        "WHERE id <= %(last)s",
                        {"off": off, "last": need},
                    )
                have += need
                copy += 1
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('cases_case', 'id'), (SELECT max(id) FROM cases_case))"
            )
        finally:
            generate._restore_indexes(dropped, progress=True)
        return time.perf_counter() - started


def ensure_cases(target: int, generate_at_most: int) -> dict[str, float]:
    from sizhi.cases.models import Case
    from sizhi.demo import generate

    times: dict[str, float] = {}
    have = Case.objects.count()
    if have < min(target, generate_at_most):
        n = min(target, generate_at_most) - have
        print(f"generating {n:,} cases …", file=sys.stderr, flush=True)
        summary = generate.generate(scale=n, force=False, progress=True, rollups=False)
        times["generate_s"] = summary.seconds
        times["generate_cases_per_s"] = summary.cases_per_second
        times["generate_rows_per_s"] = summary.rows_per_second
    if Case.objects.count() < target:
        times["copy_s"] = fill_by_copying(target)
    return times


def viewers() -> dict[str, Any]:
    """A city and a town dispatcher (the town with the most villages), made once."""
    from sizhi.accounts.models import Membership, Role, User
    from sizhi.regions.demo import DEMO_CITY_CODE
    from sizhi.regions.models import Region, RegionLevel
    from sizhi.units.models import HandlingUnit

    city = Region.objects.get(code=DEMO_CITY_CODE)
    town = (
        Region.objects.filter(level=RegionLevel.TOWN, code__startswith=city.prefix)
        .order_by("code").first()
    )
    busiest = max(
        Region.objects.filter(level=RegionLevel.TOWN, code__startswith=city.prefix),
        key=lambda t: Region.objects.filter(parent=t).count(),
    )
    town = busiest or town
    out: dict[str, Any] = {}
    for key, role, scope in (("city", Role.CITY_DISPATCHER, city), ("town", Role.TOWN_DISPATCHER, town)):
        user, _ = User.objects.get_or_create(username=f"bench-{key}", defaults={"is_active": True})
        unit = HandlingUnit.objects.filter(region=scope, kind="command_centre").first()
        Membership.objects.get_or_create(user=user, role=role, scope=scope, defaults={"unit": unit})
        out[key] = (user, scope)
    return out


FLOOR_SQL = """
WITH c AS (SELECT * FROM cases_case WHERE region_code LIKE %(prefix)s AND channel <> 'mailbox')
SELECT 1, date_trunc(%(trunc)s, created_at AT TIME ZONE 'Asia/Shanghai')::date,
       coalesce(cat.parent_id, c.category_id),
       c.channel, substr(c.region_code, 1, %(depth)s), count(*),
       count(*) FILTER (WHERE c.status = ANY(%(open)s)),
       count(*) FILTER (WHERE c.status = ANY(%(open)s) AND c.warning = 'red')
FROM c LEFT JOIN cases_category cat ON cat.id = c.category_id
WHERE c.created_at >= %(p0)s AND c.created_at < %(p1)s GROUP BY 1, 2, 3, 4, 5
"""
FLOOR_KPIS = """
SELECT count(*) FILTER (WHERE created_at >= %(t0)s AND created_at < %(t1)s),
       count(*) FILTER (WHERE status = ANY(%(open)s)),
       count(*) FILTER (WHERE status = ANY(%(open)s) AND warning = 'red'),
       count(*) FILTER (WHERE status = 'closed' AND closed_at >= %(t0)s AND closed_at < %(t1)s),
       count(*) FILTER (WHERE created_at >= %(p0)s AND created_at < %(p1)s),
       count(*) FILTER (WHERE rated_at >= %(p0)s AND rated_at < %(p1)s AND satisfaction <> ''),
       count(*) FILTER (WHERE rated_at >= %(p0)s AND rated_at < %(p1)s AND satisfaction IN ('satisfied', 'basically'))
FROM cases_case WHERE region_code LIKE %(prefix)s AND channel <> 'mailbox'
  AND (status = ANY(%(open)s) OR created_at >= %(p0)s OR closed_at >= %(t0)s OR rated_at >= %(p0)s)
"""
FLOOR_CLOSED = """
SELECT date_trunc(%(trunc)s, closed_at AT TIME ZONE 'Asia/Shanghai')::date, count(*) FROM cases_case
WHERE region_code LIKE %(prefix)s AND channel <> 'mailbox' AND status = 'closed'
  AND closed_at >= %(p0)s AND closed_at < %(p1)s GROUP BY 1
"""
FLOOR_STATUS = """
SELECT status, count(*) FROM cases_case WHERE region_code LIKE %(prefix)s AND channel <> 'mailbox'
  AND status = ANY(%(open)s) GROUP BY 1
"""


def floor(prefix: str, depth: int, granularity: str) -> Callable[[], None]:
    from django.db import connection

    from sizhi.insight import dashboards

    win = dashboards.window(granularity)  # type: ignore[arg-type]
    day = dashboards.today()
    t0 = dashboards._midnight(day)
    params: dict[str, Any] = {
        "prefix": prefix + "%", "depth": depth, "trunc": granularity, "open": dashboards.OPEN,
        "p0": win.start_at, "p1": win.end_at, "t0": t0, "t1": dashboards._midnight(day + dt.timedelta(days=1)),
    }

    def run() -> None:
        with connection.cursor() as cursor:
            for sql in (FLOOR_SQL, FLOOR_KPIS, FLOOR_CLOSED, FLOOR_STATUS):
                cursor.execute(sql, params)
                cursor.fetchall()

    return run


def measure(key: str, user: Any, scope: Any, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    from django.test import Client
    from django.urls import reverse

    from sizhi.insight import dashboards

    client = Client()
    client.force_login(user)
    results: dict[str, tuple[float, float]] = {}
    depth = dashboards.LEVEL_PREFIX_LENGTH[dashboards.CHILD_LEVEL[dashboards.RegionLevel(scope.level)]]

    def get(url: str) -> Callable[[], None]:
        def run() -> None:
            assert client.get(url, secure=True).status_code == 200

        return run

    for granularity in ("day", "week", "month"):
        med, p95 = timed(get(reverse("insight:data") + f"?period={granularity}"), args.requests)
        results[f"{key}_data_{granularity}"] = (med, p95)
        fmed, fp95 = timed(floor(scope.prefix, depth, granularity), 3, warm=1) if not args.no_floor else (1.0, 1.0)
        results[f"{key}_floor_{granularity}"] = (fmed, fp95)
        print(f"{key:5} {granularity:5} data.json median {med:7.1f} ms p95 {p95:7.1f} ms | "
              f"GROUP BY floor median {fmed:8.1f} ms | ratio {med / fmed:.4f}", file=sys.stderr, flush=True)
    results[f"{key}_screen"] = timed(get(reverse("insight:screen")), args.requests)
    print(f"{key:5} screen page median {results[f'{key}_screen'][0]:7.1f} ms p95 {results[f'{key}_screen'][1]:7.1f} ms",
          file=sys.stderr, flush=True)
    results[f"{key}_latest"] = timed(lambda: dashboards.latest_cases(user), args.requests)
    print(f"{key:5} latest cases median {results[f'{key}_latest'][0]:.1f} ms", file=sys.stderr, flush=True)
    if args.ranking_requests < 1:
        return results
    results.update(measure_ranking(key, user, args))
    results[f"{key}_page"] = timed(get(reverse("insight:dashboard")), args.ranking_requests, warm=1)
    print(f"{key:5} dashboard page with the ranking median {results[f'{key}_page'][0]:.1f} ms "
          f"p95 {results[f'{key}_page'][1]:.1f} ms", file=sys.stderr, flush=True)
    if not args.skip_floor_path:
        dashboards.USE_ROLLUPS = False
        try:
            results[f"{key}_direct_day"] = timed(get(reverse("insight:data") + "?period=day"), 3)
        finally:
            dashboards.USE_ROLLUPS = True
        print(f"{key:5} direct-query path (no roll-ups) data.json day median {results[f'{key}_direct_day'][0]:.1f} ms",
              file=sys.stderr, flush=True)
    return results


RANKING_FLOOR = """
SELECT unit_id, sum(dispatched), sum(responded), sum(signed_24h), sum(closed_7d), sum(shirks), sum(handle),
       sum(handle_seconds), sum(handles), sum(returns), sum(overdue), sum(rated), sum(satisfied),
       sum(verify_early), sum(verify_fails), sum(handled), sum(resolved), sum(due_open), sum(due_suspended),
       sum(due_on_time), sum(due_late)
FROM cases_evaluationrollup WHERE unit_id = ANY(%(units)s) AND day >= %(start)s AND day < %(end)s GROUP BY unit_id
"""


def copy_weights() -> Callable[[int], int]:
    """How many cases each generated case stands for: itself and each copy fill_by_copying made
    of it (copy k holds ids 1 … hi_k shifted by k × the generated block)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(case_id) FROM cases_caseevent")
        block = cursor.fetchone()[0] or 0
        cursor.execute("SELECT max(id) FROM cases_case")
        top = cursor.fetchone()[0] or 0
        highs = []
        k = 1
        while block and k * block < top:
            cursor.execute("SELECT max(id) FROM cases_case WHERE id > %s AND id <= %s", [k * block, (k + 1) * block])
            hi = cursor.fetchone()[0]
            if hi is not None:
                highs.append(hi - k * block)
            k += 1
    full = sum(1 for h in highs if h >= block)
    partial = sorted(h for h in highs if h < block)
    print(f"evaluation roll-up: generated cases up to id {block:,}, {full} whole copies, partial copies up to "
          f"{partial}", file=sys.stderr, flush=True)

    def weight(case_id: int) -> int:
        return 1 + full + sum(1 for h in partial if case_id <= h)

    return weight


def measure_ranking(key: str, user: Any, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """The dashboard's ranking over its roll-up, its floor, and the event walk on a sample."""
    import random

    from django.db import connection

    from sizhi.cases import evaluation
    from sizhi.insight import dashboards

    results: dict[str, tuple[float, float]] = {}
    win = dashboards.window("day")
    region = dashboards.scope_region(user)
    units = list(evaluation.units_for_user(user, region))
    unit_ids = [u.pk for u in units]
    results[f"{key}_ranking"] = timed(lambda: dashboards.ranking(user, win), args.ranking_requests, warm=1)

    def floor_query() -> None:
        with connection.cursor() as cursor:
            cursor.execute(RANKING_FLOOR, {"units": unit_ids, "start": win.period.start, "end": win.period.end})
            cursor.fetchall()

    results[f"{key}_ranking_floor"] = timed(floor_query, args.ranking_requests, warm=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM cases_evaluationrollup WHERE unit_id = ANY(%(units)s) AND day >= "
                       "%(start)s AND day < %(end)s", {"units": unit_ids, "start": win.period.start,
                                                       "end": win.period.end})
        rows = cursor.fetchone()[0]
    print(f"{key:5} ranking over the roll-up ({len(units)} units, {rows:,} roll-up rows in {win.period}) median "
          f"{results[f'{key}_ranking'][0]:.1f} ms p95 {results[f'{key}_ranking'][1]:.1f} ms | floor median "
          f"{results[f'{key}_ranking_floor'][0]:.1f} ms | ratio "
          f"{results[f'{key}_ranking'][0] / results[f'{key}_ranking_floor'][0]:.2f}", file=sys.stderr, flush=True)
    if args.walk_units > 0:
        sample = sorted(random.Random(7).sample(units, min(args.walk_units, len(units))), key=lambda u: u.pk)
        scheme = evaluation.active_scheme()
        rolled = timed(lambda: evaluation.evaluate(sample, win.period, scheme=scheme), 3, warm=1)
        walked = timed(lambda: evaluation.evaluate(sample, win.period, scheme=scheme, walk=True), 1, warm=1)
        results[f"{key}_sample_rollup"] = rolled
        results[f"{key}_sample_walk"] = walked
        print(f"{key:5} {len(sample)} sampled units: evaluate over the roll-up median {rolled[0]:.1f} ms, the event "
              f"walk {walked[0]:.1f} ms (×{walked[0] / rolled[0]:.0f}; the walk reads the generated cases' events "
              f"only, about {walked[0] / len(sample) * len(units) / 1000:.0f} s for all {len(units)} units)",
              file=sys.stderr, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=20_000_000)
    parser.add_argument("--generate", type=int, default=2_600_000,
                        help="cases made by the generator; the rest are copies of them")
    parser.add_argument("--db", default="sizhi_bench20m")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--ranking-requests", type=int, default=10, help="0: do not time the ranking")
    parser.add_argument("--walk-units", type=int, default=50,
                        help="units sampled to time the event walk against the roll-up (0: none)")
    parser.add_argument("--viewers", default="city,town", help="which of city,town to measure")
    parser.add_argument("--skip-rebuild", action="store_true")
    parser.add_argument("--no-floor", action="store_true", help="do not time the GROUP BY floor (ratios become 1 ms)")
    parser.add_argument("--skip-floor-path", action="store_true", help="do not time the direct-query path")
    args = parser.parse_args()

    setup(args.db)
    from django.core.management import call_command
    from django.db import connection

    from sizhi.cases import evaluation_rollup
    from sizhi.cases.models import Case, EvaluationRollup
    from sizhi.insight.rollups import rebuild_rollups

    print(f"migrating {args.db} …", file=sys.stderr, flush=True)
    call_command("migrate", verbosity=0)
    times = ensure_cases(args.cases, args.generate)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'cases_case'")
        estimate = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM cases_caseevent")
        events = cursor.fetchone()[0]
    cases = Case.objects.count()
    print(f"cases {cases:,} (estimate {estimate:,}), events {events:,}", file=sys.stderr, flush=True)
    if not args.skip_rebuild:
        t0 = time.perf_counter()
        rows = rebuild_rollups()
        times["rebuild_s"] = time.perf_counter() - t0
        print(f"rebuild_rollups: {times['rebuild_s']:.1f} s, rows {rows}", file=sys.stderr, flush=True)
    if not args.skip_rebuild or not EvaluationRollup.objects.exists():
        t0 = time.perf_counter()
        written = evaluation_rollup.rebuild(progress=True, weight=copy_weights())
        times["rebuild_evaluation_s"] = time.perf_counter() - t0
        print(f"evaluation_rollup.rebuild: {times['rebuild_evaluation_s']:.1f} s over {events:,} events, "
              f"{written:,} rows",
              file=sys.stderr, flush=True)

    people = viewers()
    results: dict[str, Any] = {}
    people = {k: v for k, v in people.items() if k in args.viewers.split(",")}
    for key, (user, scope) in people.items():
        results.update(measure(key, user, scope, args))

    worst = max(v[1] for k, v in results.items() if "_data_" in k or k.endswith("_screen"))
    ratios = [
        results[f"{k}_data_{g}"][0] / results[f"{k}_floor_{g}"][0] for k in people for g in ("day", "week", "month")
    ]
    ranking_ratios = [results[f"{k}_ranking"][0] / results[f"{k}_ranking_floor"][0]
                      for k in people if f"{k}_ranking_floor" in results]
    print(
        f"cases={cases} events={events} rebuild_s={times.get('rebuild_s', 0):.1f} "
        + " ".join(f"{k}={v[0]:.1f}/{v[1]:.1f}ms" for k, v in results.items())
        + f" worst_p95_data_or_screen={worst:.1f}ms max_ratio_dashboard_to_floor={max(ratios):.4f}"
        + (f" max_ratio_ranking_to_floor={max(ranking_ratios):.2f}" if ranking_ratios else "")
        + "".join(f" {k}={v:.1f}" for k, v in times.items() if k != "rebuild_s")
    )


if __name__ == "__main__":
    main()
