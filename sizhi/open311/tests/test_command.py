"""`sizhi open311 create-client / revoke-client / list-clients`: the key is printed once and only
its SHA-256 is stored; a revoked key no longer opens POST."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from sizhi.conftest import World
from sizhi.open311.models import Open311Client
from sizhi.open311.tests.conftest import error_of, json_body, post_request, valid_post


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("open311", *args, stdout=out)
    return out.getvalue()


def test_create_client_prints_a_key_that_is_stored_only_as_a_hash(world: World, web: Client) -> None:
    output = run("create-client", "12345 热线系统")

    key = output.strip().splitlines()[-1]
    assert key.startswith("s311_") and len(key) > 40
    client = Open311Client.objects.get(name="12345 热线系统")
    assert client.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in repr(list(Open311Client.objects.values()))
    assert client.user.is_active is False
    assert not client.user.has_usable_password()
    assert json_body(post_request(web, **valid_post(world, key)))[0]["service_request_id"]


def test_list_clients_never_shows_the_key(db: None) -> None:
    key = run("create-client", "合作方 A").strip().splitlines()[-1]

    listing = run("list-clients")

    assert "合作方 A" in listing
    assert key[:12] in listing
    assert key not in listing


def test_revoked_client_is_refused(world: World, web: Client) -> None:
    key = run("create-client", "合作方 B").strip().splitlines()[-1]

    run("revoke-client", "合作方 B")

    assert Open311Client.objects.get(name="合作方 B").revoked_at is not None
    assert error_of(post_request(web, **valid_post(world, key)), 403)[0] == "api_key_invalid"


def test_duplicate_and_unknown_names_are_refused(db: None) -> None:
    run("create-client", "合作方 C")

    with pytest.raises(CommandError):
        run("create-client", "合作方 C")
    with pytest.raises(CommandError):
        run("revoke-client", "没有这个接入方")
