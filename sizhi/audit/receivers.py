"""Sign-in, failed sign-in and sign-out, from Django's auth signals."""

from __future__ import annotations

import base64
from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from sizhi.accounts.models import User
from sizhi.accounts.phones import normalise_phone
from sizhi.audit.middleware import mark_recorded
from sizhi.audit.models import Result
from sizhi.audit.services import audit


def login_index(identifier: str) -> str:
    """What a failed sign-in keeps of the name that was typed: a keyed hash, so repeated attempts
    on one account can be told apart from a spray over many, while the typed value (often a phone
    number) never enters the log."""
    from sizhi.privacy.crypto import blind_index

    value = identifier.strip()
    value = normalise_phone(value) or value.lower()  # as accounts.forms.LoginForm.identifier
    digest = bytes.fromhex(blind_index(value, purpose="audit.login"))
    # Base32: no digit runs the detail guard could mistake for a phone or ID number.
    return base64.b32encode(digest).decode().lower()[:16]


@receiver(user_logged_in, dispatch_uid="sizhi.audit.login")
def on_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    audit("auth.login", request=request, actor=user, target=user)
    if request is not None:
        mark_recorded(request)


@receiver(user_login_failed, dispatch_uid="sizhi.audit.login_failed")
def on_login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None,
                    **kwargs: Any) -> None:
    typed = credentials.get("username")
    detail = {"login": login_index(typed)} if isinstance(typed, str) and typed.strip() else None
    audit("auth.login_failed", request=request, result=Result.FAILED, detail=detail)
    if request is not None:
        mark_recorded(request)


@receiver(user_logged_out, dispatch_uid="sizhi.audit.logout")
def on_logout(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    audit("auth.logout", request=request, actor=user, target=user)
    if request is not None:
        mark_recorded(request)
