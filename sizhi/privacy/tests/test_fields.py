import pytest

from sizhi.privacy.crypto import DecryptionError, decrypt
from sizhi.privacy.fields import EncryptedTextField


def make_field(context: str = "tests.thing.secret") -> EncryptedTextField:
    field = EncryptedTextField(context=context, null=True)
    return field


def test_prep_encrypts_and_from_db_decrypts() -> None:
    field = make_field()
    token = field.get_prep_value("13812345678")
    assert token.startswith("v1.") and "13812345678" not in token
    assert decrypt(token, context="tests.thing.secret") == "13812345678"
    assert field.from_db_value(token, None, None) == "13812345678"  # type: ignore[arg-type]


def test_none_and_empty_are_kept() -> None:
    field = make_field()
    assert field.get_prep_value(None) is None
    assert field.get_prep_value("") == ""
    assert field.from_db_value(None, None, None) is None  # type: ignore[arg-type]
    assert field.from_db_value("", None, None) == ""  # type: ignore[arg-type]


def test_a_token_from_another_column_fails() -> None:
    token = make_field("tests.thing.other").get_prep_value("x")
    with pytest.raises(DecryptionError):
        make_field().from_db_value(token, None, None)  # type: ignore[arg-type]
