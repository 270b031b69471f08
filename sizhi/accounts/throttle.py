"""Fixed-window counters in Django's cache, for limits on anonymous endpoints (login, SMS,
tracking lookups, report intake).

It lives in accounts because both accounts and web use it and web may import accounts, never
the other way round. Counter keys are hashed, so the cache never holds a phone number or an
address in clear.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest


@dataclass(frozen=True)
class Limit:
    scope: str
    count: int
    window: int  # seconds


# "Me too" by one account, on the citizen pages and through the API alike (one budget per
# account): one per case anyway; this stops one account touching every case.
SUPPORTS_PER_USER = Limit("support-user", 30, 60 * 60)


def client_address(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client wants it to be unless a trusted
    # proxy rewrites it, and the proxy in front of us is expected to set REMOTE_ADDR properly.
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _key(limit: Limit, subject: str) -> str:
    digest = hashlib.sha256(subject.encode("utf-8", "replace")).hexdigest()[:32]
    return f"sizhi:throttle:{limit.scope}:{digest}"


def hit(limit: Limit, subject: str) -> bool:
    """Count one event for `subject`; True while the count is still within the limit."""
    key = _key(limit, subject)
    if cache.add(key, 1, limit.window):
        return True
    try:
        count = cache.incr(key)
    except ValueError:
        # The window expired between add() and incr(): this event opens a new one.
        cache.add(key, 1, limit.window)
        return True
    return count <= limit.count


def exceeded(limit: Limit, subject: str) -> bool:
    """Whether `subject` has used up its events, without counting one more."""
    count = cache.get(_key(limit, subject), 0)
    return isinstance(count, int) and count >= limit.count


def reset(limit: Limit, subject: str) -> None:
    cache.delete(_key(limit, subject))
