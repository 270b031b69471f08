"""Login, logout and sign-up pages."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.accounts import throttle, views
from sizhi.accounts.models import User, VerificationCode
from sizhi.conftest import PASSWORD, World
from sizhi.notify.sms import LocmemSmsBackend
from sizhi.security import lockout

LOGIN = reverse("accounts:login")
SIGNUP = reverse("accounts:signup")
NEW_PASSWORD = "Luoyang-village-2026"


def body(response: Any) -> str:
    return response.content.decode()


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def login(client: Client, username: str, password: str = PASSWORD, **extra: str) -> Any:
    return client.post(LOGIN, {"username": username, "password": password, **extra})


# --- login -------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["13800000001", "+86 138 0000 0001", "１３８００００００01", "138-0000-0001"])
def test_citizen_logs_in_with_phone_and_goes_home(world: World, client: Client, typed: str) -> None:
    response = login(client, typed)

    assert response.status_code == 302
    assert response["Location"] == reverse("web:home")
    assert client.session["_auth_user_id"] == str(world.user("citizen").pk)


def test_staff_logs_in_with_username_and_goes_to_the_console(world: World, client: Client) -> None:
    response = login(client, "town_dispatcher")

    assert response.status_code == 302
    assert response["Location"] == "/console/"


def test_admin_roles_are_not_sent_to_the_console(world: World, client: Client) -> None:
    # Each administrator lands on its own pages (三权分立); none sees cases.
    assert login(client, "system_admin")["Location"] == reverse("sysadmin:accounts")
    assert login(Client(), "security_admin")["Location"] == reverse("secadmin:memberships")
    # The audit admin reads the audit log (home while the audit pages are not mounted).
    assert login(Client(), "audit_admin")["Location"] in ("/console/audit/", reverse("web:home"))


def test_unknown_user_and_wrong_password_get_the_same_answer(world: World, client: Client) -> None:
    unknown = login(client, "13999999999", "whatever-password")
    existing = login(Client(), "13800000001", "whatever-password")

    assert unknown.status_code == existing.status_code == 400
    assert "手机号/用户名或密码不正确" in body(unknown)
    # Only the typed username differs between the pages.
    assert without_csrf(body(unknown)).replace("13999999999", "X") == without_csrf(body(existing)).replace(
        "13800000001", "X"
    )


def test_inactive_user_gets_the_same_answer_as_a_wrong_password(world: World, client: Client) -> None:
    User.objects.filter(username="citizen").update(is_active=False)

    response = login(client, "13800000001")

    assert response.status_code == 400
    assert "手机号/用户名或密码不正确" in body(response)
    assert "_auth_user_id" not in client.session


def test_safe_next_is_followed_and_an_open_redirect_is_not(world: World, client: Client) -> None:
    assert login(client, "13800000001", next="/me/reports/")["Location"] == "/me/reports/"
    client.logout()
    for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        assert login(client, "13800000001", next=target)["Location"] == reverse("web:home")
        client.logout()


def test_failed_logins_are_limited_per_account(world: World, client: Client) -> None:
    # A frozen clock: the growing delay after five failures has not passed.
    with mock.patch.object(lockout, "clock", lambda: 1_800_000_000.0):
        statuses = [login(client, "13800000001", "wrong-password").status_code for _ in range(5)]
        # Spelling the phone differently is the same account.
        blocked = login(client, "+86 138 0000 0001")

    assert statuses == [400] * 5
    assert blocked.status_code == 429
    assert "尝试次数过多" in body(blocked)
    assert "_auth_user_id" not in client.session


def test_failed_logins_are_limited_per_address(world: World, client: Client) -> None:
    with mock.patch.object(lockout, "ADDRESS_HOURLY_CAP", 2):
        login(client, "nobody-1", "x")
        login(client, "nobody-2", "x")
        blocked = login(client, "town_dispatcher")
        elsewhere = login(Client(REMOTE_ADDR="10.1.2.3"), "town_dispatcher")

    assert blocked.status_code == 429
    assert elsewhere.status_code == 302


@pytest.mark.parametrize(
    "data", [{}, {"username": "", "password": ""}, {"username": "a\x00b", "password": "x"}, {"username": "a" * 5000}]
)
def test_malformed_login_is_a_clean_400(world: World, client: Client, data: dict[str, str]) -> None:
    response = client.post(LOGIN, data)

    assert response.status_code == 400
    assert re.search(r"[\u4e00-\u9fff]", body(response))


def test_login_page_renders(world: World, client: Client) -> None:
    html = body(client.get(LOGIN))
    for testid in ("username-input", "password-input", "login-submit"):
        assert f'data-testid="{testid}"' in html


# --- logout ------------------------------------------------------------------------------------


def test_logout_is_post_only(world: World, client: Client) -> None:
    client.force_login(world.user("citizen"))

    assert client.get(reverse("accounts:logout")).status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post(reverse("accounts:logout"))

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


# --- sign-up -----------------------------------------------------------------------------------


def last_code() -> str:
    match = re.search(r"\b(\d{6})\b", LocmemSmsBackend.outbox[-1].text)
    assert match
    return match.group(1)


def test_signup_by_phone_and_code_signs_the_citizen_in(db: None, client: Client) -> None:
    sent = client.post(SIGNUP, {"action": "send_code", "phone": "+86 139 1234 5678", "display_name": "王大爷"})
    assert sent.status_code == 200
    assert "139****5678" in body(sent)
    assert 'value="王大爷"' in body(sent)

    response = client.post(
        SIGNUP,
        {"action": "signup", "phone": "13912345678", "code": last_code(), "display_name": "王大爷",
         "password": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("web:home")
    user = User.objects.get_by_phone("13912345678")
    assert user.is_citizen
    assert client.session["_auth_user_id"] == str(user.pk)
    # and the new account logs in with its phone number
    assert login(Client(), "139 1234 5678", NEW_PASSWORD).status_code == 302


def test_send_code_with_a_bad_phone_says_so(db: None, client: Client) -> None:
    response = client.post(SIGNUP, {"action": "send_code", "phone": "12345"})

    assert response.status_code == 400
    assert "11 位手机号码" in body(response)
    assert "请输入短信验证码" not in body(response)
    assert not LocmemSmsBackend.outbox


def test_send_code_twice_in_a_minute_says_wait(db: None, client: Client) -> None:
    client.post(SIGNUP, {"action": "send_code", "phone": "13912345678"})

    response = client.post(SIGNUP, {"action": "send_code", "phone": "13912345678"})

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "秒后" in body(response)
    assert len(LocmemSmsBackend.outbox) == 1


def test_send_code_is_limited_per_address(db: None, client: Client) -> None:
    with mock.patch.object(views, "SMS_PER_ADDRESS", throttle.Limit("sms-address-test", 2, 3600)):
        for n in range(2):
            client.post(SIGNUP, {"action": "send_code", "phone": f"1391234567{n}"})
        response = client.post(SIGNUP, {"action": "send_code", "phone": "13912345679"})

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert "分钟后再试" in body(response)
    assert len(LocmemSmsBackend.outbox) == 2


def test_wrong_code_is_shown_next_to_the_code_field(db: None, client: Client) -> None:
    client.post(SIGNUP, {"action": "send_code", "phone": "13912345678"})
    wrong = "000000" if last_code() != "000000" else "111111"

    response = client.post(
        SIGNUP,
        {"action": "signup", "phone": "13912345678", "code": wrong, "password": NEW_PASSWORD,
         "password2": NEW_PASSWORD},
    )

    assert response.status_code == 400
    errors = re.search(r'data-testid="code-errors"[^>]*>(.*?)</ul>', body(response), re.S)
    assert errors and "验证码不正确" in errors.group(1)
    assert VerificationCode.objects.get().attempts == 1
    assert not User.objects.with_phone("13912345678").exists()


def test_password_mismatch_is_caught_before_the_code(db: None, client: Client) -> None:
    client.post(SIGNUP, {"action": "send_code", "phone": "13912345678"})

    response = client.post(
        SIGNUP,
        {"action": "signup", "phone": "13912345678", "code": last_code(), "password": NEW_PASSWORD,
         "password2": NEW_PASSWORD + "x"},
    )

    assert response.status_code == 400
    assert "两次输入的密码不一致" in body(response)
    assert VerificationCode.objects.get().attempts == 0


def test_signup_page_has_stable_hooks(db: None, client: Client) -> None:
    html = body(client.get(SIGNUP))
    for testid in ("phone-input", "send-code", "code-input", "display_name-input", "password-input",
                   "password2-input", "signup-submit"):
        assert f'data-testid="{testid}"' in html
