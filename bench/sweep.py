"""Deadline sweep over 1,000,000 open cases on PostgreSQL, against its floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/sweep.py [--cases N]

Creates (and afterwards drops) a database `sizhi_bench_sweep` on that server, migrates it, fills
it with N open dispatched cases by generate_series, then times in the same run:
  1. the sweep with nothing due, against its floor: the plain indexed SELECT it must run anyway;
  2. the sweep with 1 % due (each case moved by a conditional UPDATE with its event and its
     notifications), against its floor: one set-based UPDATE of the same rows with no events.
The last line is the ratio of each to its floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_DB = "sizhi_bench_sweep"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--due-share", type=float, default=0.01)
    args = parser.parse_args()

    import psycopg

    admin_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not admin_url.startswith("postgres"):
        sys.exit("bench/sweep.py needs DATABASE_URL pointing at a PostgreSQL server")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    parts = urlparse(admin_url)
    os.environ["DATABASE_URL"] = urlunparse(parts._replace(path=f"/{BENCH_DB}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sizhi.config.settings")
    # Its own queue file and uploads folder; delivery is not timed here.
    os.environ["SIZHI_DATA_DIR"] = tempfile.mkdtemp(prefix="sizhi-bench-sweep-")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from sizhi.cases.deadlines import sweep_warnings

    try:
        print(f"migrating {BENCH_DB} …", file=sys.stderr, flush=True)
        call_command("migrate", verbosity=0)
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO regions_region (code, prefix, name, level, kind) "
                "VALUES ('410300000000', '4103', '洛阳市', 'city', '') RETURNING id"
            )
            city = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO units_handlingunit (name, kind, region_id, region_code, is_active) "
                "VALUES ('市指挥中心', 'command_centre', %s, '410300000000', true) RETURNING id",
                [city],
            )
            unit = cur.fetchone()[0]
            # Open cases dispatched over the last 30 days, all due in the future: nothing to do yet.
            cur.execute(
                """
                INSERT INTO cases_case (number, tracking_code, title, description, channel, status, is_anonymous,
                    address, region_id, region_code, assigned_unit_id, rejection_kind, attributes, satisfaction,
                    rating_comment, created_at, updated_at, dispatched_at, version, priority, level, due_at,
                    yellow_at, warning, return_count, needs_ruling)
                SELECT 'B' || g, 'bench-tracking-' || g, '路面破损', '路面破损需要修复', 'app', 'handling', false,
                    '', %s, '410300000000', %s, '', '{}', '', '', now() - (g %% 30) * interval '1 day',
                    now(), now() - (g %% 30) * interval '1 day', 1, 'normal', 'city',
                    now() + interval '10 days' + (g %% 1000) * interval '1 minute',
                    now() + interval '8 days' + (g %% 1000) * interval '1 minute', 'none', 0, false
                FROM generate_series(1, %s) AS g
                """,
                [city, unit, args.cases],
            )
            cur.execute("ANALYZE cases_case")
        print(f"{args.cases:,} open cases inserted in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

        now = timezone.now()
        floor_q = (
            "SELECT id FROM cases_case WHERE warning IN ('none', 'yellow') AND due_at <= %s "
            "AND status IN ('registered','dispatched','handling','verifying','verified') LIMIT 2000"
        )

        def time_it(fn: Callable[[], object], repeat: int = 7) -> float:
            runs: list[float] = []
            for _ in range(repeat):
                start = time.perf_counter()
                fn()
                runs.append(time.perf_counter() - start)
            return statistics.median(runs)

        def floor_idle() -> None:
            with connection.cursor() as cur:
                cur.execute(floor_q, [now])
                cur.fetchall()

        idle_floor = time_it(floor_idle)
        idle = time_it(lambda: sweep_warnings(now=now))
        print(f"nothing due: sweep {idle * 1000:.2f} ms, floor (indexed SELECT) {idle_floor * 1000:.2f} ms")

        due_n = int(args.cases * args.due_share)
        with connection.cursor() as cur:
            cur.execute(
                "UPDATE cases_case SET due_at = now() - interval '1 minute' WHERE id IN "
                "(SELECT id FROM cases_case ORDER BY id LIMIT %s)",
                [due_n],
            )
        later = timezone.now()
        with connection.cursor() as cur:
            cur.execute("BEGIN")
            start = time.perf_counter()
            cur.execute(
                "UPDATE cases_case SET warning = 'red' WHERE warning IN ('none','yellow') AND due_at <= %s "
                "AND status IN ('registered','dispatched','handling','verifying','verified')",
                [later],
            )
            moved_floor = cur.rowcount
            busy_floor = time.perf_counter() - start
            cur.execute("ROLLBACK")
        start = time.perf_counter()
        result = sweep_warnings(now=later)
        busy = time.perf_counter() - start
        assert result.red == due_n == moved_floor, (result, due_n, moved_floor)
        print(
            f"{due_n:,} due: sweep {busy:.2f} s ({due_n / busy:,.0f} cases/s, each with its event and "
            f"notifications), floor (one set-based UPDATE) {busy_floor:.3f} s"
        )
        print(f"ratio nothing-due={idle / idle_floor:.2f}x floor; 1%-due={busy / busy_floor:.1f}x floor")
    finally:
        connection.close()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
