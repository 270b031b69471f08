"""Surviving a Redis outage (SECURITY.md fault 4; docs/security.md, docs/deploy.md).

Redis holds nothing that is the truth: the counters behind rate limits and sign-in lockout (the
cache) and the queue's "do it now" nudges (huey). Reports, the notifications outbox and every
escalation live in the database, and the worker's minute sweeps deliver what is left there. So
while Redis cannot be reached, each use carries on with a fallback chosen for it:

* rate limits (accounts.throttle) count in this process's memory: fail open, so a citizen's
  report is never refused for it, yet one client still cannot flood a worker process;
* sign-in lockout (security.lockout) counts in the database: shared by every process and node,
  so password guessing stays capped across the outage;
* a queued nudge is dropped (sizhi.ops.queue): the outbox row is already committed and the next
  nudge or the minute sweep sends it, exactly once thanks to the outbox's claim.

One breaker per process (`REDIS`) keeps the cost of a dead or hung Redis to milliseconds: after a
failure only one call every PROBE_SECONDS tries Redis again, the others go straight to their
fallback. It logs one ERROR when an outage starts and one WARNING when Redis answers again, not
one line per request. Nothing needs a restart: redis-py reconnects on the first call let through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis.exceptions
from django.core.cache import cache as shared_cache
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache

logger = logging.getLogger("sizhi.ops.redis")

# What an unreachable, hung, restarting or demoted Redis raises (BusyLoadingError, raised while a
# restarted server loads its data, is a ConnectionError). Other errors are bugs and propagate.
UNAVAILABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.InvalidResponse,
    redis.exceptions.ReadOnlyError,
)
PROBE_SECONDS = 2.0
# Django DatabaseCache table of the sign-in lockout fallback (ops.models.LockoutFallbackEntry).
LOCKOUT_FALLBACK_TABLE = "sizhi_ops_lockout_fallback"


def monotonic() -> float:
    return time.monotonic()


class RedisOutage:
    """Whether Redis is believed down in this process, and since when."""

    def __init__(self, probe_seconds: float = PROBE_SECONDS) -> None:
        self.probe_seconds = probe_seconds
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.fallbacks = 0  # calls served by a fallback during the current outage
        self._next_probe = 0.0

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def should_try(self) -> bool:
        """True when the caller should call Redis: always while it is up; during an outage for
        one caller per probe interval (the probe), the others use their fallback at once."""
        if self.down_since is None:
            return True
        with self._lock:
            if self.down_since is None:
                return True
            now = monotonic()
            if now >= self._next_probe:
                self._next_probe = now + self.probe_seconds
                return True
            self.fallbacks += 1
            return False

    def failed(self, exc: BaseException, use: str) -> None:
        with self._lock:
            now = monotonic()
            self._next_probe = now + self.probe_seconds
            self.fallbacks += 1
            if self.down_since is not None:
                return
            self.down_since = now
        logger.error(
            "Redis unreachable (%s in %s): rate limits count in process memory, sign-in lockout in the "
            "database, queued jobs wait for the minute sweeps, until Redis is back",
            type(exc).__name__, use,
        )

    def succeeded(self) -> None:
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is None:
                return
            seconds, calls = monotonic() - self.down_since, self.fallbacks
            self.down_since, self.fallbacks = None, 0
        logger.warning("Redis answers again after %.1f s; %d calls used a fallback meanwhile", seconds, calls)

    def reset(self) -> None:
        """Forget an outage without logging (tests)."""
        with self._lock:
            self.down_since, self.fallbacks, self._next_probe = None, 0, 0.0


# One per process: the cache and the queue use the same Redis server.
REDIS = RedisOutage()


def guarded(use: str, call: Callable[[], Any], fallback: Callable[[], Any], outage: RedisOutage = REDIS) -> Any:
    """`call()` while Redis answers; `fallback()` when it raised one of UNAVAILABLE or while the
    breaker keeps Redis out of the way."""
    if outage.should_try():
        try:
            result = call()
        except UNAVAILABLE as exc:
            outage.failed(exc, use)
        except Exception:
            # Redis answered, with a refusal of its own (incr of a missing key): it is up.
            outage.succeeded()
            raise
        else:
            outage.succeeded()
            return result
    return fallback()


class FailoverCache:
    """The part of Django's cache API that counters use, served by `primary` (the default cache,
    Redis in production) while it answers and by `fallback()` while it does not.

    The fallback holds only what was counted during the outage; when Redis is back the counts
    continue from what Redis holds (nothing, after a restart without persistence)."""

    def __init__(self, use: str, primary: Any, fallback: Callable[[], Any], outage: RedisOutage = REDIS) -> None:
        self.use = use
        self.primary = primary
        self.fallback = fallback
        self.outage = outage

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return guarded(
            self.use,
            lambda: getattr(self.primary, method)(*args, **kwargs),
            lambda: getattr(self.fallback(), method)(*args, **kwargs),
            self.outage,
        )

    def add(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT) -> bool:
        return bool(self._call("add", key, value, timeout))

    def get(self, key: str, default: Any = None) -> Any:
        return self._call("get", key, default)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        return dict(self._call("get_many", keys))

    def set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT) -> None:
        self._call("set", key, value, timeout)

    def incr(self, key: str, delta: int = 1) -> int:
        return int(self._call("incr", key, delta))

    def decr(self, key: str, delta: int = 1) -> int:
        return int(self._call("decr", key, delta))

    def delete_many(self, keys: list[str]) -> None:
        self._call("delete_many", keys)


_process_memory = LocMemCache("sizhi-redis-fallback", {"OPTIONS": {"MAX_ENTRIES": 100_000}})


def failover_to_memory(use: str) -> FailoverCache:
    """The default cache, or this process's memory while Redis is down: for counters and markers
    that may fail open (rate limits, "a job is already queued" markers)."""
    return FailoverCache(use, shared_cache, lambda: _process_memory)
