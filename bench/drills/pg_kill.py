"""Drill 2, long form: kill -9 of PostgreSQL under write load, then restart it, several times.

    .venv/bin/python bench/drills/pg_kill.py [--kills 5] [--before 8] [--outage 2] [--clients 6]

Starts a PRIVATE PostgreSQL cluster (initdb into a temporary folder, a free port; as the
postgres OS user when run as root), never the machine's shared server. gunicorn runs against it
with the production settings; clients keep submitting reports with photos while the postmaster
is killed and restarted. Reports: acknowledged, lost (must be 0), duplicates (must be 0), how
long after each restart the first report was acknowledged again (the platform reconnects by
itself), and how fast requests failed during the outage. Last line: the summary.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sizhi.ops.drills import DrillUnavailable, pg_kill_drill


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--before", type=float, default=8)
    parser.add_argument("--outage", type=float, default=2)
    parser.add_argument("--after", type=float, default=8)
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args()
    try:
        result = pg_kill_drill(
            kills=args.kills, before=args.before, outage=args.outage, after=args.after, clients=args.clients, say=print
        )
    except DrillUnavailable as exc:
        sys.exit(f"pg_kill: cannot run here: {exc}")
    f = result.findings
    for problem in f.problems[:20]:
        print("PROBLEM", problem)
    rec = result.recovery_seconds
    print(
        f"pg_kill: {result.kills} kills, {f.requests} requests, {f.acked} acknowledged, lost {f.lost}, "
        f"duplicates {f.duplicates}, retries failed {f.retry_failed}, orphan rows {f.orphan_rows}, "
        f"orphan files {f.orphan_files}; failed during outage {result.outage_failures} (slowest "
        f"{result.outage_slowest:.2f} s); first ack after restart median {statistics.median(rec):.2f} s max "
        f"{max(rec):.2f} s; gunicorn workers replaced {result.workers_replaced}"
        f" -> {'PASS' if not f.problems and f.lost == 0 and f.duplicates == 0 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
