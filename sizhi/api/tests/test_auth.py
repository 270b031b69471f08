"""Who may call: bearer tokens (valid, revoked, expired, deactivated user, malformed) and the web
session with CSRF; the token pages at /account/tokens/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sizhi.accounts.models import Membership
from sizhi.api.models import ApiToken
from sizhi.api.services import MAX_ACTIVE_TOKENS, TokenError, api_token_create, api_tokens_revoke_all, hash_secret
from sizhi.api.tests.conftest import ApiClient, reported, token_for
from sizhi.conftest import PASSWORD, World

pytestmark = pytest.mark.django_db


def _client(token: str | None) -> ApiClient:
    return ApiClient(Client(), token=token)


# --- tokens --------------------------------------------------------------------------------------


def test_token_acts_with_its_users_scope(world: World) -> None:
    case = reported(world)
    assert _client(token_for(world.user("town_dispatcher"))).get(f"/cases/{case.pk}").status_code == 200
    assert _client(token_for(world.user("town_dispatcher_b"))).get(f"/cases/{case.pk}").status_code == 404


def test_only_the_hash_of_the_secret_is_stored(world: World) -> None:
    token, secret = api_token_create(user=world.user("citizen"), name="手机")
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.secret_hash == hash_secret(secret)
    assert secret not in {stored.secret_hash, stored.prefix, stored.name}
    assert secret.startswith(stored.prefix) and len(stored.prefix) == 10


def test_token_use_is_recorded_at_most_once_a_minute(world: World) -> None:
    token, secret = api_token_create(user=world.user("citizen"), name="手机")
    client = _client(secret)
    client.get("/me/cases")
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    client.get("/me/cases")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first


def test_revoked_token_stops_at_once(world: World) -> None:
    token, secret = api_token_create(user=world.user("citizen"), name="手机")
    client = _client(secret)
    assert client.get("/me/cases").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    response = client.get("/me/cases")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_expired_token_is_refused(world: World) -> None:
    token, secret = api_token_create(
        user=world.user("citizen"), name="手机", expires_at=timezone.now() + timedelta(days=1)
    )
    past = timezone.now() - timedelta(days=2)
    ApiToken.objects.filter(pk=token.pk).update(created_at=past, expires_at=past + timedelta(days=1))
    assert _client(secret).get("/me/cases").status_code == 401


def test_deactivated_users_tokens_stop_at_once(world: World) -> None:
    user = world.user("town_dispatcher")
    client = _client(token_for(user))
    case = reported(world)
    assert client.get(f"/cases/{case.pk}").status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get(f"/cases/{case.pk}").status_code == 401
    assert client.post(f"/cases/{case.pk}/accept", {}).status_code == 401


def test_ended_membership_takes_the_scope_away_at_once(world: World) -> None:
    user = world.user("town_dispatcher")
    client = _client(token_for(user))
    case = reported(world)
    Membership.objects.filter(user=user).update(is_active=False)
    assert client.get(f"/cases/{case.pk}").status_code == 404


def test_revoke_all_for_logout_everywhere(world: World) -> None:
    user = world.user("citizen")
    secrets_ = [token_for(user), token_for(user)]
    assert api_tokens_revoke_all(user=user) == 2
    assert all(_client(s).get("/me/cases").status_code == 401 for s in secrets_)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer ",
        "Bearer sz_" + "A" * 43,
        "Bearer sz_\x00",
        "Bearer " + "x" * 5000,
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "bearer",
        "Bearer 𠮷𠮷𠮷",
    ],
)
def test_bad_credentials_are_401_never_500(world: World, header: str) -> None:
    response = _client(None).get("/me/cases", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_bad_token_is_401_even_on_public_reads_and_with_a_session(world: World) -> None:
    client = Client()
    client.login(username="citizen", password=PASSWORD)
    api = ApiClient(client, token="sz_" + "B" * 43)
    assert api.get("/categories").status_code == 401
    assert api.get("/me/cases").status_code == 401


def test_token_limit(world: World) -> None:
    user = world.user("citizen")
    for _ in range(MAX_ACTIVE_TOKENS):
        api_token_create(user=user, name="n")
    with pytest.raises(TokenError) as excinfo:
        api_token_create(user=user, name="n")
    assert excinfo.value.code == "token_limit_reached"


@pytest.mark.parametrize(("name", "code"), [("  ", "token_name_required"), ("x" * 61, "token_name_too_long")])
def test_token_name_rules(world: World, name: str, code: str) -> None:
    with pytest.raises(TokenError) as excinfo:
        api_token_create(user=world.user("citizen"), name=name)
    assert excinfo.value.code == code


# --- session -------------------------------------------------------------------------------------


def _session(world: World, name: str) -> Client:
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=name, password=PASSWORD)
    return client


def test_session_reads_without_csrf(world: World) -> None:
    case = reported(world)
    api = ApiClient(_session(world, "town_dispatcher"))
    assert api.get(f"/cases/{case.pk}").status_code == 200


def test_session_post_needs_csrf(world: World) -> None:
    case = reported(world)
    client = _session(world, "town_dispatcher")
    api = ApiClient(client)
    response = api.post(f"/cases/{case.pk}/accept", {})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    # The token the pages carry: fetched from a page, sent back in the header.
    client.get(reverse("api_tokens:list"))
    csrf = client.cookies["csrftoken"].value
    response = api.post(f"/cases/{case.pk}/accept", {}, headers={"X-CSRFToken": csrf})
    assert response.status_code == 200


def test_token_requests_need_no_csrf(world: World) -> None:
    case = reported(world)
    api = ApiClient(Client(enforce_csrf_checks=True), token=token_for(world.user("town_dispatcher")))
    assert api.post(f"/cases/{case.pk}/accept", {}).status_code == 200


def test_anonymous_report_needs_no_csrf(world: World) -> None:
    from sizhi.conftest import inside

    lat, lng = inside(world.grid_a1)
    api = ApiClient(Client(enforce_csrf_checks=True))
    response = api.post("/reports", {"description": "路灯不亮很久了", "lat": lat, "lng": lng}, form=True)
    assert response.status_code == 201


def test_deactivated_users_session_stops(world: World) -> None:
    client = _session(world, "citizen")
    world.user("citizen").__class__.objects.filter(username="citizen").update(is_active=False)
    assert ApiClient(client).get("/me/cases").status_code == 401


# --- token pages ---------------------------------------------------------------------------------


def test_token_pages_need_a_sign_in(world: World) -> None:
    response = Client().get(reverse("api_tokens:list"))
    assert response.status_code == 302
    assert "next=" in response["Location"]


def test_create_token_shows_the_secret_once(world: World) -> None:
    client = Client()
    client.login(username="citizen", password=PASSWORD)
    response = client.post(reverse("api_tokens:list"), {"name": "巡查 App", "expires": "30"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = response.context["new_secret"]
    assert secret and secret in response.content.decode()
    token = ApiToken.objects.get(user=world.user("citizen"))
    assert token.name == "巡查 App" and token.expires_at is not None
    assert _client(secret).get("/me/cases").status_code == 200
    listing = client.get(reverse("api_tokens:list")).content.decode()
    assert secret not in listing and token.prefix in listing


def test_create_token_refusals_show_on_the_form(world: World) -> None:
    client = Client()
    client.login(username="citizen", password=PASSWORD)
    response = client.post(reverse("api_tokens:list"), {"name": " \u200b ", "expires": "never"})
    assert response.status_code == 400
    assert ApiToken.objects.count() == 0
    assert client.post(reverse("api_tokens:list"), {"name": "x", "expires": "1000"}).status_code == 400


def test_revoke_own_token(world: World) -> None:
    token, secret = api_token_create(user=world.user("citizen"), name="旧手机")
    client = Client()
    client.login(username="citizen", password=PASSWORD)
    response = client.post(reverse("api_tokens:revoke", args=[token.pk]))
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert _client(secret).get("/me/cases").status_code == 401


def test_another_users_token_cannot_be_revoked(world: World) -> None:
    token, _secret = api_token_create(user=world.user("citizen2"), name="别人的")
    client = Client()
    client.login(username="citizen", password=PASSWORD)
    assert client.post(reverse("api_tokens:revoke", args=[token.pk])).status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_revoke_needs_post_and_csrf(world: World) -> None:
    token, _secret = api_token_create(user=world.user("citizen"), name="手机")
    client = Client(enforce_csrf_checks=True)
    client.login(username="citizen", password=PASSWORD)
    assert client.get(reverse("api_tokens:revoke", args=[token.pk])).status_code == 405
    assert client.post(reverse("api_tokens:revoke", args=[token.pk])).status_code == 403
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
