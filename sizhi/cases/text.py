"""Cleaning of free text typed by users: what is stored is what a person meant to type."""

import math
import re
import unicodedata

# NUL, other C0 controls except tab/newline, C1 controls, bidi marks and overrides (incl. the
# Arabic letter mark), and zero-width characters (incl. the word joiner and invisible operators).
_UNWANTED = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    r"\u2066-\u2069\ufeff]"
)
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(value: str | None) -> str:
    text = unicodedata.normalize("NFC", value or "")
    text = _LONE_SURROGATE.sub("", text)
    text = _UNWANTED.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()


def finite_coordinate(value: object, low: float, high: float) -> float | None:
    """A float in [low, high], or None for anything else (text, NaN, inf, 1e308)."""
    if value is None or value == "":
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or not low <= number <= high:
        return None
    return number
