"""Time-based one-time passwords (RFC 6238, 30-second steps, 6 digits) and their QR code.

Pure functions only: which step a code belongs to, the otpauth URI and its QR code as inline
SVG (segno draws it here; nothing is fetched from the network).
"""

from __future__ import annotations

import re
import time
import unicodedata

import pyotp
import segno
from django.utils.crypto import constant_time_compare

STEP_SECONDS = 30
DIGITS = 6
# One step either side: a phone clock a little off still works, a code stays valid 90 s at most.
WINDOW = 1
ISSUER = "四治"


def clock() -> float:
    """Seconds since the epoch; the one place tests move time for TOTP."""
    return time.time()


def new_secret() -> str:
    return pyotp.random_base32(length=32)  # 160 bits, the RFC 4226 recommendation


def step_at(now: float) -> int:
    return int(now // STEP_SECONDS)


def code_for_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def current_code(secret: str, now: float | None = None) -> str:
    return code_for_step(secret, step_at(clock() if now is None else now))


def normalise_code(raw: str) -> str:
    # Full-width digits and spaces ("123 456") are how codes get typed on a phone.
    return re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", raw or ""))


def matching_step(secret: str, code: str, *, now: float, after_step: int | None) -> int | None:
    """The time step whose code is `code`, within the window and later than `after_step`
    (the last step already used), or None."""
    code = normalise_code(code)
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    current = step_at(now)
    found = None
    # Every candidate is compared, so the time taken does not tell which one matched.
    for step in range(current - WINDOW, current + WINDOW + 1):
        if constant_time_compare(code_for_step(secret, step), code) and (after_step is None or step > after_step):
            found = step
    return found


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=ISSUER
    )


def qr_svg(uri: str) -> str:
    """The URI as an inline <svg> element (no XML declaration), for the enrolment page."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff", border=2))


def grouped(secret: str) -> str:
    """ABCD EFGH …: easier to type into an authenticator by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
