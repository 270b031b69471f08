"""Reads of the API app: who a bearer token belongs to, and a user's tokens."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from sizhi.accounts.models import User
from sizhi.api.models import ApiToken
from sizhi.api.services import TOKEN_PREFIX, api_token_touch, hash_secret

# The length services.api_token_create produces; anything else is not looked up at all.
TOKEN_LENGTH = len(TOKEN_PREFIX) + 43


def user_for_token(secret: str) -> User | None:
    """The active user a usable token belongs to, else None. Read on every request, so that a
    revoked or expired token, or a deactivated user, stops working at once."""
    if not isinstance(secret, str) or len(secret) != TOKEN_LENGTH or not secret.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(secret_hash=hash_secret(secret)).first()
    now = timezone.now()
    if token is None or not token.is_usable(now) or not token.user.is_active:
        return None
    api_token_touch(token, now)
    return token.user


def api_tokens_of_user(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")
