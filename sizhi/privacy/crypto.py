"""Field encryption and blind indexes for personal data (PIPL, MLPS level 3).

A token is ``v1.<algorithm>.<key id>.<base64url(nonce | ciphertext | tag)>``. The version, algorithm
and key id travel with every value so that the current key can change (SIZHI_FIELD_KEYS lists the
current key first, older ones after it) while rows written under an older key still decrypt, and
so that SM4 can replace AES without rewriting the table first. The associated data binds the token
to its header and to a context string ("app.model.field"): a ciphertext copied into another column
fails to decrypt instead of showing up there.

Keys come from the environment:
  SIZHI_FIELD_KEYS   "k2:<base64 32 bytes>,k1:<base64 32 bytes>"   (first = current)
  SIZHI_INDEX_KEY    "<base64 32 bytes>"                           (blind index, HMAC-SHA256)
  SIZHI_FIELD_CIPHER "aes-256-gcm" (default) or "sm4-gcm"
Without them (development, tests) keys are derived from SECRET_KEY with HKDF, and the deploy check
privacy.W001 warns.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher as _CryptoCipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

TOKEN_VERSION = "v1"  # noqa: S105 - a format version, not a secret
NONCE_BYTES = 12  # 96-bit random nonce, the GCM standard size
TAG_BYTES = 16
DERIVED_KEY_ID = "d0"  # the key id of keys derived from SECRET_KEY (development and tests)
_KEY_ID = re.compile(r"[a-z0-9]{1,16}")


class CryptoError(Exception):
    """Base class: a value could not be encrypted, decrypted or indexed."""


class DecryptionError(CryptoError):
    """The token is malformed, names an unknown key or algorithm, or fails authentication
    (wrong key, wrong context, tampered bytes). Never returns garbage instead."""


class Cipher(Protocol):
    """An authenticated cipher. `algorithm` is the id written into tokens; `key_bytes` how much
    key material it takes from the 32-byte field key."""

    algorithm: str
    key_bytes: int

    def encrypt(self, key: bytes, plaintext: bytes, associated_data: bytes) -> bytes: ...

    def decrypt(self, key: bytes, blob: bytes, associated_data: bytes) -> bytes: ...


class AesGcmCipher:
    algorithm = "aes256gcm"
    key_bytes = 32

    def encrypt(self, key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)

    def decrypt(self, key: bytes, blob: bytes, associated_data: bytes) -> bytes:
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("token too short")
        try:
            return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated_data)
        except InvalidTag as exc:
            raise DecryptionError("authentication failed (wrong key, wrong context or tampered token)") from exc


class Sm4GcmCipher:
    """SM4 (GB/T 32907) in GCM mode, for deployments that must use the national algorithms.
    OpenSSL 3 (under `cryptography`) provides SM4-GCM; the key is 128 bits."""

    algorithm = "sm4gcm"
    key_bytes = 16

    def encrypt(self, key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        encryptor = _CryptoCipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(associated_data)
        body = encryptor.update(plaintext) + encryptor.finalize()
        return nonce + body + encryptor.tag

    def decrypt(self, key: bytes, blob: bytes, associated_data: bytes) -> bytes:
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("token too short")
        nonce, body, tag = blob[:NONCE_BYTES], blob[NONCE_BYTES:-TAG_BYTES], blob[-TAG_BYTES:]
        decryptor = _CryptoCipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(associated_data)
        try:
            return decryptor.update(body) + decryptor.finalize()
        except InvalidTag as exc:
            raise DecryptionError("authentication failed (wrong key, wrong context or tampered token)") from exc


CIPHERS: dict[str, Cipher] = {c.algorithm: c for c in (AesGcmCipher(), Sm4GcmCipher())}
# The names SIZHI_FIELD_CIPHER accepts.
CIPHER_SETTINGS = {"aes-256-gcm": "aes256gcm", "sm4-gcm": "sm4gcm"}


@dataclass(frozen=True)
class Keyring:
    field_keys: dict[str, bytes]  # key id -> 32-byte master key, in settings order
    current_key_id: str
    index_key: bytes
    cipher: Cipher
    derived: bool  # True when the keys were derived from SECRET_KEY (not for production)

    def subkey(self, key_id: str, cipher: Cipher) -> bytes:
        return _subkey(self.field_keys[key_id], cipher.algorithm, cipher.key_bytes)


@lru_cache(maxsize=64)
def _subkey(master: bytes, algorithm: str, length: int) -> bytes:
    # One master key per id, a separate derived key per algorithm: the same bytes are never
    # used as an AES key and an SM4 key.
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"sizhi-field", info=algorithm.encode()).derive(master)


def _derive(secret: str, info: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"sizhi-derived", info=info.encode()).derive(
        secret.encode()
    )


def _decode_key(text: str, name: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{name}: a key is not valid base64") from exc
    if len(key) != 32:
        raise ImproperlyConfigured(f"{name}: each key must be 32 bytes (base64 of 32 random bytes)")
    return key


def parse_field_keys(text: str) -> dict[str, bytes]:
    """"k2:<b64>,k1:<b64>" -> {"k2": ..., "k1": ...} in the given order (first = current)."""
    keys: dict[str, bytes] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key_id, sep, value = part.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise ImproperlyConfigured(
                "SIZHI_FIELD_KEYS: write id:base64key pairs separated by commas; ids are 1-16 of a-z, 0-9"
            )
        if key_id in keys:
            raise ImproperlyConfigured(f"SIZHI_FIELD_KEYS: key id {key_id!r} appears twice")
        keys[key_id] = _decode_key(value, "SIZHI_FIELD_KEYS")
    return keys


@lru_cache(maxsize=1)
def keyring() -> Keyring:
    cipher_name = getattr(settings, "SIZHI_FIELD_CIPHER", "") or "aes-256-gcm"
    if cipher_name not in CIPHER_SETTINGS:
        raise ImproperlyConfigured(
            f"SIZHI_FIELD_CIPHER must be one of {', '.join(sorted(CIPHER_SETTINGS))}, not {cipher_name!r}"
        )
    cipher = CIPHERS[CIPHER_SETTINGS[cipher_name]]
    field_text = getattr(settings, "SIZHI_FIELD_KEYS", "") or ""
    index_text = getattr(settings, "SIZHI_INDEX_KEY", "") or ""
    field_keys = parse_field_keys(field_text)
    derived = not field_keys or not index_text
    if not field_keys:
        field_keys = {DERIVED_KEY_ID: _derive(settings.SECRET_KEY, "field-key")}
    index_key = (
        _decode_key(index_text, "SIZHI_INDEX_KEY") if index_text else _derive(settings.SECRET_KEY, "blind-index")
    )
    if index_key in field_keys.values():
        raise ImproperlyConfigured("SIZHI_INDEX_KEY must differ from every key in SIZHI_FIELD_KEYS")
    return Keyring(field_keys, next(iter(field_keys)), index_key, cipher, derived)


@receiver(setting_changed)
def _reset_keyring(*, setting: str, **kwargs: Any) -> None:
    if setting in {"SIZHI_FIELD_KEYS", "SIZHI_INDEX_KEY", "SIZHI_FIELD_CIPHER", "SECRET_KEY"}:
        keyring.cache_clear()


def _associated_data(algorithm: str, key_id: str, context: str) -> bytes:
    return f"{TOKEN_VERSION}|{algorithm}|{key_id}|{context}".encode()


def _require_context(context: str) -> None:
    if not context or "|" in context:
        raise CryptoError("a non-empty context without '|' is required, e.g. 'regions.resident.id_number'")


def encrypt(plaintext: str, *, context: str) -> str:
    """Authenticated encryption of `plaintext` under the current key, bound to `context`."""
    _require_context(context)
    ring = keyring()
    cipher = ring.cipher
    key_id = ring.current_key_id
    blob = cipher.encrypt(
        ring.subkey(key_id, cipher), plaintext.encode("utf-8"), _associated_data(cipher.algorithm, key_id, context)
    )
    return f"{TOKEN_VERSION}.{cipher.algorithm}.{key_id}.{base64.urlsafe_b64encode(blob).decode('ascii')}"


def is_token(value: str) -> bool:
    return value.startswith(TOKEN_VERSION + ".") and value.count(".") == 3


def decrypt(token: str, *, context: str) -> str:
    """The plaintext of `token`; DecryptionError for anything that is not a valid token of this
    context under a known key."""
    _require_context(context)
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 4 or parts[0] != TOKEN_VERSION:
        raise DecryptionError("not an encrypted value (expected v1.<algorithm>.<key id>.<data>)")
    _, algorithm, key_id, data = parts
    cipher = CIPHERS.get(algorithm)
    if cipher is None:
        raise DecryptionError(f"unknown algorithm {algorithm!r}")
    ring = keyring()
    if key_id not in ring.field_keys:
        raise DecryptionError(f"unknown key id {key_id!r}: is it still listed in SIZHI_FIELD_KEYS?")
    try:
        blob = base64.urlsafe_b64decode(data.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise DecryptionError("token data is not valid base64") from exc
    plain = cipher.decrypt(ring.subkey(key_id, cipher), blob, _associated_data(algorithm, key_id, context))
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:  # cannot happen after a passed tag check, but never return garbage
        raise DecryptionError("decrypted bytes are not UTF-8") from exc


def needs_rotation(token: str) -> bool:
    """True when `token` was written under another key or algorithm than the current ones
    (a re-encryption job can then rewrite the row)."""
    ring = keyring()
    parts = token.split(".")
    return len(parts) != 4 or parts[1] != ring.cipher.algorithm or parts[2] != ring.current_key_id


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed HMAC-SHA256 of an already-normalised value, as 64 hex characters, for equality
    lookups. `purpose` separates namespaces ("phone", "id_number"); the same value under the same
    purpose always gives the same index, so normalise first."""
    if not purpose or "\x00" in purpose:
        raise CryptoError("a non-empty purpose is required, e.g. 'phone'")
    message = purpose.encode() + b"\x00" + value.encode("utf-8")
    return hmac.new(keyring().index_key, message, hashlib.sha256).hexdigest()


BLIND_INDEX_LENGTH = 64
