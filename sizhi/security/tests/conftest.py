from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from sizhi.accounts.models import User
from sizhi.conftest import PASSWORD
from sizhi.security import services, totp
from sizhi.security.models import TOTPDevice


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    # Lockout counters live in the process-wide local-memory cache.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def totp_on(settings: object) -> None:
    settings.SIZHI_REQUIRE_TOTP = True  # type: ignore[attr-defined]


def enrol(user: User) -> str:
    """A confirmed device for `user`; returns its secret."""
    device = services.totp_enrolment_start(user=user)
    secret = services.device_secret(device)
    TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
    return secret


def password_login(client: Client, username: str, password: str = PASSWORD, **extra: str) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password, **extra})


def code_now(secret: str) -> str:
    return totp.current_code(secret)
