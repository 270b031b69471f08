"""Mainland mobile numbers as people type them: +86, spaces, dashes, full-width digits."""

import re
import unicodedata

from sizhi.privacy.crypto import blind_index
from sizhi.privacy.masking import mask_phone as mask_phone

PHONE_PURPOSE = "phone"  # one namespace for every phone column, so a resident's number finds their account

_MOBILE = re.compile(r"1[3-9][0-9]{9}")  # ASCII only: \d also matches other scripts' digits
_SEPARATORS = re.compile(r"[\s\-()（）\u200b\u200c\u200d\u2060\ufeff]")


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


def phone_blind_index(raw: str | None) -> str | None:
    """The blind index of `raw` normalised, or None when it is not a mainland mobile number."""
    number = normalise_phone(raw or "")
    return blind_index(number, purpose=PHONE_PURPOSE) if number else None
