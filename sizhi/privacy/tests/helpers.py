"""Test values: check-digit-correct ID numbers for the test world's regions."""

from __future__ import annotations

import datetime

from sizhi.privacy.idcards import check_digit


def make_id(region: str, birth: datetime.date, seq: str) -> str:
    first17 = f"{region}{birth:%Y%m%d}{seq}"
    return first17 + check_digit(first17)


def id_ending_in_x(region: str = "410302", birth: datetime.date = datetime.date(1975, 3, 8)) -> str:
    return next(n for s in range(1000) if (n := make_id(region, birth, f"{s:03d}")).endswith("X"))


FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")
