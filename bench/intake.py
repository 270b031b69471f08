"""Report intake under load: the production profile (scripts/serve_prod.sh: gunicorn + the huey
worker on PostgreSQL and Redis) driven by wrk, against its floor measured in the same run.

Real endpoint: POST /api/v1/reports, what the mobile app calls: form-encoded title, description
and a point, a citizen's API token, a fresh Idempotency-Key per request. Texts are real citizen
messages (teddycup2020 messages_labelled.csv); points lie inside the demo city's grids.

Floor: POST /bench/floor/reports (sizhi.benchfloor, mounted by SIZHI_BENCH_FLOOR=1) in the same
server behind the same middleware: a Django form validating the same five fields and one INSERT
into a one-table model. Real and floor runs alternate (real, floor, floor, real, …) so that the
noise of a shared machine falls on both.

After the runs it prints the peak RSS (VmHWM) of every web worker and of the background worker,
how long the worker took to deliver the queued notifications, and, as the last line, the
figures and the ratios to the floor. Creates and drops its own database (sizhi_bench_intake) and
Redis keys (db 12, prefix sizhi_bench_intake); leaves no process behind.

    .venv/bin/python bench/intake.py                    # 20 s per run, concurrency 16 and 64, 2 rounds
    .venv/bin/python bench/intake.py --duration 30 --rounds 3 --json /tmp/intake.json

Needs wrk (`apt-get install -y wrk`; installed here when missing and running as root), the
machine's PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379.
"""

# ruff: noqa: S603, S607 - runs only the project's own scripts, apt-get and wrk, with fixed arguments

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
DATA = ROOT.parent / "shared" / "data" / "teddycup2020" / "messages_labelled.csv"
LUA = ROOT / "bench" / "wrk" / "intake.lua"
GUNICORN_CONFIG = ROOT / "bench" / "wrk" / "gunicorn_bench.py"
DB_NAME = "sizhi_bench_intake"
REDIS_URL = "redis://127.0.0.1:6379/12"
PREFIX = "sizhi_bench_intake"
CITIZENS = 20
BODIES = 3000
INTAKE_PATH = "/api/v1/reports"
FLOOR_PATH = "/bench/floor/reports"
TARGET_RATIO = 0.40
TARGET_P99_MS = 100.0


@dataclass
class Run:
    target: str  # "intake" or "floor"
    concurrency: int
    round: int
    requests: int
    seconds: float
    rps: float
    non2xx: int
    statuses: dict[str, int]
    socket_errors: int
    timeouts: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # CPU milliseconds per request: the web processes, the background worker, the PostgreSQL
    # backends of this database. Steadier than req/s on a shared machine.
    cpu_web_ms: float = 0.0
    cpu_worker_ms: float = 0.0
    cpu_pg_ms: float = 0.0


@dataclass
class Memory:
    web_workers_kb: list[int] = field(default_factory=list)
    web_master_kb: int = 0
    worker_kb: int = 0


def log(message: str) -> None:
    print(f"[intake] {message}", file=sys.stderr, flush=True)


# --- seeding (runs inside Django, in a child process) -------------------------------------------


def seed(out_dir: Path) -> None:
    """Citizens with API tokens, and request bodies: real messages at points inside demo grids."""
    import django

    django.setup()
    from shapely.geometry import shape

    from sizhi.accounts.models import User
    from sizhi.api.services import api_token_create
    from sizhi.cases.services import DESCRIPTION_MAX, DESCRIPTION_MIN, TITLE_MAX
    from sizhi.regions.models import Grid

    tokens = []
    for n in range(CITIZENS):
        user = User.objects.create_user(
            username=f"bench-citizen-{n:03d}", password=None, is_citizen=True, display_name=f"压测居民{n}"
        )
        tokens.append(api_token_create(user=user, name="intake bench")[1])
    points = []
    for boundary in Grid.objects.values_list("boundary", flat=True):
        point = shape(boundary).representative_point()
        points.append((round(point.y, 6), round(point.x, 6)))
    if not points:
        raise SystemExit("the demo city has no grids")
    rng = random.Random(20261127)
    bodies = []
    with DATA.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            detail = " ".join(row["detail"].split())
            if len(detail) < DESCRIPTION_MIN:
                continue
            lat, lng = rng.choice(points)
            bodies.append(urllib.parse.urlencode({
                "title": row["title"].strip()[:TITLE_MAX], "description": detail[:DESCRIPTION_MAX],
                "lat": f"{lat}", "lng": f"{lng}",
            }))
    rng.shuffle(bodies)
    (out_dir / "bodies.txt").write_text("\n".join(bodies[:BODIES]) + "\n", encoding="utf-8")
    (out_dir / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    print(f"{len(tokens)} tokens, {min(BODIES, len(bodies))} bodies, {len(points)} grid points")


def queue_state() -> None:
    """Prints the outbox's pending and sent counts and the number of cases (child process)."""
    import django

    django.setup()
    from sizhi.benchfloor.models import FloorReport
    from sizhi.cases.models import Case
    from sizhi.notify.models import Notification, NotificationStatus

    rows = Notification.objects
    print(json.dumps({
        "pending": rows.filter(status__in=[NotificationStatus.PENDING, NotificationStatus.SENDING]).count(),
        "sent": rows.filter(status=NotificationStatus.SENT).count(),
        "failed": rows.filter(status=NotificationStatus.FAILED).count(),
        "cases": Case.objects.count(),
        "floor_rows": FloorReport.objects.count(),
    }))


def explain(work: Path, samples: int = 40) -> None:
    """What one request costs, in process (child process; no server involved): SQL statements
    per request, and the cumulative time per request of the project's functions that take the
    most, for the real endpoint and the floor. The limits are raised as in the benchmark."""
    import cProfile
    import pstats

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    sys.path.insert(0, str(GUNICORN_CONFIG.parent))
    from gunicorn_bench import _raise_intake_limits  # type: ignore[import-not-found]

    _raise_intake_limits()
    bodies = (work / "bodies.txt").read_text(encoding="utf-8").splitlines()
    tokens = (work / "tokens.txt").read_text().split()
    client = Client(SERVER_NAME="127.0.0.1")
    for path in (INTAKE_PATH, FLOOR_PATH):
        def post(n: int, path: str = path) -> None:
            answer = client.post(
                path, data=bodies[n % len(bodies)], content_type="application/x-www-form-urlencoded; charset=utf-8",
                headers={"authorization": f"Bearer {tokens[n % len(tokens)]}",
                         "idempotency-key": f"bench-explain-{uuid.uuid4()}"},
            )
            if answer.status_code != 201:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.content[:300]!r}")

        post(0)
        with CaptureQueriesContext(connection) as queries:
            post(1)
        statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
        kinds = {kind: statements.count(kind) for kind in sorted(set(statements))}
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        for n in range(2, 2 + samples):
            post(n)
        profile.disable()
        per_request = (time.perf_counter() - started) / samples * 1000
        print(f"{path}: {len(statements)} SQL statements per request ({kinds}); {per_request:.1f} ms per request "
              "serially, in process (profiler on)")
        stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        rows = []
        for (filename, line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.items():
            if "/sizhi/" in filename and "/site-packages/" not in filename:
                short = filename.split("/sizhi/", 1)[1]
                rows.append((cumulative / samples * 1000, f"sizhi/{short}:{line}({name})"))
        for ms, where in sorted(rows, reverse=True)[:30]:
            print(f"    {ms:6.1f} ms  {where}")


# --- the run ------------------------------------------------------------------------------------


def wait_for_outbox(env: dict[str, str], limit: float = 180) -> float:
    started = time.monotonic()
    while json.loads(helper(env, "--queue-state"))["pending"] and time.monotonic() - started < limit:
        time.sleep(1)
    return time.monotonic() - started


def wait_for_idle_worker(work: Path, limit: float = 240) -> float:
    """Seconds until the background worker has used under 5 % of a core for two seconds."""
    worker = int((work / "pids").read_text().split()[1])
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = cpu_ticks(worker)
        time.sleep(2)
        if (cpu_ticks(worker) - before) * TICK_MS < 100:
            break
    return round(time.monotonic() - started, 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(work: Path, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "REDIS_URL": REDIS_URL,
        "SIZHI_REDIS_PREFIX": PREFIX,
        "SIZHI_DATA_DIR": str(work / "data"),
        "SIZHI_MEDIA_ROOT": str(work / "media"),
        "SIZHI_BENCH_FLOOR": "1",
        "SIZHI_BIND": f"127.0.0.1:{port}",
        "SIZHI_PID_FILE": str(work / "pids"),
        "SIZHI_ENV_FILE": "/dev/null",
        "SIZHI_GUNICORN_CONFIG": str(GUNICORN_CONFIG),
        "SIZHI_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "sizhi.config.settings",
        "PYTHONPATH": str(ROOT),
        # One key for the server and every helper: personal data is encrypted with keys derived
        # from it, and a helper with another key could not read what the server wrote.
        "SIZHI_SECRET_KEY": secrets.token_urlsafe(50),
        # Plain HTTP on the loopback, as scripts/serve_prod.sh sets for its own processes.
        "SIZHI_SSL_REDIRECT": "0", "SIZHI_COOKIE_SECURE": "0", "SIZHI_HSTS_SECONDS": "0",
    }
    env.pop("SIZHI_DEBUG", None)
    return env


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0:
        log("wrk is missing: apt-get install -y wrk")
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    return found


def sizhi(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(BIN / "sizhi"), *args], env=env, cwd=ROOT, check=True)


def helper(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "python"), __file__, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"bench/intake.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@contextmanager
def production_profile(env: dict[str, str], work: Path, base: str) -> Iterator[subprocess.Popen[bytes]]:
    server_log = (work / "server.log").open("wb")
    server = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "serve_prod.sh")], env=env, cwd=ROOT, stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    try:
        # migrate and collectstatic run first; on a machine whose disk is busy they take minutes.
        deadline = time.monotonic() + 900
        while True:
            try:
                with urllib.request.urlopen(base + "/api/v1/openapi.json", timeout=2):  # noqa: S310
                    break
            except (urllib.error.URLError, OSError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the production profile did not start") from None
                time.sleep(0.5)
        yield server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        pids_file = work / "pids"
        if pids_file.exists():
            for pid in pids_file.read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                    log(f"process {pid} outlived the profile: killed")
                except ProcessLookupError:
                    pass
        server_log.close()


def post_once(base: str, path: str, body: str, token: str) -> int:
    request = urllib.request.Request(  # noqa: S310
        base + path, data=body.encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                 "Authorization": f"Bearer {token}", "Idempotency-Key": f"bench-check-{uuid.uuid4()}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{path}: {exc.code} {exc.read()[:400]!r}") from exc


def run_wrk(wrk: str, work: Path, base: str, target: str, concurrency: int, seconds: int, rnd: int) -> Run:
    url = base + (INTAKE_PATH if target == "intake" else FLOOR_PATH)
    env = {**os.environ, "WRK_BODIES": str(work / "bodies.txt"), "WRK_TOKENS": str(work / "tokens.txt")}
    threads = min(2, concurrency)
    out = subprocess.run(
        [wrk, f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "30s", "-s", str(LUA), url],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no RESULT line:\n{out}")
    data = json.loads(line.removeprefix("RESULT "))
    secs = data["duration_us"] / 1e6
    return Run(
        target=target, concurrency=concurrency, round=rnd, requests=data["requests"], seconds=round(secs, 2),
        rps=round(data["requests"] / secs, 1), non2xx=data["non2xx"], statuses=data["statuses"],
        socket_errors=data["socket_errors"], timeouts=data["timeouts"],
        p50_ms=data["p50_us"] / 1000, p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )


def vm_hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command may hold spaces and parentheses: the fields after the last ")" are fixed.
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int, *, reaped_children: bool = False) -> int:
    """utime + stime of a process (and, for gunicorn's master, of the workers it has reaped:
    a worker replaced after max_requests keeps counting)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    # After the command: state ppid … utime(12) stime(13) cutime(14) cstime(15), 0-based here.
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks


def pg_backends() -> list[int]:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [DB_NAME]
        ).fetchall()
    return [int(row[0]) for row in rows]


def cpu_snapshot(work: Path) -> dict[str, dict[int, int]]:
    web, worker = (int(x) for x in (work / "pids").read_text().split())
    return {
        "web": {web: cpu_ticks(web, reaped_children=True), **{pid: cpu_ticks(pid) for pid in children(web)}},
        "worker": {worker: cpu_ticks(worker)},
        "pg": {pid: cpu_ticks(pid) for pid in pg_backends()},
    }


def cpu_used_ms(before: dict[str, dict[int, int]], after: dict[str, dict[int, int]]) -> dict[str, float]:
    # A process gone before the second snapshot is lost (a recycled worker is caught by the
    # master's reaped-children count); a new one counts from zero.
    return {
        group: sum(ticks - before[group].get(pid, 0) for pid, ticks in after[group].items() if ticks) * TICK_MS
        for group in after
    }


def memory(work: Path) -> Memory:
    web, worker = (int(x) for x in (work / "pids").read_text().split())
    return Memory(
        web_workers_kb=sorted(vm_hwm_kb(pid) for pid in children(web)), web_master_kb=vm_hwm_kb(web),
        worker_kb=vm_hwm_kb(worker),
    )


def summarise(runs: list[Run], concurrency: int) -> dict[str, Any]:
    def of(target: str) -> list[Run]:
        return [r for r in runs if r.target == target and r.concurrency == concurrency]

    intake, floor = of("intake"), of("floor")
    result: dict[str, Any] = {"concurrency": concurrency}
    for name, group in (("intake", intake), ("floor", floor)):
        result[name] = {
            "rps": round(statistics.mean(r.rps for r in group), 1),
            "p50_ms": round(statistics.median(r.p50_ms for r in group), 1),
            "p99_ms": round(max(r.p99_ms for r in group), 1),
            "requests": sum(r.requests for r in group),
            "non2xx": sum(r.non2xx + r.socket_errors + r.timeouts for r in group),
            "cpu_ms": {part: round(statistics.median(getattr(r, f"cpu_{part}_ms") for r in group), 2)
                       for part in ("web", "worker", "pg")},
        }
    result["ratio"] = round(result["intake"]["rps"] / result["floor"]["rps"], 3)
    # Pairwise: each intake run against the floor run next to it, the steadier comparison.
    result["ratios_per_round"] = [round(i.rps / f.rps, 3) for i, f in zip(intake, floor, strict=True)]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run (default 20)")
    parser.add_argument("--concurrency", default="16,64", help="comma list (default 16,64)")
    parser.add_argument("--rounds", type=int, default=2, help="real/floor pairs per concurrency (default 2)")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the database and the work folder")
    parser.add_argument("--reuse", help="a work folder kept by --keep: skip migrate, demo load and seeding")
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    parser.add_argument("--queue-state", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--explain", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the server is stopped and the
    # database and Redis keys are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.seed:
        seed(Path(args.seed))
        return
    if args.queue_state:
        queue_state()
        return
    if args.explain:
        explain(Path(args.explain))
        return

    wrk = ensure_wrk()
    levels = [int(x) for x in args.concurrency.split(",")]
    work = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="sizhi-bench-intake-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(work, port)
    db = [str(BIN / "python"), str(ROOT / "scripts" / "prod_db.py")]
    if not args.reuse:
        subprocess.run([*db, "drop"], env=env, check=True)
        subprocess.run([*db, "redis-clean"], env=env, check=True)
        subprocess.run([*db, "create"], env=env, check=True)
    try:
        if not args.reuse:
            started = time.monotonic()
            sizhi(env, "migrate", "--noinput", "-v", "0")
            sizhi(env, "demo", "load")
            log(f"database ready with the demo city in {time.monotonic() - started:.0f} s")
            log(helper(env, "--seed", str(work)).strip())
        bodies = (work / "bodies.txt").read_text(encoding="utf-8").splitlines()
        token = (work / "tokens.txt").read_text().split()[0]
        runs: list[Run] = []
        waits: list[float] = []
        with production_profile(env, work, base):
            before = json.loads(helper(env, "--queue-state"))
            for path in (INTAKE_PATH, FLOOR_PATH):
                post_once(base, path, bodies[0], token)
            log("warm-up: 5 s of each")
            for target in ("intake", "floor"):
                run_wrk(wrk, work, base, target, levels[0], 5, 0)
            for concurrency in levels:
                for rnd in range(1, args.rounds + 1):
                    order = ("intake", "floor") if rnd % 2 else ("floor", "intake")
                    for target in order:
                        # Each run starts with an empty outbox and an idle worker, so that the
                        # worker catching up on one run's jobs (messages, the early-warning scan
                        # queued by every report) never lands in the next run's figures.
                        wait_for_outbox(env)
                        waits.append(wait_for_idle_worker(work))
                        before_cpu = cpu_snapshot(work)
                        run = run_wrk(wrk, work, base, target, concurrency, args.duration, rnd)
                        used = cpu_used_ms(before_cpu, cpu_snapshot(work))
                        run.cpu_web_ms = round(used["web"] / max(run.requests, 1), 2)
                        run.cpu_worker_ms = round(used["worker"] / max(run.requests, 1), 2)
                        run.cpu_pg_ms = round(used["pg"] / max(run.requests, 1), 2)
                        runs.append(run)
                        log(f"c{concurrency} round {rnd} {target:6}: {run.rps:7.1f} req/s  p50 {run.p50_ms:6.1f} ms"
                            f"  p99 {run.p99_ms:6.1f} ms  non-2xx {run.non2xx}  errors "
                            f"{run.socket_errors + run.timeouts}  CPU ms/req web {run.cpu_web_ms} worker "
                            f"{run.cpu_worker_ms} pg {run.cpu_pg_ms}")
            mem = memory(work)
            # The outbox: every report queued inbox messages for its dispatchers; the worker
            # delivers them. How long until it has caught up after the load stops?
            drain = wait_for_outbox(env, 300) + wait_for_idle_worker(work, 300)
            state = json.loads(helper(env, "--queue-state"))
            log("what one request costs (in process, serially)")
            try:
                explained = helper(env, "--explain", str(work))
            except RuntimeError as exc:  # the figures above are worth printing anyway
                explained = f"(the in-process account failed: {exc})"
        load = os.getloadavg()
    finally:
        if not args.keep:
            subprocess.run([*db, "drop"], env=env, check=False)
            subprocess.run([*db, "redis-clean"], env=env, check=False)
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work} and database {DB_NAME}")

    summaries = [summarise(runs, c) for c in levels]
    made = state["cases"] - before["cases"]
    created_201 = sum(r.requests - r.non2xx for r in runs if r.target == "intake")
    print()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} at the end; "
          f"{args.duration} s per run, {args.rounds} rounds, wrk -t2")
    print(f"{'c':>3} {'endpoint':8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'non-2xx':>8}")
    for s in summaries:
        for name in ("intake", "floor"):
            f = s[name]
            print(f"{s['concurrency']:>3} {name:8} {f['rps']:>8} {f['p50_ms']:>8} {f['p99_ms']:>8} "
                  f"{f['requests']:>9} {f['non2xx']:>8}")
        print(f"    ratio intake/floor {s['ratio']:.1%} (per round: "
              f"{', '.join(f'{r:.1%}' for r in s['ratios_per_round'])})")
        for name in ("intake", "floor"):
            cpu = s[name]["cpu_ms"]
            print(f"    CPU ms per request, {name}: web {cpu['web']}, worker {cpu['worker']}, PostgreSQL {cpu['pg']}"
                  f" = {cpu['web'] + cpu['worker'] + cpu['pg']:.1f}")
    web = mem.web_workers_kb
    print(f"peak RSS (VmHWM): web workers {', '.join(f'{kb / 1024:.0f}' for kb in web)} MB "
          f"(master {mem.web_master_kb / 1024:.0f} MB); background worker {mem.worker_kb / 1024:.0f} MB")
    print(f"cases made {made} (the warm-up's included), 2xx intake answers in the timed runs {created_201}; "
          f"outbox: {state['sent']} sent, {state['pending']} pending, {state['failed']} failed, "
          f"worker idle {drain:.0f} s after the load stopped; waits for an idle worker before each run: "
          f"{', '.join(f'{w:.0f}' for w in waits)} s")
    print(explained.rstrip())
    first = summaries[0]
    met = (first["ratio"] >= TARGET_RATIO and first["intake"]["p99_ms"] <= TARGET_P99_MS
           and all(s["intake"]["non2xx"] == 0 and s["floor"]["non2xx"] == 0 for s in summaries))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "runs": [asdict(r) for r in runs], "summaries": summaries, "memory": asdict(mem),
            "outbox": state, "drain_seconds": round(drain, 1), "idle_waits": waits, "load": load, "targets_met": met,
        }, indent=2, ensure_ascii=False))
    parts = [
        f"c{s['concurrency']}: intake {s['intake']['rps']} req/s p99 {s['intake']['p99_ms']} ms, "
        f"floor {s['floor']['rps']} req/s p99 {s['floor']['p99_ms']} ms, ratio {s['ratio']:.0%}"
        for s in summaries
    ]
    errors = sum(s["intake"]["non2xx"] + s["floor"]["non2xx"] for s in summaries)
    print(f"INTAKE {'; '.join(parts)}; non-2xx {errors}; peak RSS web {max(web) / 1024:.0f} MB, "
          f"worker {mem.worker_kb / 1024:.0f} MB; targets (c{first['concurrency']} ≥ {TARGET_RATIO:.0%} of floor, "
          f"p99 ≤ {TARGET_P99_MS:.0f} ms, no errors) {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
