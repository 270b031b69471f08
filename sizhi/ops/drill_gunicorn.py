"""gunicorn configuration for the crash drills (`gunicorn -c python:sizhi.ops.drill_gunicorn`).

One drill account sends hundreds of reports a minute, which the intake rate limits
(accounts.throttle) rightly refuse. The limits count in Django's cache, so each worker gets a
dummy cache, set after the fork and before the worker loads the application; everything else is
the production configuration.

The Redis drill needs the real cache, because the counters in Redis are what it takes away: with
SIZHI_DRILL_CACHE=real the cache stays and only the intake limits' counts are raised out of reach
(they still count in Redis, one INCR per report and limit, as in production)."""

from __future__ import annotations

import dataclasses
import os
from typing import Any


def post_fork(server: Any, worker: Any) -> None:
    from django.conf import settings

    if os.environ.get("SIZHI_DRILL_CACHE") != "real":
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
        return
    import django

    django.setup()
    from sizhi.accounts import throttle

    for name in ("REPORTS_PER_ADDRESS", "REPORTS_PER_USER", "REPORTS_PER_PHONE", "OPEN311_PER_ADDRESS"):
        setattr(throttle, name, dataclasses.replace(getattr(throttle, name), count=10**9))
