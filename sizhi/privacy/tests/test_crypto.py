import base64
import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from sizhi.privacy import crypto
from sizhi.privacy.crypto import DecryptionError, blind_index, decrypt, encrypt


def b64key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


K1, K2, IDX = b64key(), b64key(), b64key()


@pytest.mark.parametrize("cipher", ["aes-256-gcm", "sm4-gcm"])
def test_round_trip_and_token_format(cipher: str) -> None:
    with override_settings(SIZHI_FIELD_CIPHER=cipher, SIZHI_FIELD_KEYS=f"k1:{K1}", SIZHI_INDEX_KEY=IDX):
        token = encrypt("13812345678 张三 𠮷", context="regions.resident.phone")
        version, alg, key_id, _data = token.split(".")
        assert (version, key_id) == ("v1", "k1")
        assert alg == crypto.CIPHER_SETTINGS[cipher]
        assert "13812345678" not in token
        assert decrypt(token, context="regions.resident.phone") == "13812345678 张三 𠮷"
        # A random nonce: the same plaintext never gives the same token twice.
        assert encrypt("x", context="a.b.c") != encrypt("x", context="a.b.c")
        assert decrypt(encrypt("", context="a.b.c"), context="a.b.c") == ""


@pytest.mark.parametrize("cipher", ["aes-256-gcm", "sm4-gcm"])
def test_tampering_is_detected(cipher: str) -> None:
    with override_settings(SIZHI_FIELD_CIPHER=cipher):
        token = encrypt("410303199001011234", context="regions.resident.id_number")
        head, data = token.rsplit(".", 1)
        blob = bytearray(base64.urlsafe_b64decode(data))
        for position in (0, 12, len(blob) - 1):  # nonce, ciphertext, tag
            changed = bytearray(blob)
            changed[position] ^= 0x01
            forged = f"{head}.{base64.urlsafe_b64encode(bytes(changed)).decode()}"
            with pytest.raises(DecryptionError, match="authentication failed"):
                decrypt(forged, context="regions.resident.id_number")
        with pytest.raises(DecryptionError):
            decrypt(f"{head}.{data[:10]}", context="regions.resident.id_number")


def test_wrong_context_fails() -> None:
    token = encrypt("13812345678", context="accounts.user.phone")
    with pytest.raises(DecryptionError):
        decrypt(token, context="regions.resident.phone")


def test_header_is_authenticated() -> None:
    """Relabelling a token's algorithm or key id cannot make it decrypt under another one."""
    with override_settings(SIZHI_FIELD_KEYS=f"k1:{K1},k2:{K2}", SIZHI_INDEX_KEY=IDX):
        token = encrypt("secret", context="a.b.c")
        with pytest.raises(DecryptionError):
            decrypt(token.replace(".k1.", ".k2."), context="a.b.c")
        with pytest.raises(DecryptionError):
            decrypt(token.replace(".aes256gcm.", ".sm4gcm."), context="a.b.c")


def test_key_rotation_old_key_still_decrypts() -> None:
    with override_settings(SIZHI_FIELD_KEYS=f"k1:{K1}", SIZHI_INDEX_KEY=IDX):
        old = encrypt("13812345678", context="a.b.c")
        index_before = blind_index("13812345678", purpose="phone")
    with override_settings(SIZHI_FIELD_KEYS=f"k2:{K2},k1:{K1}", SIZHI_INDEX_KEY=IDX):
        new = encrypt("13812345678", context="a.b.c")
        assert new.split(".")[2] == "k2"
        assert decrypt(old, context="a.b.c") == "13812345678"
        assert crypto.needs_rotation(old) and not crypto.needs_rotation(new)
        assert blind_index("13812345678", purpose="phone") == index_before
    # The old key retired: rows under k2 can no longer be read with only k1, and the error says why.
    with (
        override_settings(SIZHI_FIELD_KEYS=f"k1:{K1}", SIZHI_INDEX_KEY=IDX),
        pytest.raises(DecryptionError, match="unknown key id 'k2'"),
    ):
        decrypt(new, context="a.b.c")


def test_cipher_switch_keeps_old_rows_readable() -> None:
    with override_settings(SIZHI_FIELD_CIPHER="aes-256-gcm", SIZHI_FIELD_KEYS=f"k1:{K1}", SIZHI_INDEX_KEY=IDX):
        aes = encrypt("x", context="a.b.c")
    with override_settings(SIZHI_FIELD_CIPHER="sm4-gcm", SIZHI_FIELD_KEYS=f"k1:{K1}", SIZHI_INDEX_KEY=IDX):
        assert decrypt(aes, context="a.b.c") == "x"
        assert encrypt("x", context="a.b.c").split(".")[1] == "sm4gcm"


def test_wrong_key_fails() -> None:
    with override_settings(SIZHI_FIELD_KEYS=f"k1:{K1}", SIZHI_INDEX_KEY=IDX):
        token = encrypt("x", context="a.b.c")
    with (
        override_settings(SIZHI_FIELD_KEYS=f"k1:{K2}", SIZHI_INDEX_KEY=IDX),
        pytest.raises(DecryptionError, match="authentication failed"),
    ):
        decrypt(token, context="a.b.c")


@pytest.mark.parametrize("bad", ["", "13812345678", "v1.aes256gcm.k1", "v2.aes256gcm.d0.AAAA", "v1.rot13.d0.AAAA",
                                 "v1.aes256gcm.d0.***"])
def test_not_a_token(bad: str) -> None:
    with pytest.raises(DecryptionError):
        decrypt(bad, context="a.b.c")


@pytest.mark.parametrize(
    "keys",
    ["k1", "k1:notbase64!", f"k1:{base64.b64encode(b'short').decode()}", f"K-1:{K1}", f"k1:{K1},k1:{K2}"],
)
def test_bad_key_settings_are_refused(keys: str) -> None:
    with override_settings(SIZHI_FIELD_KEYS=keys, SIZHI_INDEX_KEY=IDX), pytest.raises(ImproperlyConfigured):
        encrypt("x", context="a.b.c")


def test_unknown_cipher_and_shared_index_key_are_refused() -> None:
    with override_settings(SIZHI_FIELD_CIPHER="des"), pytest.raises(ImproperlyConfigured):
        encrypt("x", context="a.b.c")
    with override_settings(SIZHI_FIELD_KEYS=f"k1:{K1}", SIZHI_INDEX_KEY=K1), pytest.raises(ImproperlyConfigured):
        blind_index("x", purpose="phone")


def test_blind_index_is_keyed_and_separated_by_purpose() -> None:
    a = blind_index("13812345678", purpose="phone")
    assert a == blind_index("13812345678", purpose="phone")
    assert len(a) == crypto.BLIND_INDEX_LENGTH
    assert a != blind_index("13812345678", purpose="id_number")
    assert a != blind_index("13812345679", purpose="phone")
    with override_settings(SIZHI_FIELD_KEYS=f"k1:{K1}", SIZHI_INDEX_KEY=IDX):
        assert blind_index("13812345678", purpose="phone") != a  # a different key, a different index


def test_derived_keys_are_flagged() -> None:
    with override_settings(SIZHI_FIELD_KEYS="", SIZHI_INDEX_KEY=""):
        assert crypto.keyring().derived
        assert crypto.keyring().current_key_id == crypto.DERIVED_KEY_ID
    with override_settings(SIZHI_FIELD_KEYS=f"k1:{K1}", SIZHI_INDEX_KEY=IDX):
        assert not crypto.keyring().derived
