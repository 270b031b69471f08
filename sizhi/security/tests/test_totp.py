"""The pure TOTP helpers: RFC 6238 codes, the otpauth URI and its QR code drawn locally."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sizhi.security import totp

# RFC 6238 appendix B, SHA-1, secret "12345678901234567890" (base32 below), 8 digits there; the
# last 6 digits of its codes are the 6-digit codes.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def test_codes_match_rfc_6238() -> None:
    assert totp.current_code(RFC_SECRET, 59) == "287082"
    assert totp.current_code(RFC_SECRET, 1111111109) == "081804"
    assert totp.current_code(RFC_SECRET, 2000000000) == "279037"


def test_new_secrets_are_160_bit_base32_and_differ() -> None:
    a, b = totp.new_secret(), totp.new_secret()
    assert a != b and len(a) == 32 and set(a) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_uri_and_qr_code() -> None:
    uri = totp.provisioning_uri(RFC_SECRET, "town_dispatcher")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    query = parse_qs(parts.query)
    assert query["secret"] == [RFC_SECRET] and query["issuer"] == ["四治"]
    svg = totp.qr_svg(uri)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<?xml" not in svg and "http" not in svg and "<script" not in svg


def test_malformed_codes_never_match() -> None:
    for code in ("", "12345", "1234567", "abcdef", "12 34 5x", "１２３４５"):
        assert totp.matching_step(RFC_SECRET, code, now=59, after_step=None) is None


def test_grouped_for_manual_entry() -> None:
    assert totp.grouped("ABCDEFGHIJ") == "ABCD EFGH IJ"
