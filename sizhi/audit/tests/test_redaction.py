from __future__ import annotations

import io
import logging

import pytest

from sizhi.audit.redaction import REDACTED, RedactingFilter, redact


@pytest.mark.parametrize("text", [
    "call 13800138000 now", "phone +86 138 0013 8000", "id 410302199001011234", "id 41030219900101123x",
    "legacy 410302900101123", "138-0013-8000",
])
def test_numbers_are_redacted(text: str) -> None:
    out = redact(text)
    assert REDACTED in out and "0013" not in out and "1234" not in out and "1123" not in out


@pytest.mark.parametrize("text", ["case LY2026112700000123", "took 1234 ms", "seq 20000", "2026-11-27 05:00:00"])
def test_ordinary_numbers_stay(text: str) -> None:
    assert redact(text) == text


def test_request_paths_lose_their_tracking_codes() -> None:
    code = "Xk3pQ9vR2mT7wY4zA8bC1d"
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s",
                               (f"/track/{code}/",), None)
    RedactingFilter().filter(record)
    assert code not in record.getMessage() and record.getMessage().startswith("Not Found: /track/")


def test_installed_on_the_configured_handlers() -> None:
    # The "console" handler of settings.LOGGING (pytest adds its own capture handlers later).
    console = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    assert any(isinstance(f, RedactingFilter) for f in console.filters)
    assert isinstance(console, logging.StreamHandler)
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        logging.getLogger("sizhi.somewhere").warning("sms to %s failed", "13800138000")
    finally:
        if previous is not None:
            console.setStream(previous)
    assert "13800138000" not in stream.getvalue() and REDACTED in stream.getvalue()
