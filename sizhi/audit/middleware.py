"""Records every non-safe request and every denied one, after the response is produced.

The record names the route (resolver_match.view_name) and the object from the URL: integer ids
as they are; anything else in the URL (tracking codes, tokens, slugs) only as a short keyed hash,
so the log can link two requests for the same object without holding the code itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from sizhi.audit.models import Result
from sizhi.audit.services import audit, request_actor, source_suppressed

logger = logging.getLogger("sizhi.audit")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Health probes answer load balancers many times a minute and change nothing.
SKIP_PREFIXES = ("/healthz", "/readyz", "/livez", "/health/", "/favicon.ico")
DENIED_STATUSES = frozenset({401, 403, 404, 429})
_DONE_ATTR = "_sizhi_audit_done"
_REPEATED_429_ATTR = "_sizhi_audit_repeated_429"


def mark_recorded(request: HttpRequest) -> None:
    """A receiver already wrote the record that says what this request did (e.g. auth.login)."""
    setattr(request, _DONE_ATTR, True)


def mark_repeated_refusal(request: HttpRequest) -> None:
    """A 429 of a rate limit whose first refusal in the current window is already in the log
    (accounts.throttle.Refusal.repeated). A flood is recorded by its first refusal per window and
    subject, not by each of its thousands of requests, which would all queue on the chain's lock
    while other users' writes wait behind them."""
    setattr(request, _REPEATED_429_ATTR, True)


def result_for(status: int) -> str:
    if status < 400:
        return Result.OK
    if status in DENIED_STATUSES:
        return Result.DENIED
    return Result.FAILED


def opaque(value: str) -> str:
    """A short keyed hash: links equal values without revealing them (a plain SHA-256 of a
    short tracking code could be reversed by trying every code)."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"audit.url:{value}".encode(), hashlib.sha256).digest()
    # Base32 rather than hex: no long digit runs that the detail guard could take for a phone.
    return "h:" + base64.b32encode(digest).decode().lower()[:16]


# URL values shown as they are when they are plain words under one of these names (the action of
# cases:act, a verb); every other non-integer value is hashed.
PLAIN_KWARGS = frozenset({"action", "verb", "kind", "tab", "section", "fmt", "format"})
_WORD_RE = re.compile(r"^[a-z][a-z_-]{0,29}$")


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18
    )


def url_target(kwargs: dict[str, Any]) -> tuple[str, str, dict[str, str | int]]:
    """(target type, target id, other URL values) from the resolved URL's keyword arguments."""
    target_type = target_id = ""
    extra: dict[str, str | int] = {}
    for name, value in kwargs.items():
        key = name.lower()[:30]
        if _is_int(value) or (key in PLAIN_KWARGS and isinstance(value, str) and _WORD_RE.match(value)):
            shown: str = str(value)
        else:
            shown = opaque(str(value))
        if not target_type:
            target_type, target_id = key, shown
        else:
            extra[f"url_{key}"] = shown
    return target_type, target_id, extra


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.skip = tuple(p for p in (settings.STATIC_URL, settings.MEDIA_URL, *SKIP_PREFIXES) if p)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if self._wanted(request, response):
            try:
                self._record(request, response)
            except Exception:
                # The response is already decided (and any write committed); a lost record is
                # reported loudly, without request values, rather than turned into a 500. (With
                # the database down, the 503 of ops.middleware must still reach the client.)
                logger.exception("audit record for %s %s failed", request.method, _route(request) or "?")
        return response

    def _wanted(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        if request.path.startswith(self.skip):
            return False
        status = response.status_code
        if getattr(request, _DONE_ATTR, False) and status not in (403, 404):
            return False
        if status == 429 and getattr(request, _REPEATED_429_ATTR, False):
            return False
        if request.method not in SAFE_METHODS:
            return True
        if status in (401, 403):
            return True
        # A 404 to a signed-in user is a refused object (out of scope answers 404); the 404s of
        # anonymous scanners would only drown the log.
        return status == 404 and request_actor(request) is not None

    def _record(self, request: HttpRequest, response: HttpResponseBase) -> None:
        status = response.status_code
        detail: dict[str, str | int | bool | None] = {"route": _route(request), "status": status}
        target_type = target_id = ""
        match = getattr(request, "resolver_match", None)
        if source_suppressed(request):
            detail["source_suppressed"] = True
        elif match is not None:
            target_type, target_id, extra = url_target(match.kwargs)
            detail.update(extra)
        elif status == 404:
            detail["path"] = opaque(request.path)
        method = re.sub(r"[^a-z0-9_]", "_", (request.method or "unknown").lower())[:20]
        audit(
            f"http.{method}",
            request=request,
            target_type=target_type,
            target_id=target_id,
            result=result_for(status),
            detail=detail,
        )


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return str(match.view_name)[:120] if match is not None else ""
