"""A Redis outage (SECURITY.md fault 4) in one process: rate limits fail open to process memory,
sign-in lockout counts in the database, queued nudges are dropped, one log line per outage, a
hung Redis costs one timeout per probe, and everything goes back to Redis by itself.

A refused connection (nothing listens on the port) and a hung server (a socket that accepts
and never answers) need no Redis; the recovery test starts a private redis-server when there is
one. The drill with real gunicorn workers is in test_drills.py."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache as shared_cache
from django.core.cache.backends.locmem import LocMemCache
from django.test import override_settings

from sizhi.accounts import throttle
from sizhi.ops import queue, redis_outage
from sizhi.ops.drills import free_port
from sizhi.ops.models import LockoutFallbackEntry
from sizhi.ops.redis_outage import REDIS, FailoverCache, RedisOutage
from sizhi.security import lockout


def redis_cache(port: int, timeout: float = 0.2) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": timeout, "socket_timeout": timeout},
        }
    }


@pytest.fixture(autouse=True)
def _fresh_breaker() -> Iterator[None]:
    REDIS.reset()
    redis_outage._process_memory.clear()
    yield
    REDIS.reset()
    redis_outage._process_memory.clear()


@pytest.fixture
def dead_redis() -> Iterator[int]:
    """Settings whose cache is a Redis nobody listens for: every call is refused at once."""
    port = free_port()
    with override_settings(CACHES=redis_cache(port)):
        yield port


class Flaky:
    """A cache that is down while `down` is set, counting the calls that reached it."""

    def __init__(self) -> None:
        import redis.exceptions

        self.down = False
        self.calls = 0
        self.error = redis.exceptions.ConnectionError("Connection refused")
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        self.calls += 1
        if self.down:
            raise self.error
        return self.data.get(key, default)


def test_one_error_line_per_outage_and_one_when_redis_is_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    monkeypatch.setattr(redis_outage, "monotonic", lambda: now[0])
    primary, memory = Flaky(), LocMemCache("redis-outage-test", {})
    memory.set("k", "from memory", 60)
    outage = RedisOutage(probe_seconds=2.0)
    failover = FailoverCache("test", primary, lambda: memory, outage)
    primary.data["k"] = "from redis"
    caplog.set_level(logging.WARNING, logger="sizhi.ops.redis")

    assert failover.get("k") == "from redis"
    primary.down = True
    answers = [failover.get("k") for _ in range(50)]
    assert answers == ["from memory"] * 50
    assert primary.calls == 2  # one before, one failed call; the other 49 did not even try
    now[0] += 2.5  # the next probe is due: one call tries again and fails
    assert failover.get("k") == "from memory"
    assert primary.calls == 3
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "Redis unreachable" in errors[0].getMessage()

    primary.down = False
    assert failover.get("k") == "from memory"  # still inside the probe interval
    now[0] += 2.5
    assert failover.get("k") == "from redis"
    assert failover.get("k") == "from redis"
    assert not outage.is_down
    back = [r for r in caplog.records if "answers again" in r.getMessage()]
    assert len(back) == 1
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1


@pytest.mark.usefixtures("dead_redis")
def test_intake_limits_fail_open_to_this_process_memory() -> None:
    limit = throttle.Limit("redis-outage-test", 3, 60)
    answers = [throttle.hit(limit, "10.0.0.9") for _ in range(5)]
    # Not refused for the outage, and still limited: the count went on in memory.
    assert answers == [True, True, True, False, False]
    assert throttle.exceeded(limit, "10.0.0.9")
    assert 1 <= limit.retry_after("10.0.0.9") <= 60
    refusal = throttle.hit_all([(limit, "10.0.0.9"), (limit, "10.0.0.10")])
    assert refusal is not None and refusal.limit == limit
    assert REDIS.is_down


@pytest.mark.django_db
@pytest.mark.usefixtures("dead_redis")
def test_sign_in_lockout_counts_in_the_database_while_redis_is_down() -> None:
    for _ in range(lockout.FREE_FAILURES):
        assert isinstance(lockout.begin("login", account="alice", address="10.0.0.1"), lockout.Attempt)
    refused = lockout.begin("login", account="alice", address="10.0.0.1")
    assert isinstance(refused, lockout.Refusal)  # the delay holds across the outage
    assert refused.reason == "delay"
    assert lockout.consecutive_failures("login", account="alice") == lockout.FREE_FAILURES
    # In the shared database, where every web process and node sees the same counts; hashed keys.
    keys = list(LockoutFallbackEntry.objects.values_list("cache_key", flat=True))
    assert keys
    assert not any("alice" in k or "10.0.0.1" in k for k in keys)
    lockout.clear("login", account="alice")
    assert lockout.consecutive_failures("login", account="alice") == 0


def test_a_nudge_that_cannot_reach_redis_is_dropped_and_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(queue, "IDLE_SECONDS", 0.0)
    huey = queue.ResilientRedisHuey("outage-test", url=f"redis://127.0.0.1:{free_port()}/0", timeout_ms=200,
                                    results=False)
    ran = []

    @huey.task()
    def nudge() -> None:
        ran.append(1)

    caplog.set_level(logging.WARNING, logger="sizhi.ops.redis")
    started = time.monotonic()
    for _ in range(20):
        assert nudge() is None  # no exception into the caller (an on-commit hook of a report)
    assert huey.dequeue() is None
    assert huey.read_schedule() == []
    assert time.monotonic() - started < 2
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
    assert ran == []


def test_a_hung_redis_costs_one_timeout_per_probe_not_one_per_call() -> None:
    # Accepts connections (the kernel's backlog) and never answers: a stopped or wedged server.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(64)
        port = hung.getsockname()[1]
        with override_settings(CACHES=redis_cache(port, timeout=0.3)):
            limit = throttle.Limit("redis-hung-test", 100, 60)
            started = time.monotonic()
            assert throttle.hit(limit, "10.0.0.7")
            first = time.monotonic() - started
            started = time.monotonic()
            for _ in range(30):
                assert throttle.hit(limit, "10.0.0.7")
            rest = time.monotonic() - started
    assert 0.25 <= first < 2  # the probe waits for the socket timeout, not for the TCP timeout
    assert rest < 0.25  # 60 cache calls inside the probe interval: straight to memory


def test_a_hung_redis_is_not_taken_for_an_empty_queue(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(queue, "IDLE_SECONDS", 0.0)
    caplog.set_level(logging.WARNING, logger="sizhi.ops.redis")
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(64)
        huey = queue.ResilientRedisHuey(
            "hung-test", url=f"redis://127.0.0.1:{hung.getsockname()[1]}/0", timeout_ms=100, results=False
        )
        assert huey.read_schedule() == []  # the scheduler's read times out: an outage
        assert REDIS.is_down
        monkeypatch.setattr(REDIS, "probe_seconds", 0.0)
        # huey answers None for a read that timed out as for an empty queue: Redis is not back.
        assert huey.dequeue() is None
        assert REDIS.is_down
    assert [r.levelno for r in caplog.records] == [logging.ERROR]


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_everything_goes_back_to_redis_by_itself_when_it_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(REDIS, "probe_seconds", 0.2)
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    def start() -> subprocess.Popen[bytes]:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return server
            except OSError:
                time.sleep(0.05)
        server.kill()
        raise AssertionError("redis-server did not start")

    server = start()
    try:
        with override_settings(CACHES=redis_cache(port)):
            limit = throttle.Limit("redis-back-test", 100, 60)
            throttle.hit(limit, "a")
            assert shared_cache.get(throttle._key(limit, "a")) == 1  # counted in Redis
            server.kill()
            server.wait()
            throttle.hit(limit, "a")
            assert REDIS.is_down
            server = start()
            time.sleep(0.3)  # the next probe is due
            throttle.hit(limit, "b")
            assert not REDIS.is_down
            # Redis restarted empty: counting continues there, nothing kept from the outage.
            assert shared_cache.get(throttle._key(limit, "b")) == 1
            assert shared_cache.get(throttle._key(limit, "a")) is None
    finally:
        server.kill()
        server.wait()
