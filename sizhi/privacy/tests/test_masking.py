import pytest

from sizhi.privacy.masking import mask_id_number, mask_phone


@pytest.mark.parametrize(
    ("value", "masked"),
    [("13812345678", "138****5678"), ("", "****"), (None, "****"), ("1381234567", "****")],
)
def test_mask_phone(value: str | None, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [("410303199001011234", "4103**********1234"), ("41030319900101123X", "4103**********123X"),
     ("", "****"), (None, "****"), ("410303900101123", "****")],
)
def test_mask_id_number(value: str | None, masked: str) -> None:
    assert mask_id_number(value) == masked
