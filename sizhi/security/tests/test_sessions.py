"""Ending sessions: logout, password change and deactivation end every session and API token of
the user at once; staff sessions end after 30 idle minutes and 12 hours."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from sizhi.accounts.models import User
from sizhi.api.services import api_token_create
from sizhi.audit.models import AuditRecord
from sizhi.conftest import PASSWORD, World
from sizhi.security import services
from sizhi.security.models import UserSession
from sizhi.security.tests.conftest import password_login

NEW_PASSWORD = "Another-pass-2027"


def bearer(secret: str) -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {secret}"}}


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_logout_in_one_browser_ends_the_others_and_every_token(world: World) -> None:
    user = world.user("town_dispatcher")
    first, second = Client(), Client()
    assert password_login(first, "town_dispatcher").status_code == 302
    assert password_login(second, "town_dispatcher").status_code == 302
    _token, secret = api_token_create(user=user, name="phone")
    assert second.get("/console/").status_code == 200
    assert Client().get("/api/v1/cases", **bearer(secret)).status_code == 200
    other_user = Client()
    other_user.force_login(world.user("city_dispatcher"))

    assert first.post(reverse("accounts:logout")).status_code == 302

    assert second.get("/console/").status_code == 302  # to the login page
    assert not signed_in(second)
    assert Client().get("/api/v1/cases", **bearer(secret)).status_code == 401
    assert not UserSession.objects.filter(user=user).exists()
    # Someone else's session is untouched.
    assert other_user.get("/console/").status_code == 200
    record = AuditRecord.objects.filter(action="auth.sessions_ended").order_by("-seq").first()
    assert record is not None and record.target_id == str(user.pk)
    assert record.detail == {"reason": "logout", "sessions": 2, "tokens": 1}


def test_sessions_made_by_force_login_are_found_too(world: World) -> None:
    user = world.user("town_dispatcher")
    a, b = Client(), Client()
    a.force_login(user)
    b.force_login(user)
    assert services.end_all_sessions(user, reason="test") == 2
    assert b.get("/console/").status_code == 302
    assert not Session.objects.filter(session_key=a.session.session_key).exists()


def test_password_change_ends_every_other_session_and_keeps_this_one(world: World) -> None:
    user = world.user("town_dispatcher")
    here, elsewhere = Client(), Client()
    password_login(here, "town_dispatcher")
    password_login(elsewhere, "town_dispatcher")
    _token, secret = api_token_create(user=user, name="script")
    response = here.post(reverse("accounts:password"), {
        "old_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
    })
    assert response.status_code == 302
    assert here.get("/console/").status_code == 200
    assert elsewhere.get("/console/").status_code == 302
    assert Client().get("/api/v1/cases", **bearer(secret)).status_code == 401
    assert password_login(Client(), "town_dispatcher", NEW_PASSWORD).status_code == 302
    assert UserSession.objects.filter(user=user).count() == 2  # this browser and the last login


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"old_password": "wrong-one", "new_password": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, "当前密码不正确"),
        ({"old_password": PASSWORD, "new_password": "12345678", "new_password2": "12345678"}, "new_password"),
        ({"old_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password2": "different-1"}, "不一致"),
        ({"old_password": PASSWORD, "new_password": PASSWORD, "new_password2": PASSWORD}, "不能与当前密码相同"),
        ({}, "请输入当前密码"),
    ],
)
def test_password_change_refusals_change_nothing(world: World, data: dict[str, str], field: str) -> None:
    client = Client()
    password_login(client, "town_dispatcher")
    response = client.post(reverse("accounts:password"), data)
    assert response.status_code == 400
    assert field in response.content.decode() or field == "new_password"
    assert User.objects.get(username="town_dispatcher").check_password(PASSWORD)
    assert client.get("/console/").status_code == 200


def test_deactivation_ends_everything_however_it_is_done(world: World) -> None:
    user = world.user("grid_worker")
    client = Client()
    password_login(client, "grid_worker")
    _token, secret = api_token_create(user=user, name="app")
    # Not through a service: a data fix in the shell still throws the account out.
    user.is_active = False
    user.save()
    assert client.get("/console/").status_code == 302
    assert Client().get("/api/v1/cases", **bearer(secret)).status_code == 401
    assert not UserSession.objects.filter(user=user).exists()


def _age_session(client: Client, *, login_ago: int | None = None, seen_ago: int | None = None) -> None:
    session = client.session
    now = int(session[services.SESSION_SEEN_AT])
    if login_ago is not None:
        session[services.SESSION_LOGIN_AT] = now - login_ago
    if seen_ago is not None:
        session[services.SESSION_SEEN_AT] = now - seen_ago
    session.save()


def test_staff_session_ends_after_30_idle_minutes(world: World) -> None:
    client = Client()
    password_login(client, "town_dispatcher")
    _age_session(client, seen_ago=29 * 60)
    assert client.get("/console/").status_code == 200  # and the activity is noted
    _age_session(client, seen_ago=31 * 60)
    response = client.get("/console/list/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?expired=idle&next=%2Fconsole%2Flist%2F"
    assert not signed_in(client)
    page = client.get(response["Location"]).content.decode()
    assert "30 分钟没有操作" in page and 'data-testid="login-expired"' in page


def test_staff_session_ends_after_12_hours_however_busy(world: World) -> None:
    client = Client()
    password_login(client, "town_dispatcher")
    _age_session(client, login_ago=12 * 3600 - 60)
    assert client.get("/console/").status_code == 200
    _age_session(client, login_ago=12 * 3600 + 1)
    response = client.get("/console/")
    assert response["Location"].startswith("/accounts/login/?expired=max")
    assert "12 小时" in client.get(response["Location"]).content.decode()


def test_staff_cookie_expires_with_the_absolute_limit(world: World) -> None:
    client = Client()
    password_login(client, "town_dispatcher")
    assert client.session.get_expiry_age() == 12 * 3600


def test_citizen_sessions_have_no_idle_limit(world: World) -> None:
    client = Client()
    password_login(client, "13800000001")
    _age_session(client, seen_ago=5 * 3600)
    assert client.get("/me/reports/").status_code == 200


def test_activity_is_written_at_most_once_a_minute(world: World, django_assert_num_queries: Any) -> None:
    client = Client()
    password_login(client, "town_dispatcher")
    row = UserSession.objects.get(user=world.user("town_dispatcher"))
    client.get("/console/")
    assert UserSession.objects.get(pk=row.pk).last_seen_at == row.last_seen_at
    _age_session(client, seen_ago=61)
    client.get("/console/")
    assert UserSession.objects.get(pk=row.pk).last_seen_at > row.last_seen_at


def test_the_api_hears_why_a_session_ended(world: World) -> None:
    client = Client()
    password_login(client, "town_dispatcher")
    _age_session(client, seen_ago=31 * 60)
    response = client.get("/api/v1/cases")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "session_expired"
