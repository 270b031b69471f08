"""Who may write through Open311: an active client holding its API key. Reading needs no key,
as the spec says; what may be read at all is decided by open311.selectors.public_cases."""

from __future__ import annotations

import hashlib

from sizhi.open311.models import Open311Client

KEY_MAX = 128


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def client_for_api_key(key: str | None) -> Open311Client | None:
    """The active client whose key this is, or None. Only the digest is compared, by the
    unique index, so the lookup takes the same path for every wrong key."""
    if not key or len(key) > KEY_MAX:
        return None
    return (
        Open311Client.objects.select_related("user")
        .filter(key_hash=hash_api_key(key), is_active=True)
        .first()
    )
