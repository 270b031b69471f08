"""Resident identity card numbers (GB 11643-1999) as people type them.

Accepts full-width digits, a lower-case x, spaces and zero-width characters anywhere, and the
15-digit form of cards issued before 1999 (converted to 18 digits: "19" inserted before the
two-digit year, the check digit computed). Rejects a wrong length, a wrong ISO 7064 MOD 11-2
check digit, a province code that does not exist and a birth date that is impossible or in the
future. Error messages never repeat the number.
"""

from __future__ import annotations

import datetime
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sizhi.privacy.crypto import blind_index

ID_NUMBER_PURPOSE = "id_number"

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# Whitespace of any kind, zero-width characters and the BOM, which survive copy and paste.
_IGNORED = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]")
# ASCII only: str.isdigit() would also pass Arabic-Indic or superscript digits.
_LEGACY = re.compile(r"[0-9]{15}")
_MODERN = re.compile(r"[0-9]{17}[0-9X]")
# Province-level codes (GB/T 2260): 11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71 台湾, 81-82 港澳.
PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
        "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
    }
)
EARLIEST_BIRTH = datetime.date(1900, 1, 1)


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _clean(raw: str) -> str:
    return _IGNORED.sub("", unicodedata.normalize("NFKC", raw or "")).upper()


def normalise_id_number(raw: str) -> str:
    """Return the 18-character number (upper-case X), or raise ValidationError."""
    text = _clean(raw)
    if not text:
        raise ValidationError(_("请填写身份证号码。"), code="id_required")
    if len(text) not in (15, 18):
        raise ValidationError(
            _("身份证号码应为 18 位（旧式证件为 15 位），您输入了 %(n)d 位。"),
            code="id_length", params={"n": len(text)},
        )
    if len(text) == 15:
        if not _LEGACY.fullmatch(text):
            raise ValidationError(_("15 位旧式身份证号码只能由数字组成。"), code="id_chars")
        first17 = text[:6] + "19" + text[6:]
        text = first17 + check_digit(first17)
    elif not _MODERN.fullmatch(text):
        raise ValidationError(_("身份证号码前 17 位应为数字，最后一位为数字或 X。"), code="id_chars")
    elif text[17] != check_digit(text[:17]):
        raise ValidationError(_("身份证号码校验位不正确，请逐位核对。"), code="id_check_digit")
    if text[:2] not in PROVINCE_CODES:
        raise ValidationError(_("身份证号码前两位不是有效的省级行政区划代码。"), code="id_region")
    try:
        birth = datetime.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise ValidationError(_("身份证号码中的出生日期不存在。"), code="id_birth_date") from None
    if birth < EARLIEST_BIRTH or birth > timezone.localdate():
        raise ValidationError(_("身份证号码中的出生日期不在合理范围内。"), code="id_birth_date")
    return text


def is_valid_id_number(raw: str) -> bool:
    try:
        normalise_id_number(raw)
    except ValidationError:
        return False
    return True


def birth_date(id_number: str) -> datetime.date:
    """The birth date of an already-normalised number."""
    return datetime.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def id_number_blind_index(raw: str) -> str:
    """The blind index of a number however it was typed; ValidationError when it is not valid."""
    return blind_index(normalise_id_number(raw), purpose=ID_NUMBER_PURPOSE)
