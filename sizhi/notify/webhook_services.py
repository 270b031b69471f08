"""Writers of webhook endpoints. The signing secret is generated here and returned once, at
creation or rotation; it is never shown again (the receiver keeps its copy)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.translation import gettext as _

from sizhi.cases.text import clean_text
from sizhi.cases.workflow import CaseAction
from sizhi.notify.models import WebhookEndpoint
from sizhi.regions.models import Region

NAME_MAX = 100
URL_MAX = 300
_URL = URLValidator(schemes=["http", "https"])


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _checked(*, name: str, url: str, actions: Iterable[str]) -> tuple[str, str, list[str]]:
    errors: dict[str, str] = {}
    clean_name = clean_text(name)
    if not clean_name:
        errors["name"] = _("请填写名称。")
    elif len(clean_name) > NAME_MAX:
        errors["name"] = _("名称不能超过 %(n)d 个字。") % {"n": NAME_MAX}
    clean_url = (url or "").strip()
    try:
        if len(clean_url) > URL_MAX:
            raise ValidationError("too long")
        _URL(clean_url)
        parts = urlsplit(clean_url)
    except (ValidationError, ValueError):
        errors["url"] = _("请填写以 http:// 或 https:// 开头、不超过 %(n)d 个字符的有效地址。") % {"n": URL_MAX}
    else:
        # Credentials in the URL would be stored and displayed in plain text; the secret signs instead.
        if parts.username or parts.password:
            errors["url"] = _("地址中不能包含用户名或密码。")
    chosen = list(dict.fromkeys(actions))
    unknown = [a for a in chosen if a not in CaseAction.values]
    if unknown:
        errors["actions"] = _("订阅的操作无效。")
    if errors:
        raise ValidationError(errors)
    return clean_name, clean_url, [a for a in CaseAction.values if a in chosen]


@transaction.atomic
def webhook_endpoint_create(
    *, name: str, url: str, actions: Iterable[str] = (), scope: Region | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its secret, which the caller shows once."""
    clean_name, clean_url, clean_actions = _checked(name=name, url=url, actions=actions)
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        name=clean_name, url=clean_url, actions=clean_actions, scope=scope, secret=secret, is_active=True
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, name: str, url: str, actions: Iterable[str] = (), scope: Region | None = None
) -> WebhookEndpoint:
    clean_name, clean_url, clean_actions = _checked(name=name, url=url, actions=actions)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        name=clean_name, url=clean_url, actions=clean_actions, scope=scope
    )
    endpoint.refresh_from_db()
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A fresh secret; deliveries signed from now on use it."""
    secret = new_secret()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
    endpoint.secret = secret
    return secret


@transaction.atomic
def webhook_endpoint_deactivate(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Stop deliveries to it: nothing new is queued, and what is still queued is dropped unsent
    (notify.tasks checks the flag when it sends)."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    endpoint.is_active = False
    return endpoint


@transaction.atomic
def webhook_endpoint_activate(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=True)
    endpoint.is_active = True
    return endpoint
