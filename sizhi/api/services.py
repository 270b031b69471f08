"""Writes of the API app: personal tokens and the idempotency store."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import User
from sizhi.api.models import ApiToken, IdempotencyRecord
from sizhi.cases.text import clean_text

TOKEN_PREFIX = "sz_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for, not a secret
# Shown in lists so a person can tell tokens apart; the rest of the 256-bit secret stays unknown.
DISPLAY_PREFIX_LENGTH = 10
NAME_MAX = 60
MAX_ACTIVE_TOKENS = 20
IDEMPOTENCY_TTL = timedelta(hours=24)


class TokenError(Exception):
    def __init__(self, message: str, *, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns it with the secret, which is never available again."""
    text = clean_text(name)
    if not text:
        raise TokenError(_("请为令牌起一个名称，例如用途或设备。"), code="token_name_required", field="name")
    if len(text) > NAME_MAX:
        raise TokenError(_("名称不能超过 %(n)d 个字。") % {"n": NAME_MAX}, code="token_name_too_long", field="name")
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise TokenError(_("过期时间必须晚于现在。"), code="token_expiry_past", field="expires_at")
    # Locks the user's row so that two parallel requests cannot both pass the limit check.
    User.objects.select_for_update().filter(pk=user.pk).first()
    if _active_tokens(user, now).count() >= MAX_ACTIVE_TOKENS:
        raise TokenError(
            _("有效令牌最多 %(n)d 个，请先撤销不用的令牌。") % {"n": MAX_ACTIVE_TOKENS}, code="token_limit_reached"
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=text, prefix=secret[:DISPLAY_PREFIX_LENGTH], secret_hash=hash_secret(secret),
        created_at=now, expires_at=expires_at,
    )
    return token, secret


def _active_tokens(user: User, now: datetime) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def api_token_revoke(*, token: ApiToken, actor: User) -> bool:
    """Revoke one of the actor's own tokens; returns False when it was already revoked."""
    if token.user_id != actor.pk:
        raise TokenError(_("只能撤销自己的令牌。"), code="token_not_yours")
    now = timezone.now()
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    if updated:
        token.revoked_at = now
    return bool(updated)


def api_tokens_revoke_all(*, user: User) -> int:
    """End every token of a user: for logout-everywhere, password change and deactivation."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_token_touch(token: ApiToken, now: datetime) -> None:
    """Record use at most once a minute, so that a busy client does not write on every request."""
    stale = now - timedelta(minutes=1)
    if token.last_used_at is not None and token.last_used_at >= stale:
        return  # the row just read says so: no statement at all
    ApiToken.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=token.pk).update(
        last_used_at=now
    )


def idempotency_purge(*, older_than: timedelta = IDEMPOTENCY_TTL) -> int:
    deleted, _counts = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
