"""Abuse case 15 of SECURITY.md and the browser-side hardening: `check --deploy` is clean with
production settings, every page carries the security headers and a script-only-from-self CSP,
no template holds an inline script, DEBUG=False error pages show no stack trace on any channel,
and no `next` parameter redirects off the site."""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from sizhi.conftest import PASSWORD, World

ROOT = Path(settings.BASE_DIR)


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A production environment: DEBUG off, a real secret, hosts, the field keys, and none of the
    developer's own SIZHI_* overrides leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIZHI_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "sizhi.config.settings",
        "SIZHI_DEBUG": "0",
        "SIZHI_SECRET_KEY": secrets.token_urlsafe(64),
        "SIZHI_ALLOWED_HOSTS": "sizhi.example.gov.cn",
        "SIZHI_DATA_DIR": str(tmp_path),
        "SIZHI_FIELD_KEYS": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "SIZHI_INDEX_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "PYTHONPATH": str(ROOT.parent),
    })
    env.update(extra)
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, cwd=ROOT.parent, capture_output=True, text=True, timeout=120, check=False,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    result = check_deploy(production_env(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output


def test_check_deploy_flags_the_fallback_secret_key(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["SIZHI_SECRET_KEY"]
    result = check_deploy(env)
    assert result.returncode != 0
    assert "sizhi.W001" in result.stdout + result.stderr


def test_check_deploy_names_every_relaxed_transport_setting(tmp_path: Path) -> None:
    # What `make serve-prod` over plain HTTP sets: allowed, and check --deploy says what it costs.
    env = production_env(tmp_path, SIZHI_SSL_REDIRECT="0", SIZHI_COOKIE_SECURE="0", SIZHI_HSTS_SECONDS="0")
    result = check_deploy(env)
    output = result.stdout + result.stderr
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output, output


# --- headers ------------------------------------------------------------------------------------------


def _csp(value: str) -> dict[str, list[str]]:
    policy: dict[str, list[str]] = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            policy[words[0]] = words[1:]
    return policy


@override_settings(
    SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=31_536_000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
    SECURE_HSTS_PRELOAD=True, SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True,
)
@pytest.mark.parametrize("path", ["/", "/report/", "/track/", "/accounts/login/", "/api/v1/categories",
                                  "/open311/v2/services.json"])
def test_every_answer_carries_the_security_headers(db: None, path: str) -> None:
    client = Client()
    plain = client.get(path)
    assert plain.status_code == 301 and plain["Location"].startswith("https://")

    response = client.get(path, secure=True)
    assert response.status_code < 500
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = _csp(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert "'unsafe-inline'" not in policy["style-src-elem"]


def test_cookies_are_secure_and_http_only_in_production(db: None, world: World) -> None:
    with override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True):
        client = Client()
        client.get("/accounts/login/", secure=True)
        response = client.post(
            "/accounts/login/", {"username": "citizen", "password": PASSWORD}, secure=True,
        )
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] and session["httponly"]
    assert client.cookies[settings.CSRF_COOKIE_NAME]["secure"]


SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
HANDLER_ATTRIBUTE = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def _templates() -> list[Path]:
    return sorted(p for p in ROOT.rglob("templates/**/*.html") if "node_modules" not in p.parts)


def test_no_template_holds_an_inline_script_or_event_handler() -> None:
    """script-src 'self' blocks inline code; this finds it before a browser does."""
    problems = []
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        for match in SCRIPT_TAG.finditer(text):
            attributes = match.group(1)
            if "src=" not in attributes and "application/json" not in attributes:
                problems.append(f"{path.relative_to(ROOT)}: inline <script{attributes}>")
        if HANDLER_ATTRIBUTE.search(text):
            problems.append(f"{path.relative_to(ROOT)}: inline event handler")
        if "javascript:" in text.lower():
            problems.append(f"{path.relative_to(ROOT)}: javascript: URL")
    assert len(_templates()) > 50
    assert problems == []


# --- error pages -------------------------------------------------------------------------------------

MARKER = "secret-internal-detail-0xdeadbeef"


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError(MARKER)


@override_settings(DEBUG=False)
def test_a_500_on_the_site_shows_no_stack_trace(db: None) -> None:
    client = Client(raise_request_exception=False)
    with mock.patch("sizhi.web.views._home_sections", _boom):
        response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 500
    assert MARKER not in body and "Traceback" not in body and "RuntimeError" not in body
    assert "系统繁忙" in body


@override_settings(DEBUG=False)
def test_a_500_in_the_api_is_the_one_error_format_without_detail(db: None) -> None:
    client = Client(raise_request_exception=False)
    with mock.patch("sizhi.api.endpoints.reference._category_node", _boom):
        response = client.get("/api/v1/categories")
    assert response.status_code == 500
    body = response.content.decode()
    assert MARKER not in body and "Traceback" not in body
    assert set(response.json()) == {"error"}


@override_settings(DEBUG=False)
def test_a_500_in_open311_shows_no_stack_trace(db: None) -> None:
    client = Client(raise_request_exception=False)
    with mock.patch("sizhi.open311.api.selectors.services", _boom):
        response = client.get("/open311/v2/services.json")
    assert response.status_code == 500
    body = response.content.decode()
    assert MARKER not in body and "Traceback" not in body


@override_settings(DEBUG=False)
def test_an_unknown_page_is_the_plain_404(db: None) -> None:
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    assert "URLconf" not in response.content.decode() and "Traceback" not in response.content.decode()


# --- open redirects ----------------------------------------------------------------------------------

OFFSITE = ["https://evil.example/", "//evil.example/", "/\\evil.example/", "https:evil.example",
           "\\\\evil.example", "javascript:alert(1)", " https://evil.example/"]


def _offsite(location: str) -> bool:
    return "evil.example" in location or location.lower().startswith("javascript:")


@pytest.mark.parametrize("target", OFFSITE)
def test_login_refuses_to_redirect_off_site(world: World, target: str) -> None:
    client = Client()
    response = client.post(f"/accounts/login/?next={target}", {"username": "citizen", "password": PASSWORD,
                                                                "next": target})
    assert response.status_code == 302
    assert not _offsite(response["Location"])


@pytest.mark.parametrize("target", OFFSITE)
def test_inbox_mark_read_refuses_to_redirect_off_site(world: World, target: str) -> None:
    client = Client()
    client.force_login(world.user("citizen"))
    response = client.post(reverse("notify:mark_read"), {"id": "1", "next": target})
    assert response.status_code == 302
    assert not _offsite(response["Location"])


@pytest.mark.parametrize("target", OFFSITE)
def test_language_switch_refuses_to_redirect_off_site(db: None, target: str) -> None:
    response = Client().post("/i18n/setlang/", {"language": "en", "next": target})
    assert response.status_code == 302
    assert not _offsite(response["Location"])


# --- CSRF ------------------------------------------------------------------------------------------


def test_forms_and_session_api_calls_without_a_csrf_token_are_refused(world: World) -> None:
    from sizhi.cases.models import Case
    from sizhi.web.tests.factories import report_data

    client = Client(enforce_csrf_checks=True)
    assert client.post("/report/", report_data(world)).status_code == 403
    client.force_login(world.user("citizen"))
    api = client.post("/api/v1/reports", {"description": "路口的井盖缺失了，晚上很危险", "address": "金业路 1 号"})
    assert api.status_code == 403
    staff = Client(enforce_csrf_checks=True)
    staff.force_login(world.user("town_dispatcher"))
    assert staff.post("/inbox/read/", {"id": "1"}).status_code == 403
    assert Case.objects.count() == 0


def test_no_url_serves_the_upload_folder_directly(world: World) -> None:
    """Uploads are served only by the permission-checked views (console, API, tracking code,
    mailbox), never as files by path, not even in development."""
    from django.urls import get_resolver

    from sizhi.cases import services
    from sizhi.conftest import inside, make_photo

    lat, lng = inside(world.grid_a1)
    case = services.report_submit(reporter=None, description="路口的井盖缺失了，晚上很危险", lat=lat, lng=lng,
                                  photos=[make_photo()])
    stored = case.attachments.get().file.name
    assert Client().get(f"/media/{stored}").status_code == 404
    assert not any("media" in str(p.pattern) for p in get_resolver().url_patterns)
