"""Receivers: every sign-in is named in UserSession (whatever view or test client made it), a
sign-out forgets its row, and a deactivated account loses its sessions and tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from sizhi.accounts.models import User
from sizhi.security import services


@receiver(user_logged_in, dispatch_uid="sizhi.security.session_record")
def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and isinstance(user, User):
        services.session_record(request=request, user=user)


@receiver(user_logged_out, dispatch_uid="sizhi.security.session_forget")
def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        services.session_forget(session.session_key)


@receiver(post_save, sender=User, dispatch_uid="sizhi.security.deactivated")
def _user_saved(sender: Any, instance: User, **kwargs: Any) -> None:
    services.end_sessions_if_deactivated(instance)
