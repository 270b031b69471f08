"""Keeps sensitive values out of the audit detail.

The detail holds ids and codes only. Anything that is not a short scalar, or that looks like a
mainland mobile number or an ID-card number, is refused: loudly in tests and DEBUG (the caller
has a bug), silently dropped in production (the record still gets written, without the value).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from django.conf import settings

logger = logging.getLogger("sizhi.audit")

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_VALUE_CHARS = 200
MAX_KEYS = 20
# Runs of digits (after folding full-width forms and dropping separators) that could be a phone
# number (11 digits from 1[3-9], optionally behind 86) or an ID number (15, or 17 + check digit).
_PHONE_RE = re.compile(r"(?<!\d)(?:0?86)?1[3-9]\d{9}(?!\d)")
_ID_RE = re.compile(r"(?<![0-9])(?:\d{17}[\dX]|\d{15})(?![0-9X])")
_SEPARATORS_RE = re.compile(r"[\s\-‐‑–—_.()（）+]")


class SensitiveDetailError(ValueError):
    """A detail value that must not enter the audit log."""


def _strict() -> bool:
    return bool(getattr(settings, "SIZHI_AUDIT_STRICT", settings.DEBUG))


def looks_sensitive(value: str) -> bool:
    folded = unicodedata.normalize("NFKC", value).upper()
    folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")  # zero-width characters
    squeezed = _SEPARATORS_RE.sub("", folded)
    return any(p.search(s) for p in (_PHONE_RE, _ID_RE) for s in (folded, squeezed))


def _problem(key: str, value: Any) -> str | None:
    if not isinstance(key, str) or not KEY_RE.match(key):
        return "key must be lower-case ascii"
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return "looks like a phone or ID number" if looks_sensitive(str(value)) else None
    if isinstance(value, str):
        if len(value) > MAX_VALUE_CHARS:
            return "too long for an id or code"
        if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
            return "control characters"
        return "looks like a phone or ID number" if looks_sensitive(value) else None
    return f"{type(value).__name__} is not an allowed scalar (str, int, bool, None)"


def clean_detail(detail: Mapping[str, Any] | None) -> dict[str, str | int | bool | None]:
    """The detail with every refused entry removed (or SensitiveDetailError when strict)."""
    if not detail:
        return {}
    clean: dict[str, str | int | bool | None] = {}
    dropped = 0
    for key, value in detail.items():
        problem = _problem(key, value) or (None if len(clean) < MAX_KEYS else "too many keys")
        if problem is None:
            clean[key] = value
            continue
        # Name the key, never the value: the value is what must not reach any log.
        if _strict():
            raise SensitiveDetailError(f"audit detail {key!r} refused: {problem}")
        logger.warning("audit detail %r dropped: %s", key if isinstance(key, str) else "?", problem)
        dropped += 1
    if dropped:
        clean["dropped"] = dropped
    return clean
