"""The production profile's gunicorn settings (sizhi/config/gunicorn.py): what the access log
may show. The app sizhi.benchfloor holds these tests because it belongs to the same work."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from sizhi.config import gunicorn as profile


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/track/HqZVsxkTtVJY76ZIXLWnaQ/", "/track/…/"),
        ("/track/abc/rate/", "/track/…/rate/"),
        ("/api/v1/track/HqZVsxkTtVJY76ZIXLWnaQ/reopen", "/api/v1/track/…/reopen"),
        ("/open311/v2/tokens/client-token-1.json", "/open311/v2/tokens/…"),
        ("/mailbox/letters/Zx9_k2PqL0aBcDeFgHiJkL/", "/mailbox/letters/…/"),
        # A token-like segment anywhere, even under a path nobody listed.
        ("/something/new/Zx9_k2PqL0aBcDeFgHiJkLmN/", "/something/new/…/"),
        # Case numbers, ids and plain words stay readable.
        ("/api/v1/cases/42/dispatch", "/api/v1/cases/42/dispatch"),
        ("/console/cases/LY2026112700000001/", "/console/cases/LY2026112700000001/"),
        ("/static/web/site.a755856f638a.css", "/static/web/site.a755856f638a.css"),
        ("/", "/"),
    ],
)
def test_redact_path(path: str, expected: str) -> None:
    assert profile.redact_path(path) == expected


def test_access_log_line_has_no_secret_query_or_client() -> None:
    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", profile.access_log_format)
    logger = profile.RedactingLogger(config)
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/track/HqZVsxkTtVJY76ZIXLWnaQ/", "QUERY_STRING": "code=secret123",
        "RAW_URI": "/track/HqZVsxkTtVJY76ZIXLWnaQ/?code=secret123", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9", "HTTP_REFERER": "https://x/track/HqZVsxkTtVJY76ZIXLWnaQ/",
        "HTTP_USER_AGENT": "Mozilla/5.0 (Phone)",
    }
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"]), ("USER-AGENT", "Mozilla/5.0 (Phone)")])
    response = SimpleNamespace(status="200 OK", status_code=200, sent=123, headers=[], response_length=123)
    atoms = logger.atoms(response, request, environ, SimpleNamespace(seconds=0, microseconds=2000))
    line = profile.access_log_format % atoms
    assert line.startswith('"GET /track/…/" 200 123 ')
    for secret in ("HqZVsxkTtVJY76ZIXLWnaQ", "secret123", "203.0.113.9", "Mozilla"):
        assert secret not in line
        assert all(secret not in str(value) for value in atoms.values())
    logging.getLogger("gunicorn.access").handlers.clear()


def test_production_defaults() -> None:
    assert profile.worker_class == "gthread"
    assert profile.max_requests > 0 and 0 < profile.max_requests_jitter < profile.max_requests
    assert profile.timeout <= 60 and profile.preload_app
    assert profile.logger_class == "sizhi.config.gunicorn.RedactingLogger"
