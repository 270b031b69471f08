"""Mainland mobile numbers as people type them: +86, spaces, dashes, full-width digits."""

import re
import unicodedata

_MOBILE = re.compile(r"1[3-9]\d{9}")
_SEPARATORS = re.compile(r"[\s\-()（）\u200b\u200c\u200d\ufeff]")


def normalise_phone(raw: str) -> str | None:
    """Return the 11-digit number, or None when the text is not a mainland mobile number."""
    text = unicodedata.normalize("NFKC", raw or "")
    text = _SEPARATORS.sub("", text)
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    return text if _MOBILE.fullmatch(text) else None


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else "****"
