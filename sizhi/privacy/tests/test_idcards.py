"""ID-card numbers: the table of SECURITY.md abuse case 6 and property tests."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from sizhi.privacy.idcards import PROVINCE_CODES, check_digit, normalise_id_number


def make_id(region: str, birth: datetime.date, seq: str) -> str:
    first17 = f"{region}{birth:%Y%m%d}{seq}"
    return first17 + check_digit(first17)


VALID = make_id("410303", datetime.date(1990, 1, 1), "123")
VALID_X = next(
    n for s in range(1000) if (n := make_id("410303", datetime.date(1985, 6, 15), f"{s:03d}")).endswith("X")
)
FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


def test_check_digit_known_value() -> None:
    # The worked example of GB 11643-1999.
    assert check_digit("11010519491231002") == "X"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (VALID, VALID),
        (VALID_X.lower(), VALID_X),  # lower-case x
        (VALID_X.translate(FULL_WIDTH), VALID_X),  # full-width digits and Ｘ
        (VALID.translate(FULL_WIDTH), VALID),
        (f" {VALID[:6]} {VALID[6:14]} {VALID[14:]} ", VALID),  # spaces
        ("\u200b" + VALID[:9] + "\u200c\u200d\ufeff" + VALID[9:] + "\u2060", VALID),  # zero-width characters
        (VALID[:4] + "\u3000" + VALID[4:], VALID),  # ideographic space
        ("110105491231002", "11010519491231002X"),  # 15-digit legacy form -> 18 with the check digit
        ("１１０１０５４９１２３１００２", "11010519491231002X"),  # legacy in full-width digits
    ],
)
def test_accepted_forms(raw: str, expected: str) -> None:
    assert normalise_id_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        ("", "id_required", "请填写"),
        ("\u200b ", "id_required", "请填写"),
        (VALID[:17] + str((int(VALID[17]) + 1) % 10) if VALID[17] != "X" else VALID[:17] + "0",
         "id_check_digit", "校验位不正确"),
        (VALID[:17], "id_length", "您输入了 17 位"),
        (VALID + "1", "id_length", "您输入了 19 位"),
        ("41030319900101123", "id_length", "18 位"),
        (VALID[:10] + "A" + VALID[11:], "id_chars", "17 位应为数字"),
        ("41030390010112X", "id_chars", "15 位旧式"),
        ("٤١٠٣٠٣١٩٩٠٠١٠١١٢٣٤", "id_chars", "17 位应为数字"),  # Arabic-Indic digits are not ID digits
        (make_id("410303", datetime.date(1990, 1, 1), "123")[:10] + "0230" + "1234", "id_check_digit", "校验位"),
        ("410303900230123", "id_birth_date", "出生日期不存在"),  # 1990-02-30 in the legacy form
        (make_id("990303", datetime.date(1990, 1, 1), "123"), "id_region", "省级行政区划"),
        (make_id("410303", datetime.date(1899, 12, 31), "123"), "id_birth_date", "合理范围"),
    ],
)
def test_rejected_with_precise_message(raw: str, code: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalise_id_number(raw)
    assert info.value.code == code
    text = " ".join(info.value.messages)
    assert message in text
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) >= 6:
        assert digits not in text  # the message never repeats the number


def test_impossible_date_with_correct_check_digit() -> None:
    first17 = "41030319900230123"  # 30 February
    with pytest.raises(ValidationError) as info:
        normalise_id_number(first17 + check_digit(first17))
    assert info.value.code == "id_birth_date"


def test_future_birth_date() -> None:
    tomorrow = datetime.date.today() + datetime.timedelta(days=2)
    with pytest.raises(ValidationError) as info:
        normalise_id_number(make_id("410303", tomorrow, "001"))
    assert info.value.code == "id_birth_date"


regions = st.builds(
    lambda p, rest: p + rest, st.sampled_from(sorted(PROVINCE_CODES)), st.from_regex(r"[0-9]{4}", fullmatch=True)
)
ids = st.builds(
    make_id,
    regions,
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2020, 12, 31)),
    st.from_regex(r"[0-9]{3}", fullmatch=True),
)


@given(ids)
def test_valid_numbers_round_trip(number: str) -> None:
    assert normalise_id_number(number) == number
    assert normalise_id_number(number.lower().translate(FULL_WIDTH)) == number
    assert normalise_id_number(" \u200b".join(number)) == number


@given(ids, st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
def test_any_single_digit_change_is_caught(number: str, position: int, delta: int) -> None:
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1:]
    with pytest.raises(ValidationError):
        normalise_id_number(changed)


@given(ids)
def test_changing_the_check_character_is_caught(number: str) -> None:
    for other in "0123456789X":
        if other != number[17]:
            with pytest.raises(ValidationError):
                normalise_id_number(number[:17] + other)


@given(
    regions,
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(1999, 12, 31)),
    st.from_regex(r"[0-9]{3}", fullmatch=True),
)
def test_legacy_form_converts_to_the_18_digit_form(region: str, birth: datetime.date, seq: str) -> None:
    legacy = f"{region}{birth:%y%m%d}{seq}"
    assert normalise_id_number(legacy) == make_id(region, birth, seq)
