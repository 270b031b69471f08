"""Drill 3, long form: kill -9 of the huey consumer in mid-job, many times.

    .venv/bin/python bench/drills/worker_kill.py [--kills 10] [--sms 60] [--overdue 500] [--periodic]

The consumer (`run_huey`, one thread, SqliteHuey in a temporary folder) sends SMS through a slow
test gateway and sweeps overdue cases into red-card warnings; it is killed inside the gateway
call (and once at a random moment of the sweep) and restarted each time. The claim timeout of
the outbox is shortened to 2 s (production: 5 min) so that a claim left by a killed worker
expires within the drill. Without --periodic the drill queues the jobs again after each restart,
as the next event would; with --periodic it only waits for the consumer's own minute tick.
Checked: every SMS delivered exactly once, every overdue case escalated exactly once with one
set of notifications. Last line: the summary.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sizhi.ops.drills import worker_kill_drill


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--sms", type=int, default=60)
    parser.add_argument("--overdue", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds the test gateway takes per SMS")
    parser.add_argument("--periodic", action="store_true", help="rely on the minute tick, queue nothing by hand")
    args = parser.parse_args()
    given = os.environ.get("DATABASE_URL", "")
    url = given if given.startswith("postgres") else None
    r = worker_kill_drill(
        database_url=url, sms=args.sms, overdue=args.overdue, kills=args.kills, sms_delay=args.delay,
        periodic=args.periodic, timeout=300,
    )
    for problem in r.problems:
        print("PROBLEM", problem)
    print(
        f"worker_kill {'sqlite' if url is None else 'postgresql'}{' periodic' if args.periodic else ''}: "
        f"{r.kills} kills ({r.killed_mid_send} inside a gateway call), {r.sms} SMS: {r.delivered_once} delivered "
        f"once, {r.missing} missing, {r.duplicates} duplicates; {r.overdue} overdue cases: {r.escalated_once} "
        f"escalated once, {r.escalation_problems} wrong; {r.seconds:.0f} s -> {'PASS' if not r.problems else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
