"""Flooding (docs/SECURITY.md abuse case 10): 10,000 anonymous reports from one address, against
the production profile (scripts/serve_prod.sh: gunicorn + huey on PostgreSQL and Redis) with its
real limits, while other users keep working from another address.

The attacker sends the 10,000 reports as fast as four keep-alive connections allow (much faster
than "an hour": the harder case) from 127.0.0.66; Linux routes all of 127.0.0.0/8 to the loopback,
so the server sees a separate client address. Checks: at most REPORTS_PER_ADDRESS reports are
accepted, every other answer is 429 with a Retry-After header, and exactly the accepted reports
exist as cases. Other users (from 127.0.0.1: a dispatcher's case list and case detail, a
citizen's own cases, the public category tree, with API tokens) send a steady 10 requests/s;
their p50/p99 are measured for 30 s without the flood and then while it runs, and the last line
prints the ratios.

    .venv/bin/python bench/flood.py [--reports 10000] [--baseline 30] [--rate 0]

With --rate the attacker is paced (2.8/s is the issue's "10,000 an hour"); without it, it sends
as fast as its connections go.

Creates and drops its own database (sizhi_bench_flood) and Redis keys (db 13, prefix
sizhi_bench_flood); leaves no process behind.
"""

# ruff: noqa: S603 - runs the project's own scripts; fetches only its own loopback server

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake import BIN, ROOT, free_port, production_profile

DB_NAME = "sizhi_bench_flood"
REDIS_URL = "redis://127.0.0.1:6379/13"
PREFIX = "sizhi_bench_flood"
ATTACKER = "127.0.0.66"
OTHERS = "127.0.0.1"
ATTACK_CONNECTIONS = 4
OTHERS_RATE = 10.0  # requests per second, all other users together


def log(message: str) -> None:
    print(f"[flood] {message}", file=sys.stderr, flush=True)


def seed(out: Path) -> None:
    """The small test world, a few cases, tokens for a dispatcher and a citizen (child process)."""
    import django

    django.setup()
    from django.db import transaction

    from sizhi.accounts import throttle
    from sizhi.api.services import api_token_create
    from sizhi.cases import services
    from sizhi.conftest import build_world, inside

    with transaction.atomic():
        world = build_world()
        lat, lng = inside(world.grid_a1)
        cases = [
            services.report_submit(
                reporter=world.user("citizen"), description=f"金业路第{n + 1}处井盖缺失，夜间很危险", lat=lat, lng=lng
            )
            for n in range(5)
        ]
        dispatcher = api_token_create(user=world.user("town_dispatcher"), name="flood bench")[1]
        citizen = api_token_create(user=world.user("citizen"), name="flood bench")[1]
    out.write_text(json.dumps({
        "lat": lat, "lng": lng, "case": cases[0].pk, "dispatcher": dispatcher, "citizen": citizen,
        "limit": throttle.REPORTS_PER_ADDRESS.count, "window": throttle.REPORTS_PER_ADDRESS.window,
    }))


def case_count() -> None:
    import django

    django.setup()
    from sizhi.cases.models import Case

    print(Case.objects.count())


@dataclass
class Others:
    """Other users' requests at a steady rate; latencies in ms, tagged by phase."""

    port: int
    seed: dict[str, Any]
    phase: str = "baseline"
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def requests(self) -> list[tuple[str, str]]:
        return [
            ("/api/v1/cases?page_size=20", self.seed["dispatcher"]),
            (f"/api/v1/cases/{self.seed['case']}", self.seed["dispatcher"]),
            ("/api/v1/me/cases", self.seed["citizen"]),
            ("/api/v1/categories", self.seed["citizen"]),
        ]

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(OTHERS, 0))
        plan = self.requests()
        n = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            path, token = plan[n % len(plan)]
            n += 1
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
                answer = conn.getresponse()
                content = answer.read()
                ok = answer.status == 200
                if not ok:
                    self.why.setdefault(f"{answer.status} {path}", content[:200].decode(errors="replace"))
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(OTHERS, 0))
                ok = False
                self.why.setdefault(f"{type(exc).__name__} {path}", str(exc))
            elapsed = (time.perf_counter() - started) * 1000
            phase = self.phase
            if ok:
                self.latencies.setdefault(phase, []).append(elapsed)
            else:
                self.failures[phase] = self.failures.get(phase, 0) + 1
            next_at += 1 / OTHERS_RATE
            time.sleep(max(0.0, next_at - time.monotonic()))
        conn.close()


@dataclass
class Attack:
    port: int
    body: str
    total: int
    rate: float = 0.0  # requests per second over all connections; 0: as fast as they go
    started: float = 0.0  # time.monotonic() when the flood began
    statuses: dict[int, int] = field(default_factory=dict)
    missing_retry_after: int = 0
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        with self.lock:
            if self.sent >= self.total:
                return False
            self.sent += 1
            due = self.started + self.sent / self.rate if self.rate else 0.0
        if due:
            time.sleep(max(0.0, due - time.monotonic()))
        return True

    def begin(self) -> None:
        self.started = time.monotonic()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(ATTACKER, 0))
        while self.take():
            headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                       "Accept": "application/json", "Idempotency-Key": f"flood-{uuid.uuid4()}"}
            try:
                conn.request("POST", "/api/v1/reports", body=self.body.encode(), headers=headers)
                answer = conn.getresponse()
                answer.read()
                status = answer.status
                retry_after = answer.getheader("Retry-After")
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(ATTACKER, 0))
                status, retry_after = 0, None
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if self.sent % 1000 == 0:
                    log(f"flood: {self.sent} sent, answers {dict(sorted(self.statuses.items()))}")
                if status == 429 and not (retry_after or "").isdigit():
                    self.missing_retry_after += 1
        conn.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=30, help="seconds of other users without the flood")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="flood requests per second (0: as fast as four connections go; 2.8 is 10,000 an hour)")
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    parser.add_argument("--case-count", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the server is stopped and the
    # database and Redis keys are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.seed:
        seed(Path(args.seed))
        return
    if args.case_count:
        case_count()
        return

    work = Path(tempfile.mkdtemp(prefix="sizhi-bench-flood-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "REDIS_URL": REDIS_URL, "SIZHI_REDIS_PREFIX": PREFIX,
        "SIZHI_DATA_DIR": str(work / "data"), "SIZHI_MEDIA_ROOT": str(work / "media"),
        "SIZHI_BIND": f"127.0.0.1:{port}", "SIZHI_PID_FILE": str(work / "pids"), "SIZHI_ENV_FILE": "/dev/null",
        "SIZHI_LOG_LEVEL": "WARNING", "SIZHI_ACCESS_LOG": "0",
        "SIZHI_SSL_REDIRECT": "0", "SIZHI_COOKIE_SECURE": "0", "SIZHI_HSTS_SECONDS": "0",
        # One key for the server and the seeding helper (personal data is encrypted with keys
        # derived from it).
        "SIZHI_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SETTINGS_MODULE": "sizhi.config.settings", "PYTHONPATH": str(ROOT),
    }
    env.pop("SIZHI_DEBUG", None)
    env.pop("SIZHI_GUNICORN_CONFIG", None)
    db = [str(BIN / "python"), str(ROOT / "scripts" / "prod_db.py")]
    subprocess.run([*db, "drop"], env=env, check=True)
    subprocess.run([*db, "redis-clean"], env=env, check=True)
    subprocess.run([*db, "create"], env=env, check=True)
    try:
        subprocess.run([str(BIN / "sizhi"), "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True)
        helper_env = env
        subprocess.run([str(BIN / "python"), __file__, "--seed", str(work / "seed.json")], env=helper_env,
                       cwd=ROOT, check=True)
        seeded = json.loads((work / "seed.json").read_text())
        body = urllib.parse.urlencode({
            "title": "路灯不亮", "description": "金业路社区3号楼前的路灯连续三晚不亮，夜里行人看不清路。",
            "lat": str(seeded["lat"]), "lng": str(seeded["lng"]),
        })
        with production_profile(env, work, base):
            cases_before = int(subprocess.run(
                [str(BIN / "python"), __file__, "--case-count"], env=env, cwd=ROOT, check=True,
                capture_output=True, text=True).stdout)
            others = Others(port, seeded)
            other_thread = threading.Thread(target=others.run, daemon=True)
            other_thread.start()
            log(f"other users alone for {args.baseline} s")
            time.sleep(args.baseline)
            others.phase = "flood"
            attack = Attack(port, body, args.reports, args.rate)
            attack.begin()
            attackers = [threading.Thread(target=attack.run, daemon=True) for _ in range(ATTACK_CONNECTIONS)]
            log(f"flood: {args.reports} anonymous reports from {ATTACKER}")
            flood_started = time.monotonic()
            for thread in attackers:
                thread.start()
            for thread in attackers:
                thread.join()
            flood_seconds = time.monotonic() - flood_started
            others.phase = "after"
            time.sleep(3)
            others.stop.set()
            other_thread.join(35)
            cases_after = int(subprocess.run(
                [str(BIN / "python"), __file__, "--case-count"], env=env, cwd=ROOT, check=True,
                capture_output=True, text=True).stdout)
        load = os.getloadavg()
        server_log = (work / "server.log").read_text(errors="replace")
        if "Traceback" in server_log:
            start = server_log.index("Traceback")
            print("--- first traceback in the server log ---\n" + server_log[max(0, start - 300):start + 4000])
    finally:
        subprocess.run([*db, "drop"], env=env, check=False)
        subprocess.run([*db, "redis-clean"], env=env, check=False)
        shutil.rmtree(work, ignore_errors=True)

    accepted = attack.statuses.get(201, 0)
    refused = attack.statuses.get(429, 0)
    made = cases_after - cases_before
    base_lat, flood_lat = others.latencies.get("baseline", []), others.latencies.get("flood", [])
    p50 = (statistics.median(base_lat), statistics.median(flood_lat))
    p99 = (percentile(base_lat, 0.99), percentile(flood_lat, 0.99))
    print()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} at the end")
    print(f"flood: {attack.sent} anonymous reports from one address in {flood_seconds:.1f} s "
          f"({attack.sent / flood_seconds:.0f}/s, {ATTACK_CONNECTIONS} connections); answers "
          + ", ".join(f"{code}: {n}" for code, n in sorted(attack.statuses.items()))
          + f"; 429 without a Retry-After: {attack.missing_retry_after}; cases made {made} "
          f"(limit {seeded['limit']} per address per {seeded['window'] // 60} min)")
    print(f"other users ({OTHERS_RATE:.0f} req/s from another address): without the flood "
          f"{len(base_lat)} requests p50 {p50[0]:.1f} ms p99 {p99[0]:.1f} ms; during it {len(flood_lat)} requests "
          f"p50 {p50[1]:.1f} ms p99 {p99[1]:.1f} ms; failures {others.failures or 0}")
    for what, detail in others.why.items():
        print(f"other users' failure: {what}: {detail}")
    ok = (accepted <= seeded["limit"] and refused + accepted == attack.sent and attack.missing_retry_after == 0
          and made == accepted and not others.failures)
    print(f"FLOOD {attack.sent} reports: {accepted} accepted, {refused} refused with 429 + Retry-After; "
          f"other users p50 {p50[0]:.1f} → {p50[1]:.1f} ms (×{p50[1] / p50[0]:.2f}), "
          f"p99 {p99[0]:.1f} → {p99[1]:.1f} ms (×{p99[1] / p99[0]:.2f}); "
          f"{'throttled correctly' if ok else 'CHECK FAILED'}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
