"""Deploy check of the configuration itself: production must not run on the fallback secret key
of a fresh checkout. Django's own W009 misses it (it is long and varied enough), yet it is public,
so sessions, CSRF tokens and password-reset links could be forged with it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

# The same literal as the default in settings.py (test_check_deploy_flags_the_fallback_secret_key).
FALLBACK_SECRET_KEY = "dev-insecure-sizhi-key-change-me-in-production-0123456789"  # noqa: S105 - the public key


@register(Tags.security, deploy=True)
def check_secret_key_is_not_the_fallback(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if getattr(settings, "SECRET_KEY", "") != FALLBACK_SECRET_KEY:
        return []
    return [
        Warning(
            "SECRET_KEY is the public fallback key of a fresh checkout.",
            hint="Set SIZHI_SECRET_KEY to 50 or more random characters, the same on every node; make one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'",
            id="sizhi.W001",
        )
    ]
