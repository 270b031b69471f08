"""Deploy check: production must not run on keys derived from SECRET_KEY."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from sizhi.privacy.crypto import keyring


@register(Tags.security, deploy=True)
def check_field_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        ring = keyring()
    except ImproperlyConfigured as exc:
        return [Warning(str(exc), id="privacy.W002")]
    if ring.derived:
        return [
            Warning(
                "Personal data is encrypted with keys derived from SECRET_KEY.",
                hint="Set SIZHI_FIELD_KEYS (id:base64 of 32 random bytes, current first) and a separate "
                "SIZHI_INDEX_KEY; make one with: openssl rand -base64 32",
                id="privacy.W001",
            )
        ]
    return []
