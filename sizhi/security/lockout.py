"""Soft lockout of password and second-factor guessing.

Per account (a keyed hash of the normalised username or phone, never the value itself) and per
client address, counters live in the cache (Redis in production, local memory in tests):

* after FREE_FAILURES consecutive failures an account waits 2^(n-FREE_FAILURES) seconds, at most
  MAX_DELAY, before the next attempt is even looked at (the password is not checked meanwhile);
* never more than HOURLY_CAP failures on one account in any rolling hour, nor ADDRESS_HOURLY_CAP
  from one address (spraying many accounts from one client);
* a success clears the consecutive count (the hourly count stays: it is the hard ceiling).

Every attempt is counted as a failure BEFORE the password is checked and handed back on success,
so parallel requests cannot slip past a limit between the check and the count. Counting keys on
the account name as typed makes unknown and existing accounts behave the same.

While Redis is unreachable the counters live in the database (sizhi.ops.redis_outage, a Django
DatabaseCache on ops' table): the lockout neither fails open (guessing would be uncapped for as
long as the outage lasts, and an attacker may cause one) nor closed (no member of staff could sign
in). The database is shared by every process and node, so the caps still hold; its increments are
not atomic, which only loosens the "one at a time past the free failures" race check. Counts made
during the outage stay there; when Redis answers again counting continues from what Redis holds.

Time comes from `clock()` and never from cache expiry (expiry only collects garbage), so tests
move a fake clock instead of sleeping.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field

from django.core.cache import cache as shared_cache
from django.core.cache.backends.db import DatabaseCache
from django.utils.crypto import salted_hmac

from sizhi.ops.redis_outage import LOCKOUT_FALLBACK_TABLE, FailoverCache

FREE_FAILURES = 5
BASE_DELAY = 1  # seconds, doubled with each failure after the free ones
MAX_DELAY = 15 * 60
HOURLY_CAP = 100
ADDRESS_HOURLY_CAP = 100
WINDOW = 60 * 60
BUCKET = 5 * 60
# The current bucket and enough earlier ones to cover a full hour: the count is never less than
# the true count of the last 60 minutes, so the cap holds for every rolling hour.
_BUCKETS = WINDOW // BUCKET + 1
_COUNTER_TTL = 24 * 60 * 60  # consecutive failures forgotten after a quiet day
_BUCKET_TTL = WINDOW + 2 * BUCKET

_database = DatabaseCache(LOCKOUT_FALLBACK_TABLE, {"OPTIONS": {"MAX_ENTRIES": 100_000}})
cache = FailoverCache("sign-in lockout", shared_cache, lambda: _database)


def clock() -> float:
    return time.time()


@dataclass(frozen=True)
class Refusal:
    """The attempt was not looked at; try again at `retry_at` (epoch seconds)."""

    retry_at: float
    reason: str  # "delay" | "hourly" | "address"

    def retry_in(self, now: float | None = None) -> int:
        return max(1, math.ceil(self.retry_at - (clock() if now is None else now)))


@dataclass
class Attempt:
    """A reserved attempt: counted as a failure until `succeeded()` hands it back."""

    scope: str
    account_digest: str
    address_digest: str
    buckets: list[str] = field(default_factory=list)


def delay_after(failures: int) -> int:
    """Seconds to wait after `failures` consecutive failures (0 while still free)."""
    if failures < FREE_FAILURES:
        return 0
    return min(BASE_DELAY * 2 ** min(failures - FREE_FAILURES, 30), MAX_DELAY)


def _digest(kind: str, value: str) -> str:
    # Keyed: a phone number's hash cannot be reversed by trying all 10^11 numbers without the key.
    return salted_hmac(f"sizhi.security.lockout.{kind}", value, algorithm="sha256").hexdigest()[:40]


def _key(scope: str, kind: str, digest: str, part: str) -> str:
    return f"sizhi:lockout:{scope}:{kind}:{digest}:{part}"


def _incr(key: str, ttl: int) -> int:
    if cache.add(key, 1, ttl):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, ttl)
        return 1


def _decr(key: str) -> None:
    with contextlib.suppress(ValueError):  # already expired: nothing to hand back
        cache.decr(key)


def _bucket_keys(scope: str, kind: str, digest: str, now: float) -> list[tuple[int, str]]:
    current = int(now // BUCKET)
    return [(b, _key(scope, kind, digest, f"b{b}")) for b in range(current - _BUCKETS + 1, current + 1)]


def _window(scope: str, kind: str, digest: str, now: float) -> int:
    """Failures counted in the last hour."""
    keys = _bucket_keys(scope, kind, digest, now)
    values = cache.get_many([k for _b, k in keys])
    return sum(max(0, int(values.get(k, 0) or 0)) for _b, k in keys)


def _hourly_retry_at(scope: str, kind: str, digest: str, now: float, cap: int) -> float:
    keys = _bucket_keys(scope, kind, digest, now)
    values = cache.get_many([k for _b, k in keys])
    remaining = sum(max(0, int(values.get(k, 0) or 0)) for _b, k in keys)
    for bucket, key in keys:
        remaining -= max(0, int(values.get(key, 0) or 0))
        if remaining < cap:
            # This bucket leaves the counted hour once the current bucket is _BUCKETS past it.
            return float((bucket + _BUCKETS) * BUCKET)
    return now + WINDOW


def check(scope: str, *, account: str, address: str) -> Refusal | None:
    """Whether an attempt would be refused now, without counting anything."""
    now = clock()
    acc, addr = _digest("account", account), _digest("address", address)
    failures = int(cache.get(_key(scope, "account", acc, "n"), 0) or 0)
    if failures >= FREE_FAILURES:
        last = float(cache.get(_key(scope, "account", acc, "last"), 0.0) or 0.0)
        wait_until = last + delay_after(failures)
        if now < wait_until:
            return Refusal(wait_until, "delay")
    if _window(scope, "account", acc, now) >= HOURLY_CAP:
        return Refusal(_hourly_retry_at(scope, "account", acc, now, HOURLY_CAP), "hourly")
    if _window(scope, "address", addr, now) >= ADDRESS_HOURLY_CAP:
        return Refusal(_hourly_retry_at(scope, "address", addr, now, ADDRESS_HOURLY_CAP), "address")
    return None


def begin(scope: str, *, account: str, address: str) -> Attempt | Refusal:
    """Reserve one attempt on `account` from `address`, or say why and until when not."""
    refusal = check(scope, account=account, address=address)
    if refusal is not None:
        return refusal
    now = clock()
    acc, addr = _digest("account", account), _digest("address", address)
    attempt = Attempt(scope, acc, addr)
    n_key = _key(scope, "account", acc, "n")
    before = int(cache.get(n_key, 0) or 0)
    for kind, digest in (("account", acc), ("address", addr)):
        key = _bucket_keys(scope, kind, digest, now)[-1][1]
        _incr(key, _BUCKET_TTL)
        attempt.buckets.append(key)
    failures = _incr(n_key, _COUNTER_TTL)
    over_cap = (
        _window(scope, "account", acc, now) > HOURLY_CAP
        or _window(scope, "address", addr, now) > ADDRESS_HOURLY_CAP
    )
    # Another request reserved in between: past the free failures only one may go at a time.
    raced = failures > FREE_FAILURES and failures != before + 1
    if over_cap or raced:
        for key in attempt.buckets:
            _decr(key)
        _decr(n_key)
        retry = check(scope, account=account, address=address)
        return retry or Refusal(now + max(1, delay_after(failures - 1)), "delay")
    cache.set(_key(scope, "account", acc, "last"), now, _COUNTER_TTL)
    return attempt


def succeeded(attempt: Attempt) -> None:
    """The attempt was right: hand back its reservation and clear the consecutive count."""
    for key in attempt.buckets:
        _decr(key)
    cache.delete_many(
        [_key(attempt.scope, "account", attempt.account_digest, p) for p in ("n", "last")]
    )


def clear(scope: str, *, account: str) -> None:
    """Forget an account's consecutive failures (an administrator reset its password)."""
    acc = _digest("account", account)
    cache.delete_many([_key(scope, "account", acc, p) for p in ("n", "last")])


def consecutive_failures(scope: str, *, account: str) -> int:
    return int(cache.get(_key(scope, "account", _digest("account", account), "n"), 0) or 0)
