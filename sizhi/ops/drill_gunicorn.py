"""gunicorn configuration for the crash drills (`gunicorn -c python:sizhi.ops.drill_gunicorn`).

One drill account sends hundreds of reports a minute, which the intake rate limits
(accounts.throttle) rightly refuse. The limits count in Django's cache, so each worker gets a
dummy cache, set after the fork and before the worker loads the application; everything else is
the production configuration."""

from __future__ import annotations

from typing import Any


def post_fork(server: Any, worker: Any) -> None:
    from django.conf import settings

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
