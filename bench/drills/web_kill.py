"""Drill 1, long form: kill -9 of gunicorn workers at random moments while clients submit reports
with photos through the JSON API (Idempotency-Key, API token); then every request is retried
with its key and the data checked.

    .venv/bin/python bench/drills/web_kill.py [--rounds 3] [--seconds 40] [--clients 6]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/drills/web_kill.py

SQLite in a temporary folder by default; with DATABASE_URL on PostgreSQL each round uses a
database of its own on that server (created and dropped). Last line: the summary.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sizhi.ops.drills import web_kill_drill


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    given = os.environ.get("DATABASE_URL", "")
    url = given if given.startswith("postgres") else None
    totals: dict[str, int] = {}
    kills = 0
    problems: list[str] = []
    for n in range(args.rounds):
        result = web_kill_drill(
            database_url=url, seconds=args.seconds, clients=args.clients, workers=args.workers,
            kill_every=(0.5, 2.0),
        )
        kills += result.kills
        for key, value in result.findings.as_dict().items():
            totals[key] = totals.get(key, 0) + value
        problems += result.findings.problems
        print(
            f"round {n + 1}: {result.kills} kills in {result.seconds:.0f} s, {result.findings.requests} requests, "
            f"{result.findings.acked} acknowledged, {result.findings.unanswered} cut off, "
            f"{result.findings.created_on_retry} made on retry, lost {result.findings.lost}, "
            f"duplicates {result.findings.duplicates}, orphan files {result.findings.orphan_files}, "
            f"acknowledged latency p50 {result.latency_p50 * 1000:.0f} ms max {result.latency_max:.1f} s",
            flush=True,
        )
    for problem in problems[:20]:
        print("PROBLEM", problem)
    print(
        f"web_kill {'sqlite' if url is None else 'postgresql'}: {args.rounds} rounds, {kills} kills, "
        f"{totals['requests']} requests, {totals['acked']} acknowledged, lost {totals['lost']}, "
        f"duplicates {totals['duplicates']}, wrong replays {totals['wrong_case']}, bad photos {totals['bad_photos']}, "
        f"orphan rows {totals['orphan_rows']}, orphan files {totals['orphan_files']}"
        f" -> {'PASS' if not problems else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
