"""Crash and restore drills (SECURITY.md "Faults to survive"): the real processes — gunicorn,
PostgreSQL, the huey consumer — are started here, killed with SIGKILL at random moments, and
the data checked afterwards. The test suite runs each drill in a short form
(sizhi/ops/tests/test_drills.py), bench/drills/ in a long form that prints figures.

Every drill works in its own temporary folder and its own database (a temporary SQLite file, a
database of its own on the PostgreSQL server of DATABASE_URL, or a private PostgreSQL cluster
for the drill that kills the server), so it never touches the test database or another
session's server. Every process started here is in its own process group and is killed when
the drill ends, whatever happens.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import io
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

PYTHON = sys.executable
PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
Say = Callable[[str], None]


class DrillUnavailable(Exception):
    """A prerequisite of the drill is missing on this machine (the message says which)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quiet(_message: str) -> None:
    return None


# --- a sandbox: temp folder, private database, child processes --------------------------------


class Sandbox:
    """A data folder, a database and the processes of one drill."""

    def __init__(self, database_url: str | None = None, *, prefix: str = "sizhi-drill-") -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.created_pg: tuple[str, str] | None = None
        if database_url and database_url.startswith(("postgres://", "postgresql://")):
            database_url = self._create_pg_database(database_url)
        self.database_url = database_url
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SIZHI_", "DATABASE_URL", "REDIS_URL"))},
            "DJANGO_SETTINGS_MODULE": "sizhi.config.settings",
            "SIZHI_DATA_DIR": str(self.root / "data"),
            "SIZHI_DRILL_DIR": str(self.root),
            "SIZHI_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            # Plain HTTP on 127.0.0.1, as `make serve-prod` runs it.
            "SIZHI_SSL_REDIRECT": "0",
            "SIZHI_COOKIE_SECURE": "0",
            "SIZHI_HSTS_SECONDS": "0",
        }
        if database_url:
            self.env["DATABASE_URL"] = database_url

    def _create_pg_database(self, url: str) -> str:
        import psycopg

        parts = urlsplit(url)
        name = f"sizhi_drill_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = parts._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created_pg = (admin, name)
        return parts._replace(path=f"/{name}").geturl()

    @property
    def media(self) -> Path:
        return self.root / "data" / "media"

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [PYTHON, "-m", "sizhi.manage", *args], env=self.env, cwd=PROJECT_DIR, capture_output=True, text=True,
            timeout=timeout, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"sizhi {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done

    def kit(self, *args: str, timeout: float = 120) -> Any:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [PYTHON, "-m", "sizhi.ops.drillkit", *args], env=self.env, cwd=PROJECT_DIR, capture_output=True,
            text=True, timeout=timeout, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"drillkit {' '.join(args)} failed: {done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def spawn(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        with (self.root / log).open("ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - fixed programs
                args, env=self.env, cwd=PROJECT_DIR, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)

    def close(self) -> None:
        for proc in self.procs:
            self.kill(proc)
        if self.created_pg is not None:
            import psycopg

            admin, name = self.created_pg
            with contextlib.suppress(psycopg.Error), psycopg.connect(admin, autocommit=True, connect_timeout=5) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, log: str, lines: int = 30) -> str:
        path = self.root / log
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@contextlib.contextmanager
def sandbox(database_url: str | None = None) -> Iterator[Sandbox]:
    box = Sandbox(database_url)
    try:
        yield box
    finally:
        box.close()


def children_of(pid: int) -> list[int]:
    """The live child processes of `pid` (Linux /proc)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = Path(stat).read_text()
            fields = text[text.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(stat.split("/")[2]))
    return found


# --- the web app under load ---------------------------------------------------------------------


def start_gunicorn(box: Sandbox, *, workers: int = 3) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = box.spawn(
        [
            PYTHON, "-m", "gunicorn", "sizhi.config.wsgi:application", "--workers", str(workers),
            "--config", "python:sizhi.ops.drill_gunicorn", "--no-control-socket",
            "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--timeout", "30", "--graceful-timeout", "2",
        ],
        "gunicorn.log",
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited: " + box.log_tail("gunicorn.log"))
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/drill-ping")  # a 404 from Django: the application is loaded
            if conn.getresponse().status < 500:
                return proc, port
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 60 s: " + box.log_tail("gunicorn.log"))


def make_photo(seed: int) -> bytes:
    """A small JPEG whose content is unique to `seed`, so each report's photo is its own file."""
    rnd = random.Random(seed)
    image = Image.new("RGB", (96, 72), (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    for _ in range(40):
        image.putpixel((rnd.randrange(96), rnd.randrange(72)), (rnd.randrange(256), 0, rnd.randrange(256)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


@dataclass
class Submission:
    key: str
    description: str
    photo: bytes


@dataclass
class Answer:
    status: int  # 0: no answer (connection reset, timeout)
    case_id: int | None
    seconds: float
    started: float


def submit(port: int, token: str, sub: Submission, *, timeout: float = 15) -> Answer:
    """POST /api/v1/reports as multipart with a photo and the Idempotency-Key."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in (("description", sub.description), ("address", "演练路 8 号")):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode() + sub.photo + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": sub.key,
    }
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("POST", "/api/v1/reports", body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
    except (OSError, http.client.HTTPException):
        return Answer(0, None, time.monotonic() - started, started)
    case_id = None
    if response.status == 201:
        case_id = int(json.loads(data)["id"])
    return Answer(response.status, case_id, time.monotonic() - started, started)


@dataclass
class Load:
    """Clients submitting reports in a loop until stopped; remembers every request."""

    port: int
    token: str
    clients: int = 4
    submissions: dict[str, Submission] = field(default_factory=dict)
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def _client(self, number: int) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            seed = number * 1_000_000 + i
            sub = Submission(
                key=f"drill-{uuid.uuid4()}", description=f"演练上报 {seed}：路面塌陷需要处理", photo=make_photo(seed)
            )
            with self.lock:
                self.submissions[sub.key] = sub
            answer = submit(self.port, self.token, sub)
            with self.lock:
                self.answers.setdefault(sub.key, []).append(answer)
            if answer.status == 0 or answer.status >= 500:
                time.sleep(0.2)  # a client backs off a little after a failure

    def start(self) -> None:
        for n in range(self.clients):
            thread = threading.Thread(target=self._client, args=(n + 1,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def acked(self) -> dict[str, int]:
        return {k: a.case_id for k, answers in self.answers.items() for a in answers if a.case_id is not None}


@dataclass
class Findings:
    """What the check after a drill found. `lost` and `duplicates` must be 0."""

    requests: int = 0
    acked: int = 0
    unanswered: int = 0
    errors_5xx: int = 0
    lost: int = 0
    duplicates: int = 0
    wrong_case: int = 0
    retry_failed: int = 0
    created_on_retry: int = 0
    bad_photos: int = 0
    bad_events: int = 0
    orphan_rows: int = 0
    orphan_files: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "problems"}


def check_reports(box: Sandbox, load: Load) -> Findings:
    """Retry every request with its key (acknowledged or not), then look at what exists."""
    acked = load.acked()
    f = Findings(requests=sum(len(a) for a in load.answers.values()), acked=len(acked))
    for answers in load.answers.values():
        f.unanswered += sum(1 for a in answers if a.status == 0)
        f.errors_5xx += sum(1 for a in answers if a.status >= 500)
    keys = sorted(load.submissions)
    keys_file = box.root / "keys.json"
    keys_file.write_text(json.dumps(keys))
    before = box.kit("reports", str(keys_file))
    with ThreadPoolExecutor(max_workers=max(load.clients, 2)) as pool:
        retries = list(pool.map(lambda k: submit(load.port, load.token, load.submissions[k]), keys))
    for key, retry in zip(keys, retries, strict=True):
        if retry.case_id is None:
            f.retry_failed += 1
            f.problems.append(f"retry of {key} answered {retry.status}")
        elif key in acked and retry.case_id != acked[key]:
            f.wrong_case += 1
            f.problems.append(f"retry of acknowledged {key} returned case {retry.case_id}, not {acked[key]}")
        elif key not in acked and not before["found"][key]:
            f.created_on_retry += 1
    after = box.kit("reports", str(keys_file))
    for key in keys:
        cases = after["found"][key]
        if key in acked and not before["found"][key]:
            f.lost += 1
            f.problems.append(f"acknowledged report {key} (case {acked[key]}) is missing")
        if len(cases) > 1:
            f.duplicates += 1
            f.problems.append(f"{key} made {len(cases)} cases")
        for case in cases:
            if case["submits"] != 1:
                f.bad_events += 1
                f.problems.append(f"case {case['id']} has {case['submits']} submit events")
            if len(case["photos"]) != 1 or not all(p["ok"] for p in case["photos"]):
                f.bad_photos += 1
                f.problems.append(f"case {case['id']} photos: {case['photos']}")
    if len({c["id"] for cases in before["found"].values() for c in cases}) != sum(
        len(c) for c in before["found"].values()
    ):
        f.problems.append("one case counted under two keys")
    f.orphan_rows = (
        after["cases_without_submit"] + after["attachments_without_file"] + after["unfinished_idempotency_records"]
    )
    if after["cases_total"] != sum(len(c) for c in after["found"].values()):
        f.orphan_rows += after["cases_total"] - sum(len(c) for c in after["found"].values())
        f.problems.append(f"{after['cases_total']} cases in all, not one per key")
    if f.orphan_rows:
        f.problems.append(f"orphan rows: {after}")
    f.orphan_files = len(after["orphan_files"])
    return f


# --- drill 1: kill -9 of web workers --------------------------------------------------------------


@dataclass
class WebKillResult:
    findings: Findings
    kills: int
    seconds: float
    latency_p50: float
    latency_max: float


def web_kill_drill(
    *, database_url: str | None = None, seconds: float = 8, clients: int = 4, workers: int = 3,
    kill_every: tuple[float, float] = (0.3, 1.0), say: Say = _quiet,
) -> WebKillResult:
    with sandbox(database_url) as box:
        box.manage("migrate", "--noinput")
        token = box.kit("seed")["token"]
        master, port = start_gunicorn(box, workers=workers)
        load = Load(port, token, clients=clients)
        load.start()
        kills = 0
        # Kills start once a report has gone through, and the load stops only after one has gone
        # through since the last kill: the drill always covers "before", "during" and "after".
        _first_ack_after(load, time.monotonic(), timeout=60)
        started = time.monotonic()
        rnd = random.Random()
        last_kill = started
        while time.monotonic() - started < seconds:
            time.sleep(rnd.uniform(*kill_every))
            workers_now = children_of(master.pid)
            if workers_now:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(rnd.choice(workers_now), signal.SIGKILL)
                    kills += 1
                    last_kill = time.monotonic()
        _first_ack_after(load, last_kill, timeout=60)
        load.finish()
        elapsed = time.monotonic() - started
        _wait_for_workers(master.pid, workers)
        findings = check_reports(box, load)
        times = [a.seconds for answers in load.answers.values() for a in answers if a.case_id is not None]
        say(f"web kill: {kills} kills in {elapsed:.1f}s, {json.dumps(findings.as_dict())}")
        return WebKillResult(
            findings, kills, elapsed, statistics.median(times) if times else 0.0, max(times) if times else 0.0
        )


def _wait_for_workers(master: int, workers: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(children_of(master)) < workers and time.monotonic() < deadline:
        time.sleep(0.2)


# --- drill 2: kill -9 of PostgreSQL -----------------------------------------------------------------


def postgres_bin() -> Path:
    """The newest installed PostgreSQL server binaries (Debian layout, else PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise DrillUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")


class PrivateCluster:
    """A throw-away PostgreSQL cluster on a free port, so the drill can kill a server nobody
    else uses. initdb refuses root: as root it runs as the postgres OS user."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            import pwd

            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise DrillUnavailable("running as root and there is no postgres OS user for initdb") from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise DrillUnavailable("running as root and runuser is missing") from None
            self.as_user = [runuser, "-u", "postgres", "--"]
        self.root = Path(tempfile.mkdtemp(prefix="sizhi-drill-pg-"))
        if self.as_user:
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.data = self.root / "data"
        self.port = free_port()
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync",
                  "--locale=C")

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(  # noqa: S603 - the PostgreSQL tools
            [*self.as_user, str(self.bin / tool), *args], capture_output=True, text=True, timeout=timeout,
            check=False, cwd=self.root,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr[-1500:]} {done.stdout[-500:]}")
        return done

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/sizhi"

    def start(self, timeout: float = 60) -> None:
        """Start, retrying while the backends of a killed postmaster are still exiting."""
        deadline = time.monotonic() + timeout
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=60"
        while True:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "30",
                          "-o", options, "start")
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def createdb(self, name: str = "sizhi") -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])

    def kill9(self) -> int:
        """SIGKILL the postmaster, then its backends (as a crash of the whole server would), so
        the restart need not wait for orphaned backends to notice and exit."""
        pid = self.postmaster_pid()
        backends = children_of(pid)
        os.kill(pid, signal.SIGKILL)
        for child in backends:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        return pid

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "10", "stop", timeout=20)
        with contextlib.suppress(Exception):
            os.kill(self.postmaster_pid(), signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PgKillResult:
    findings: Findings
    kills: int
    recovery_seconds: list[float]
    outage_failures: int
    outage_slowest: float
    workers_replaced: int  # gunicorn workers that died over the drill: 0 = recovered without a restart


def pg_kill_drill(
    *, kills: int = 1, before: float = 3, outage: float = 1.0, after: float = 3, clients: int = 4,
    say: Say = _quiet,
) -> PgKillResult:
    t0 = time.monotonic()
    cluster = PrivateCluster()
    try:
        cluster.start()
        cluster.createdb()
        say(f"pg kill: private cluster on port {cluster.port} ready in {time.monotonic() - t0:.1f}s")
        with sandbox(cluster.url) as box:
            box.manage("migrate", "--noinput")
            token = box.kit("seed")["token"]
            master, port = start_gunicorn(box, workers=3)
            workers_before = set(children_of(master.pid))
            say(f"pg kill: migrated, seeded, gunicorn up at {time.monotonic() - t0:.1f}s")
            load = Load(port, token, clients=clients)
            load.start()
            _first_ack_after(load, time.monotonic(), timeout=60)  # the load is flowing before the first kill
            recoveries: list[float] = []
            windows: list[tuple[float, float]] = []
            for _ in range(kills):
                time.sleep(before)
                down = time.monotonic()
                cluster.kill9()
                time.sleep(outage)
                cluster.start()
                up = time.monotonic()
                windows.append((down, up))
                recovered = _first_ack_after(load, up, timeout=60)
                if recovered is None:
                    load.finish()
                    raise AssertionError("no report was acknowledged within 60 s of the restart: "
                                         + box.log_tail("gunicorn.log"))
                recoveries.append(recovered - up)
                say(f"pg kill: restarted in {up - down:.1f}s, first acknowledged report {recovered - up:.2f}s later")
            time.sleep(after)
            load.finish()
            during = [
                a for answers in load.answers.values() for a in answers
                if a.case_id is None and any(d <= a.started <= u for d, u in windows)
            ]
            workers_replaced = len(workers_before - set(children_of(master.pid)))
            say(f"pg kill: load stopped at {time.monotonic() - t0:.1f}s")
            findings = check_reports(box, load)
            say(f"pg kill: checked at {time.monotonic() - t0:.1f}s")
            return PgKillResult(
                findings, kills, recoveries, len(during), max((a.seconds for a in during), default=0.0),
                workers_replaced,
            )
    finally:
        cluster.close()


def _first_ack_after(load: Load, moment: float, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with load.lock:
            done = [a.started + a.seconds for answers in load.answers.values() for a in answers
                    if a.case_id is not None and a.started >= moment]
        if done:
            return min(done)
        time.sleep(0.05)
    return None


# --- drill 3: kill -9 of the background worker ----------------------------------------------------


@dataclass
class WorkerKillResult:
    kills: int
    sms: int
    delivered_once: int
    missing: int
    duplicates: int
    killed_mid_send: int
    overdue: int
    escalated_once: int
    escalation_problems: int
    seconds: float
    problems: list[str] = field(default_factory=list)


def worker_kill_drill(
    *, database_url: str | None = None, sms: int = 12, overdue: int = 40, kills: int = 3, sms_delay: float = 0.3,
    claim_seconds: float = 2.0, periodic: bool = False, timeout: float = 90, say: Say = _quiet,
) -> WorkerKillResult:
    """Kill the consumer while it sends SMS through a slow gateway and while it sweeps overdue
    cases; restart it each time. Without `periodic` the drill queues the jobs again itself (what
    the minute tick does in production); with it, it waits for the real periodic jobs."""
    started = time.monotonic()
    with sandbox(database_url) as box:
        box.env.update({
            "SIZHI_SMS_BACKEND": "sizhi.ops.drillkit.SlowFileSmsBackend", "SIZHI_DRILL_SMS_DELAY": str(sms_delay),
        })
        box.manage("migrate", "--noinput")
        box.kit("seed", str(overdue), str(sms))
        consumer_args = [PYTHON, "-m", "sizhi.ops.drillkit", "consumer", str(claim_seconds), "-w", "1"]
        if not periodic:
            consumer_args.append("-n")
        sending, delivered_log = box.root / "sending.log", box.root / "sms.log"
        delivered_before = 0
        rnd = random.Random()
        done_kills = 0
        consumer = box.spawn(consumer_args, "huey.log")
        box.kit("enqueue", "sweep", "deliver")
        for n in range(kills):
            if n == 0:
                # The first kill lands in the sweep (the first job queued), at a random moment.
                time.sleep(rnd.uniform(0.0, 0.4))
            else:
                # Let two messages through first: a kill lands on whichever send is running, and
                # after a restart that is the one the last kill cut short. Five interrupted
                # attempts in a row mark a message failed (MAX_ATTEMPTS), as for a poison message.
                deadline = time.monotonic() + 60
                while _lines(delivered_log) < delivered_before + 2 and time.monotonic() < deadline:
                    time.sleep(0.02)
                seen = _lines(sending)
                while _lines(sending) <= seen and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(rnd.uniform(0.0, sms_delay * 0.8))  # inside the gateway call
            box.kill(consumer)
            done_kills += 1
            delivered_before = _lines(delivered_log)
            consumer = box.spawn(consumer_args, "huey.log")
            if not periodic:
                box.kit("enqueue", "sweep", "deliver")
        state = box.kit(
            "settle", str(claim_seconds), str(timeout), "wait" if periodic else "requeue", timeout=timeout + 60
        )
        box.kill(consumer)
        # Every send that started and never reached the gateway's log was cut short by a kill.
        mid_send = _lines(sending) - _lines(delivered_log)

        problems: list[str] = []
        expected = [f"drill-{i:05d}" for i in range(sms)]
        delivered, missing, doubled = _sms_tally(delivered_log, expected)
        if missing:
            problems.append(f"never delivered: {missing[:5]} (status {state['sms_status']})")
        if doubled:
            problems.append(f"delivered more than once: {doubled}")
        events = state["red_events"]
        inbox = state["inbox_per_red_case"]
        wrong_events = {pk: n for pk, n in events.items() if n != 1}
        if wrong_events:
            problems.append(f"cases with more than one red-card event: {wrong_events}")
        if len(state["red_cases"]) != overdue:
            problems.append(f"{len(state['red_cases'])} of {overdue} overdue cases escalated")
        if len(set(inbox.values())) > 1 or 0 in inbox.values():
            problems.append(f"uneven red-card notifications per case: {sorted(set(inbox.values()))}")
        result = WorkerKillResult(
            kills=done_kills, sms=sms, delivered_once=sum(1 for s in expected if delivered.get(s) == 1),
            missing=len(missing), duplicates=sum(n - 1 for n in doubled.values()), killed_mid_send=mid_send,
            overdue=overdue, escalated_once=sum(1 for n in events.values() if n == 1),
            escalation_problems=len(wrong_events) + abs(overdue - len(state["red_cases"])),
            seconds=time.monotonic() - started, problems=problems,
        )
        say(f"worker kill: {result}")
        if problems:
            say(box.log_tail("huey.log"))
        return result


def _read_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _lines(path: Path) -> int:
    return len(_read_lines(path))


def _sms_tally(log: Path, expected: list[str]) -> tuple[dict[str, int], list[str], dict[str, int]]:
    """How often the gateway's log shows each drill message (by its first word), which expected
    ones it never shows, and which it shows more than once."""
    delivered: dict[str, int] = {}
    for line in _read_lines(log):
        text = json.loads(line)["text"].split(" ")[0]
        delivered[text] = delivered.get(text, 0) + 1
    missing = [s for s in expected if s not in delivered]
    doubled = {s: n for s, n in delivered.items() if n > 1}
    return delivered, missing, doubled


# --- drill 4: Redis unreachable (kill -9 of Redis under load) --------------------------------------


class PrivateRedis:
    """A redis-server of the drill's own on a free port, without persistence (`--save ''
    --appendonly no`): a kill -9 loses everything it held, counters and queue alike, which is
    the worst case. Never the machine's shared Redis."""

    def __init__(self, box: Sandbox) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise DrillUnavailable("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.box = box
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30) -> None:
        self.proc = self.box.spawn(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.box.root)],
            "redis.log",
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: " + self.box.log_tail("redis.log"))
            if self.command("PING") == "+PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer within 30 s: " + self.box.log_tail("redis.log"))

    def command(self, *words: str) -> str | None:
        """The first line of the answer to one command, over a plain socket (no client state
        survives a restart); None when nothing answers."""
        request = f"*{len(words)}\r\n".encode() + b"".join(
            f"${len(w.encode())}\r\n".encode() + w.encode() + b"\r\n" for w in words
        )
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                conn.sendall(request)
                return conn.recv(65536).decode(errors="replace").split("\r\n")[0]
        except OSError:
            return None

    def holds(self, pattern: str) -> bool:
        """Whether some key matches `pattern` (SCAN-free: the drill's Redis holds a few hundred)."""
        answer = self.command("KEYS", pattern)
        return answer is not None and answer.startswith("*") and answer != "*0"

    def kill9(self) -> None:
        if self.proc is not None:
            self.box.kill(self.proc)

    def pause(self, stopped: bool) -> None:
        """SIGSTOP (or SIGCONT): a hung server that still accepts connections and never answers."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGSTOP if stopped else signal.SIGCONT)


@dataclass
class RedisKillResult:
    findings: Findings
    outage_seconds: float
    outage_requests: int
    outage_acked: int
    outage_refused: int  # answered, but not with the report (429, 5xx)
    outage_unanswered: int
    p99_before: float
    p99_outage: float
    p99_after: float
    p50_before: float
    p50_outage: float
    cache_recovery: float | None  # restart → the web workers count in Redis again
    queue_recovery: float | None  # restart → every SMS queued during the outage sent
    sms: int
    delivered_once: int
    sms_missing: int
    sms_duplicates: int
    notifications: int
    notifications_unsent: int
    notifications_retried: int  # sent, but only after more than one claim
    outage_log_lines: int  # "Redis unreachable" lines: one per process and outage
    tracebacks: int  # logged exceptions (a chained one counts once)
    scan_queue_errors: int  # of those, insight.alerts' "could not queue the alert scan"
    workers: int
    problems: list[str] = field(default_factory=list)


def p99(values: list[float]) -> float:
    if len(values) < 2:
        return max(values, default=0.0)
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def redis_kill_drill(
    *, database_url: str | None = None, before: float = 3, outage: float = 5, after: float = 4, clients: int = 3,
    workers: int = 2, sms: int = 10, hang: bool = False, keep_logs: Path | None = None, say: Say = _quiet,
) -> RedisKillResult:
    """Kill Redis with SIGKILL while clients submit reports through the API and staff work queues
    SMS, keep it down for `outage` seconds, restart it empty. With `hang` it is stopped (SIGSTOP)
    instead, so every call waits for its timeout, then continued and emptied (FLUSHALL, so that
    new counter keys show the web workers counting there again). The web
    workers and the consumer are the real ones with the production configuration (the intake
    limits raised out of the drill's reach, still counted in Redis)."""
    prefix = "redis-drill"
    with sandbox(database_url) as box:
        server = PrivateRedis(box)
        server.start()
        box.env.update({
            "REDIS_URL": server.url, "SIZHI_REDIS_PREFIX": f"drill{os.getpid()}", "SIZHI_DRILL_CACHE": "real",
            "SIZHI_SMS_BACKEND": "sizhi.ops.drillkit.SlowFileSmsBackend", "SIZHI_DRILL_SMS_DELAY": "0",
        })
        box.manage("migrate", "--noinput")
        token = box.kit("seed")["token"]
        box.spawn([PYTHON, "-m", "sizhi.ops.drillkit", "consumer", "2", "-w", "1"], "huey.log")
        _master, port = start_gunicorn(box, workers=workers)
        load = Load(port, token, clients=clients)
        load.start()
        problems: list[str] = []
        try:
            if _first_ack_after(load, time.monotonic(), timeout=60) is None:
                raise AssertionError("no report acknowledged before the outage: " + box.log_tail("gunicorn.log"))
            time.sleep(before)
            down = time.monotonic()
            if hang:
                server.pause(True)
            else:
                server.kill9()
            say(f"redis kill: {'stopped' if hang else 'killed'} at {down - load_started(load):.1f}s of load")
            try:
                staff = box.kit("notify", str(sms), prefix)
                say(f"redis kill: {sms} SMS queued by staff work during the outage in {staff['seconds']:.2f}s")
            except RuntimeError as exc:
                problems.append(f"staff work failed during the outage: {str(exc)[-300:]}")
            time.sleep(max(0.0, outage - (time.monotonic() - down)))
            if hang:
                server.pause(False)
                server.command("FLUSHALL")  # so that "counting in Redis again" shows new keys
            else:
                server.start()
            up = time.monotonic()
            cache_back = queue_back = None
            deadline = up + 90
            while time.monotonic() < deadline and (cache_back is None or queue_back is None):
                if cache_back is None and server.holds("*throttle*"):
                    cache_back = time.monotonic() - up
                if queue_back is None and _sent(box, prefix) >= sms:
                    queue_back = time.monotonic() - up
                time.sleep(0.05)
            say(f"redis kill: restarted after {up - down:.1f}s; counting in Redis again after {cache_back} s, "
                f"outage SMS all sent after {queue_back} s")
            time.sleep(after)
        finally:
            load.finish()
        findings = check_reports(box, load)
        # Up to a minute: the consumer's minute sweep sends whatever no nudge asked for.
        state = box.kit("drain", "75", timeout=150)

        answers = [a for answers in load.answers.values() for a in answers]
        in_outage = [a for a in answers if down <= a.started < up]
        # The second half of the time before the kill: the first requests of each worker load
        # the classifier and would stand for warm-up, not for Redis.
        before_times = [a.seconds for a in answers if down - before / 2 <= a.started < down]
        expected = [f"{prefix}-{i:05d}" for i in range(sms)]
        delivered, missing, doubled = _sms_tally(box.root / "sms.log", expected)
        if missing:
            problems.append(f"SMS never sent: {missing[:5]}")
        if doubled:
            problems.append(f"SMS sent more than once: {doubled}")
        logs = box.log_tail("gunicorn.log", 100_000) + "\n" + box.log_tail("huey.log", 100_000)
        if keep_logs is not None:
            keep_logs.mkdir(parents=True, exist_ok=True)
            for name in ("gunicorn.log", "huey.log", "redis.log"):
                if (box.root / name).exists():
                    shutil.copy(box.root / name, keep_logs / name)
        total = sum(state["all_status"].values())
        result = RedisKillResult(
            findings=findings, outage_seconds=up - down, outage_requests=len(in_outage),
            outage_acked=sum(1 for a in in_outage if a.case_id is not None),
            outage_refused=sum(1 for a in in_outage if a.status not in (0, 201)),
            outage_unanswered=sum(1 for a in in_outage if a.status == 0),
            p99_before=p99(before_times),
            p99_outage=p99([a.seconds for a in in_outage]),
            p99_after=p99([a.seconds for a in answers if a.started >= up]),
            p50_before=statistics.median(before_times) if before_times else 0.0,
            p50_outage=statistics.median([a.seconds for a in in_outage]) if in_outage else 0.0,
            cache_recovery=cache_back, queue_recovery=queue_back, sms=sms,
            delivered_once=sum(1 for s in expected if delivered.get(s) == 1), sms_missing=len(missing),
            sms_duplicates=sum(n - 1 for n in doubled.values()), notifications=total,
            notifications_unsent=total - int(state["all_status"].get("sent", 0)),
            notifications_retried=int(state["sent_after_retries"]),
            outage_log_lines=logs.count("Redis unreachable"),
            tracebacks=logs.count("Traceback")
            - logs.count("During handling of the above exception")
            - logs.count("The above exception was the direct cause"),
            scan_queue_errors=logs.count("could not queue the alert scan"),
            workers=workers, problems=problems + findings.problems,
        )
        say(f"redis kill: {json.dumps(findings.as_dict())}")
        return result


def load_started(load: Load) -> float:
    with load.lock:
        return min((a.started for answers in load.answers.values() for a in answers), default=time.monotonic())


def _sent(box: Sandbox, prefix: str) -> int:
    return sum(1 for line in _read_lines(box.root / "sms.log") if prefix in line)
