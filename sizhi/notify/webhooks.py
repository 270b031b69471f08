"""Signed webhook delivery. The receiver checks `X-Sizhi-Signature` (HMAC-SHA256 of the body
with the shared secret) and de-duplicates on `X-Sizhi-Delivery`, which stays the same across
retries of one message."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.request
from typing import Any

TIMEOUT_SECONDS = 5


class WebhookFailed(Exception):
    pass


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def post(*, url: str, secret: str, payload: dict[str, Any], delivery_id: int) -> None:
    body = encode(payload)
    request = urllib.request.Request(  # noqa: S310 - the URL is an admin-configured http(s) endpoint
        url, data=body, method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Sizhi-Signature": sign(secret, body),
            "X-Sizhi-Delivery": str(delivery_id),
            "User-Agent": "Sizhi-Webhook/1",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            status = response.status
    except OSError as exc:  # URLError, HTTPError and timeouts are all OSErrors
        raise WebhookFailed(type(exc).__name__) from exc
    if not 200 <= status < 300:
        raise WebhookFailed(f"HTTP {status}")
