"""Fixed-window counters in Django's cache, for limits on anonymous endpoints (login, SMS,
tracking lookups, report intake).

Fixed window: the first event of a subject opens a window of `Limit.window` seconds, every event
in it counts, and the count starts again when it ends (the cache entry expires). A client may
therefore get up to twice the count across a window boundary, which is acceptable for flood
protection and costs one atomic cache increment per event (Redis INCR in production). Each
window also remembers when it ends, so that a refusal can say when to try again
(`Limit.retry_after`, sent as the HTTP Retry-After header).

It lives in accounts because both accounts and web use it and web may import accounts, never
the other way round. Counter keys are hashed, so the cache never holds a phone number or an
address in clear.

While Redis is unreachable the counters live in this process's memory (sizhi.ops.redis_outage):
the limits fail open, because refusing every citizen's report or lookup for a cache outage is
worse than a flood getting a few times its budget (one budget per web process) for the minutes
Redis is down. Each process still stops one client flooding it.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.http import HttpRequest

from sizhi.accounts.phones import normalise_phone
from sizhi.ops.redis_outage import failover_to_memory

cache = failover_to_memory("rate limits")


@dataclass(frozen=True)
class Limit:
    scope: str
    count: int
    window: int  # seconds

    def retry_after(self, subject: str) -> int:
        """Whole seconds until `subject`'s current window ends and its count starts again (at
        least 1; the whole window when the end is not known, e.g. after a cache restart)."""
        ends = cache.get(_ends_key(self, subject))
        if not isinstance(ends, (int, float)):
            return self.window
        return max(1, min(self.window, math.ceil(ends - time.time())))

    def retry_after_minutes(self, subject: str) -> int:
        return max(1, math.ceil(self.retry_after(subject) / 60))


# "Me too" by one account, on the citizen pages and through the API alike (one budget per
# account): one per case anyway; this stops one account touching every case.
SUPPORTS_PER_USER = Limit("support-user", 30, 60 * 60)


# Public report intake (web form, JSON API, Open311), one budget per subject across channels.
# Generous per address, because many villagers share one carrier address (CGNAT); tight per phone
# and per account, which one person owns.
REPORTS_PER_ADDRESS = Limit("report-address", 60, 60 * 60)
REPORTS_PER_USER = Limit("report-user", 30, 60 * 60)
REPORTS_PER_PHONE = Limit("report-phone", 20, 60 * 60)
# An Open311 client is a whole partner system relaying many residents from one server address.
OPEN311_PER_ADDRESS = Limit("open311-address", 1200, 60 * 60)


@dataclass(frozen=True)
class Refusal:
    limit: Limit
    retry_after: int  # seconds
    # Not the window's first refusal of this subject: the audit log has that one already, and a
    # flood of thousands must not queue on its chain (audit.middleware.mark_repeated_refusal).
    repeated: bool = False

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


def hit_all(checks: Iterable[tuple[Limit, str | None]]) -> Refusal | None:
    """Count one event against every (limit, subject) pair (a None subject is skipped) and
    return the refusal with the longest wait when any of them is over its limit."""
    refusals = []
    for limit, subject in checks:
        if subject is None:
            continue
        count = _count(limit, subject)
        if count > limit.count:
            refusals.append(Refusal(limit, limit.retry_after(subject), repeated=count > limit.count + 1))
    if not refusals:
        return None
    worst = max(refusals, key=lambda r: r.retry_after)
    # Repeated only when every counter had refused before: a first refusal anywhere is news.
    return replace(worst, repeated=all(r.repeated for r in refusals))


def client_address(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client wants it to be unless a trusted
    # proxy rewrites it, and the proxy in front of us is expected to set REMOTE_ADDR properly.
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _key(limit: Limit, subject: str) -> str:
    digest = hashlib.sha256(subject.encode("utf-8", "replace")).hexdigest()[:32]
    return f"sizhi:throttle:{limit.scope}:{digest}"


def _ends_key(limit: Limit, subject: str) -> str:
    return _key(limit, subject) + ":ends"


def _open_window(limit: Limit, subject: str) -> None:
    cache.set(_ends_key(limit, subject), time.time() + limit.window, limit.window)


def hit(limit: Limit, subject: str) -> bool:
    """Count one event for `subject`; True while the count is still within the limit."""
    return _count(limit, subject) <= limit.count


def _count(limit: Limit, subject: str) -> int:
    """Count one event for `subject`; the number of events in its window, this one included."""
    key = _key(limit, subject)
    # Most events fall in an open window: count first, and open one only when there is none.
    try:
        return int(cache.incr(key))
    except ValueError:
        pass
    if cache.add(key, 1, limit.window):
        _open_window(limit, subject)
        return 1
    try:
        return int(cache.incr(key))  # another process opened the window meanwhile
    except ValueError:
        # ...and it expired again before our increment: this event opens a new one.
        cache.add(key, 1, limit.window)
        _open_window(limit, subject)
        return 1


def exceeded(limit: Limit, subject: str) -> bool:
    """Whether `subject` has used up its events, without counting one more."""
    count = cache.get(_key(limit, subject), 0)
    return isinstance(count, int) and count >= limit.count


def reset(limit: Limit, subject: str) -> None:
    cache.delete_many([_key(limit, subject), _ends_key(limit, subject)])


def phone_subject(raw: str | None) -> str | None:
    """The per-phone counter subject of a phone however it was typed (+86, spaces, full-width
    digits), or None when it is not a mainland mobile number. Hashed by _key like every subject."""
    number = normalise_phone(raw or "")
    return f"phone:{number}" if number else None
