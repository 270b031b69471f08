"""The one way into the audit trail: `audit(...)` appends a hash-chained record.

Call it for sensitive READS (unmasking, opening a letter) and for writes that do not come
through HTTP; the middleware already records every non-safe request and every denied one.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from django.contrib.auth.models import AnonymousUser
from django.db import models
from django.http import HttpRequest

from sizhi.accounts.models import User
from sizhi.accounts.selectors import user_roles
from sizhi.audit import chain
from sizhi.audit.guard import clean_detail
from sizhi.audit.models import Result

ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_SUPPRESS_ATTR = "_sizhi_audit_suppress_source"


def suppress_source(request: HttpRequest) -> None:
    """For a view that takes an ANONYMOUS report or letter: the records of this request keep no
    source address and no actor (a signed-in citizen who chose anonymity must not be linked to
    the report by the time of a record), and the middleware's record keeps no object link."""
    setattr(request, _SUPPRESS_ATTR, True)


def source_suppressed(request: HttpRequest | None) -> bool:
    return bool(request is not None and getattr(request, _SUPPRESS_ATTR, False))


def source_address(request: HttpRequest | None) -> str | None:
    if request is None or source_suppressed(request):
        return None
    # REMOTE_ADDR only, as accounts.throttle does: X-Forwarded-For is whatever the client says.
    raw = str(request.META.get("REMOTE_ADDR") or "")
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def request_actor(request: HttpRequest | None) -> User | None:
    if request is None:
        return None
    for candidate in (getattr(request, "user", None), getattr(request, "auth", None)):
        # request.auth is where django-ninja leaves the user of an API token.
        if isinstance(candidate, User) and candidate.is_authenticated:
            return candidate
    return None


def audit(
    action: str,
    *,
    request: HttpRequest | None = None,
    actor: User | AnonymousUser | None = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    result: str = "ok",
    detail: Mapping[str, str | int | bool | None] | None = None,
) -> None:
    """Append one record: time, actor, action, object, result and source address.

    `detail` holds ids and codes only, never a phone, ID number, letter text, a whistle-blower's
    name or a tracking code; values that look like a phone or ID number are refused.
    """
    if not ACTION_RE.match(action):
        raise ValueError(f"audit action {action!r} must be dotted lower-case, e.g. 'privacy.unmask'")
    if result not in Result.values:
        raise ValueError(f"audit result {result!r} must be one of {Result.values}")
    if isinstance(actor, User) and actor.is_authenticated:
        who: User | None = actor
    else:
        who = None if source_suppressed(request) else request_actor(request)
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(target.pk)
    chain.append(
        actor=who,
        actor_pk=who.pk if who else None,
        actor_username=who.get_username() if who else "",
        actor_roles=",".join(sorted(user_roles(who))) if who else "",
        action=action,
        target_type=target_type[:80],
        target_id=str(target_id)[:64],
        result=result,
        source_address=source_address(request),
        detail=clean_detail(detail),
    )
