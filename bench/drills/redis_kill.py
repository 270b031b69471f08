"""Drill 4 (Redis part), long form: kill -9 of Redis under report load, then restart it empty.

    .venv/bin/python bench/drills/redis_kill.py [--outage 30] [--before 8] [--after 10] [--clients 4] [--sms 50]
                                                [--hang] [--logs DIR]

Starts a PRIVATE redis-server (a free port, `--save '' --appendonly no`, so the restart finds it
empty), never the machine's shared one. gunicorn (the production settings: RedisCache for the
rate-limit counters, huey on Redis) and the huey consumer run against it; clients keep submitting
reports with photos through the JSON API, and while Redis is down staff work queues SMS through
the outbox (notify_users, whose commit nudges the worker through huey). With DATABASE_URL set to
PostgreSQL the drill uses a database of its own there, else a temporary SQLite file.

Checked: every report acknowledged exists once with its photo and event (retries with the same
key make no duplicate), no report is refused during the outage, latency during the outage
against before, how long after the restart the web workers count in Redis again and the SMS
queued during the outage are all sent, each exactly once, and how many log lines the outage
cost. With --hang Redis is stopped (SIGSTOP: it accepts connections and never answers, every
call waits for SIZHI_REDIS_TIMEOUT_MS) instead of killed, then continued. Last line: the summary.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sizhi.ops.drills import DrillUnavailable, redis_kill_drill


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=float, default=8)
    parser.add_argument("--outage", type=float, default=30)
    parser.add_argument("--after", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sms", type=int, default=50)
    parser.add_argument("--hang", action="store_true", help="SIGSTOP Redis (a hung server) instead of kill -9")
    parser.add_argument("--logs", type=Path, help="copy the server, worker and Redis logs into this folder")
    args = parser.parse_args()
    given = os.environ.get("DATABASE_URL", "")
    url = given if given.startswith(("postgres://", "postgresql://")) else None
    try:
        r = redis_kill_drill(
            database_url=url, before=args.before, outage=args.outage, after=args.after, clients=args.clients,
            workers=args.workers, sms=args.sms, hang=args.hang, keep_logs=args.logs, say=print,
        )
    except DrillUnavailable as exc:
        sys.exit(f"redis_kill: cannot run here: {exc}")
    f = r.findings
    for problem in r.problems[:20]:
        print("PROBLEM", problem)
    print(
        f"requests {f.requests}, acknowledged {f.acked}, 5xx {f.errors_5xx}, unanswered {f.unanswered}; "
        f"outage {r.outage_seconds:.1f} s: {r.outage_requests} requests, {r.outage_acked} acknowledged, "
        f"{r.outage_refused} refused, {r.outage_unanswered} unanswered"
    )
    print(
        f"median latency before {r.p50_before * 1000:.0f} ms, during the outage {r.p50_outage * 1000:.0f} ms; "
        f"p99 latency before {r.p99_before * 1000:.0f} ms, during the outage {r.p99_outage * 1000:.0f} ms, "
        f"after {r.p99_after * 1000:.0f} ms; notifications {r.notifications}, unsent {r.notifications_unsent}, "
        f"sent after more than one claim {r.notifications_retried}; log lines 'Redis unreachable' "
        f"{r.outage_log_lines} ({r.workers} web workers + 1 consumer), tracebacks {r.tracebacks} "
        f"({r.scan_queue_errors} of them insight.alerts' 'could not queue the alert scan')"
    )
    ratio = r.p99_outage / r.p99_before if r.p99_before else float("nan")
    ok = (
        not r.problems and f.lost == 0 and f.duplicates == 0 and r.outage_refused == 0 and r.outage_acked > 0
        and r.sms_missing == 0 and r.sms_duplicates == 0
    )
    name = f"redis_kill {'sqlite' if url is None else 'postgresql'}{' hung' if args.hang else ''}"
    print(
        f"{name}: during the {r.outage_seconds:.0f} s outage "
        f"{r.outage_acked} reports acknowledged, {r.outage_refused} refused, {f.lost} lost, {f.duplicates} "
        f"duplicated; p99 {r.p99_outage * 1000:.0f} ms vs {r.p99_before * 1000:.0f} ms before (x{ratio:.2f}); "
        f"counting in Redis again {seconds(r.cache_recovery)} after the restart; {r.sms} SMS queued in the "
        f"outage: {r.delivered_once} sent exactly once ({seconds(r.queue_recovery)} after the restart), "
        f"{r.sms_missing} missing, {r.sms_duplicates} duplicated -> {'PASS' if ok else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
