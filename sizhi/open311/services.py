"""Writes of the Open311 app. Cases are made and annotated only through cases.services; this
module adds the Open311 bookkeeping around those calls in the same transaction."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import User
from sizhi.cases.errors import CaseError
from sizhi.cases.models import Case, CaseEvent, Category
from sizhi.cases.services import DESCRIPTION_MIN, case_add_public_note, report_submit
from sizhi.cases.text import clean_text
from sizhi.cases.workflow import Channel
from sizhi.open311.models import Open311Client, Open311Request
from sizhi.open311.permissions import hash_api_key

KEY_PREFIX = "s311_"


class ClientError(Exception):
    """A refused client administration step (the command prints the message)."""


def new_api_key() -> str:
    # 256 random bits; the prefix lets secret scanners and operators recognise the key.
    return KEY_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def client_create(*, name: str) -> tuple[Open311Client, str]:
    """A new client with its own service account. The key is returned once, never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ClientError(_("接入方名称不能为空，也不能超过 100 个字。"))
    if Open311Client.objects.filter(name=name).exists():
        raise ClientError(_("已有名为“%(name)s”的接入方。") % {"name": name})
    user = User(username=f"open311-{secrets.token_hex(6)}", display_name=name[:50], is_active=False)
    # The service account never logs in: no password and inactive; it only signs events.
    user.set_unusable_password()
    user.save()
    key = new_api_key()
    client = Open311Client.objects.create(name=name, key_hash=hash_api_key(key), key_prefix=key[:12], user=user)
    return client, key


@transaction.atomic
def client_revoke(*, client: Open311Client) -> Open311Client:
    if client.is_active:
        client.is_active = False
        client.revoked_at = timezone.now()
        client.save(update_fields=["is_active", "revoked_at"])
    return client


def _description(category: Category, description: str) -> str:
    """Open311 makes the description optional while a case needs a few words: the service name
    stands in for a missing one and heads a very short one ("有坑")."""
    text = clean_text(description)
    if not text:
        return _("%(name)s（外部系统上报，未附文字描述）") % {"name": category.name}
    if len(text) < DESCRIPTION_MIN:
        return f"{category.name}：{text}"
    return text


def request_submit(
    *,
    client: Open311Client,
    category: Category,
    description: str,
    lat: str | None,
    lng: str | None,
    address_string: str,
    address_id: str,
    attributes: Mapping[str, object],
    media_url: str,
    account_id: str,
    token: str,
) -> Open311Request:
    """Create the case for a POST requests call and remember where it came from.

    A repeated POST with the same client token returns the first request instead of a second
    case; the token also reaches report_submit as its idempotency key, which settles two
    simultaneous repeats."""
    if token:
        existing = Open311Request.objects.select_related("case").filter(client=client, token=token).first()
        if existing is not None:
            return existing
    address = address_string or (_("地址编码：%(id)s") % {"id": address_id} if address_id else "")
    with transaction.atomic():
        case = report_submit(
            reporter=None,
            actor=client.user,
            description=_description(category, description),
            category=category,
            lat=lat,
            lng=lng,
            address=address,
            channel=Channel.OPEN311,
            idempotency_key=f"open311:{client.pk}:{token}" if token else None,
            attributes=attributes,
        )
        link, _created = Open311Request.objects.get_or_create(
            case=case,
            defaults={
                "client": client, "token": token, "address_id": address_id, "account_id": account_id,
                "media_url": media_url,
            },
        )
    return link


def update_submit(
    *, client: Open311Client, case: Case, description: str, update_id: str, media_url: str
) -> CaseEvent:
    """Record a client's update (mySociety's POST servicerequestupdates) as a public note.

    The status a client sends is not applied: only the city's staff move a case. A repeated
    update_id from the same client returns the note made the first time."""
    if update_id:
        existing = CaseEvent.objects.filter(
            case=case, data__open311_client=client.pk, data__open311_update_id=update_id
        ).first()
        if existing is not None:
            return existing
    if not description.strip():
        raise CaseError(_("更新内容不能为空。"), code="description_required", field="description")
    data: dict[str, object] = {"open311_client": client.pk, "open311_update_id": update_id}
    if media_url:
        data["media_url"] = media_url
    return case_add_public_note(case=case, actor=client.user, text=description, data=data)
