"""The whole staff sign-in with the test client: password, then TOTP (or forced enrolment),
and everything in between kept out of every other page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client, override_settings
from django.urls import reverse

from sizhi.accounts.models import User
from sizhi.api.services import api_token_create
from sizhi.conftest import PASSWORD, World
from sizhi.security import services, totp
from sizhi.security.demo import DEMO_TOTP_SECRET, demo_totp_enrol
from sizhi.security.models import RecoveryCode, TOTPDevice
from sizhi.security.tests.conftest import code_now, enrol, password_login

pytestmark = pytest.mark.usefixtures("totp_on")

TOTP_URL = reverse("security:totp")
ENROL_URL = reverse("security:enrol")


def body(response: Any) -> str:
    return str(response.content.decode())


def test_full_password_and_totp_login(world: World, client: Client) -> None:
    secret = enrol(world.user("town_dispatcher"))
    response = password_login(client, "town_dispatcher")
    assert response.status_code == 302 and response["Location"] == TOTP_URL
    # Signed in by password only: every other page sends the session back to the code step.
    for path in ("/console/", "/console/settings/", "/account/tokens/", "/me/reports/"):
        assert client.get(path)["Location"] == TOTP_URL, path
    assert client.get("/api/v1/cases").status_code == 401

    page = client.get(TOTP_URL)
    assert page.status_code == 200 and 'data-testid="totp-form"' in body(page)
    assert client.post(TOTP_URL, {"code": "000000" if code_now(secret) != "000000" else "111111"}).status_code == 400
    response = client.post(TOTP_URL, {"code": code_now(secret)})
    assert response.status_code == 302 and response["Location"] == "/console/"
    assert client.get("/console/").status_code == 200


def test_the_code_step_keeps_the_next_page(world: World, client: Client) -> None:
    secret = enrol(world.user("town_dispatcher"))
    response = password_login(client, "town_dispatcher", next="/console/list/")
    assert response["Location"] == f"{TOTP_URL}?next=%2Fconsole%2Flist%2F"
    response = client.post(TOTP_URL, {"code": code_now(secret), "next": "/console/list/"})
    assert response["Location"] == "/console/list/"


def test_a_code_cannot_be_used_twice(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(totp, "clock", lambda: 1_800_000_000.0)
    secret = enrol(world.user("town_dispatcher"))
    code = totp.current_code(secret, 1_800_000_000.0)
    first, second = Client(), Client()
    password_login(first, "town_dispatcher")
    password_login(second, "town_dispatcher")
    assert first.post(TOTP_URL, {"code": code}).status_code == 302
    replay = second.post(TOTP_URL, {"code": code})
    assert replay.status_code == 400
    assert "已使用过" in body(replay)
    # An older step in the window is refused as well once a newer one was used.
    older = totp.current_code(secret, 1_800_000_000.0 - 30)
    assert second.post(TOTP_URL, {"code": older}).status_code == 400


def test_codes_of_the_neighbour_steps_are_accepted_and_no_further(world: World,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    now = 1_800_000_015.0
    monkeypatch.setattr(totp, "clock", lambda: now)
    secret = enrol(world.user("town_dispatcher"))
    assert totp.matching_step(secret, totp.current_code(secret, now - 30), now=now, after_step=None) is not None
    assert totp.matching_step(secret, totp.current_code(secret, now + 30), now=now, after_step=None) is not None
    far = totp.current_code(secret, now - 90)
    if far not in {totp.current_code(secret, now + d) for d in (-30, 0, 30)}:
        assert totp.matching_step(secret, far, now=now, after_step=None) is None
    # Full-width digits and spaces, as phones type them.
    spaced = " ".join(totp.current_code(secret, now)[i : i + 3] for i in (0, 3))
    assert totp.matching_step(secret, spaced.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
                              now=now, after_step=None) is not None


def test_unenrolled_staff_must_enrol_before_anything_else(world: World, client: Client) -> None:
    response = password_login(client, "city_dispatcher")
    assert response["Location"] == ENROL_URL
    assert client.get("/console/")["Location"] == TOTP_URL
    assert client.get(TOTP_URL)["Location"] == ENROL_URL
    page = client.get(ENROL_URL)
    text = body(page)
    assert page.status_code == 200
    assert "<svg" in text and 'data-testid="totp-secret"' in text
    assert "otpauth" not in text.split("<svg", 1)[0]  # the URI is only inside the QR code
    device = TOTPDevice.objects.get(user=world.user("city_dispatcher"))
    assert not device.confirmed
    secret = services.device_secret(device)
    assert device.secret != secret and secret not in device.secret  # encrypted at rest
    assert re.sub(r"\s", "", re.search(r'data-testid="totp-secret">([^<]+)<', text).group(1)) == secret  # type: ignore[union-attr]
    # Reloading shows the same secret (the phone may already have scanned it).
    assert services.device_secret(TOTPDevice.objects.get(pk=device.pk)) == secret

    wrong = client.post(ENROL_URL, {"code": "12345"})
    assert wrong.status_code == 400
    done = client.post(ENROL_URL, {"code": code_now(secret)})
    assert done.status_code == 200
    codes = re.findall(r'data-testid="recovery-code">([a-z0-9-]+)<', body(done))
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = set(RecoveryCode.objects.filter(user=world.user("city_dispatcher")).values_list("code_hash", flat=True))
    assert not any(c in stored or c.replace("-", "") in stored for c in codes)  # hashes only
    assert client.get("/console/").status_code == 200


def test_a_recovery_code_works_once(world: World) -> None:
    user = world.user("town_dispatcher")
    enrol(user)
    codes = services.recovery_codes_issue(user=user)
    first = Client()
    password_login(first, "town_dispatcher")
    response = first.post(TOTP_URL, {"code": codes[0].upper()})
    assert response.status_code == 302
    again = Client()
    password_login(again, "town_dispatcher")
    assert again.post(TOTP_URL, {"code": codes[0]}).status_code == 400
    assert services.recovery_codes_left(user) == 9


def test_guessing_codes_is_throttled(world: World, client: Client) -> None:
    secret = enrol(world.user("town_dispatcher"))
    password_login(client, "town_dispatcher")
    right = code_now(secret)
    wrong = "999999" if right != "999999" else "888888"
    statuses = [client.post(TOTP_URL, {"code": wrong}).status_code for _ in range(5)]
    assert statuses == [400] * 5
    blocked = client.post(TOTP_URL, {"code": right})
    assert blocked.status_code == 429
    assert "尝试次数过多" in body(blocked)


def test_citizens_sign_in_without_a_second_factor(world: World, client: Client) -> None:
    response = password_login(client, "13800000001")
    assert response.status_code == 302 and response["Location"] == reverse("web:home")
    assert client.get("/me/reports/").status_code == 200
    # The staff pages of the second step send a citizen on, and make no device.
    assert client.get(ENROL_URL)["Location"] == reverse("web:home")
    assert client.get(TOTP_URL)["Location"] == reverse("web:home")
    assert not TOTPDevice.objects.exists()


def test_api_tokens_still_work_for_staff(world: World, client: Client) -> None:
    # A token is made from a verified session; it carries no session and needs no code.
    _token, secret = api_token_create(user=world.user("town_dispatcher"), name="bench")
    assert client.get("/api/v1/cases", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200


def test_unknown_user_and_wrong_password_get_the_same_answer_and_both_hash(world: World) -> None:
    counted: list[str] = []

    class CountingHasher(MD5PasswordHasher):
        algorithm = "md5"

        def encode(self, password: str, salt: str) -> str:
            counted.append("encode")
            return super().encode(password, salt)

    hasher = f"{__name__}.CountingHasher"
    globals()["CountingHasher"] = CountingHasher
    with override_settings(PASSWORD_HASHERS=[hasher]):
        unknown = password_login(Client(), "no-such-user", "Wrong-pass-123")
        after_unknown = len(counted)
        wrong = password_login(Client(), "town_dispatcher", "Wrong-pass-123")
        after_wrong = len(counted) - after_unknown
    assert unknown.status_code == wrong.status_code == 400
    strip = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"|value="[^"]*"')
    assert strip.sub("", body(unknown)) == strip.sub("", body(wrong))
    # The hasher ran for the account that does not exist, as for the one that does.
    assert after_unknown == 1 and after_wrong == 1


def test_an_inactive_account_gets_the_same_answer(world: World) -> None:
    User.objects.filter(username="town_dispatcher").update(is_active=False)
    response = password_login(Client(), "town_dispatcher")
    assert response.status_code == 400 and "手机号/用户名或密码不正确" in body(response)


def test_enrolled_staff_owes_the_code_even_when_totp_is_optional(world: World, settings: Any) -> None:
    settings.SIZHI_REQUIRE_TOTP = False
    secret = enrol(world.user("town_dispatcher"))
    client = Client()
    assert password_login(client, "town_dispatcher")["Location"] == TOTP_URL
    assert client.get("/console/")["Location"] == TOTP_URL
    assert client.post(TOTP_URL, {"code": code_now(secret)})["Location"] == "/console/"
    # Not enrolled and not required: straight in.
    other = Client()
    assert password_login(other, "city_dispatcher")["Location"] == "/console/"


def test_demo_hint_only_with_debug_and_the_demo_secret(world: World, settings: Any) -> None:
    demo_totp_enrol(user_ids=[world.user("town_dispatcher").pk, world.user("citizen").pk])
    assert not TOTPDevice.objects.filter(user=world.user("citizen")).exists()
    device = TOTPDevice.objects.get(user=world.user("town_dispatcher"))
    assert device.confirmed and services.device_secret(device) == DEMO_TOTP_SECRET
    client = Client()
    password_login(client, "town_dispatcher")
    assert 'data-testid="totp-demo-hint"' not in body(client.get(TOTP_URL))
    settings.DEBUG = True
    settings.SIZHI_DEMO_HINTS = True
    page = body(client.get(TOTP_URL))
    assert 'data-testid="totp-demo-hint"' in page and totp.current_code(DEMO_TOTP_SECRET) in page
    # A real secret gets no hint, even in DEBUG.
    secret = enrol(world.user("city_dispatcher"))
    other = Client()
    password_login(other, "city_dispatcher")
    page = body(other.get(TOTP_URL))
    assert 'data-testid="totp-demo-hint"' not in page
    assert other.post(TOTP_URL, {"code": code_now(secret)}).status_code == 302


def test_the_password_step_alone_is_not_a_signed_in_staff_member(world: World, client: Client) -> None:
    secret = enrol(world.user("town_dispatcher"))
    password_login(client, "town_dispatcher")
    before = client.cookies["sessionid"].value
    client.post(TOTP_URL, {"code": code_now(secret)})
    # A new session key once the second factor is shown.
    assert client.cookies["sessionid"].value != before
    assert PASSWORD  # the shared test password signs everyone in
