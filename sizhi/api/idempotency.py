"""`Idempotency-Key` on every POST of the JSON API.

A client on a flaky mobile link sends the same POST again when it did not see the answer. With
the same key and the same request it gets the first answer back (`Idempotent-Replayed: true`)
and nothing happens twice; with the same key and a different request it gets 422
`idempotency_key_reused`.

The record is written in the same database transaction as the work it describes, so after a
crash either both exist or neither does, and a retry simply runs the work again. When two copies
run at once, the one that commits second fails on the record's unique index (PostgreSQL) or
waits for the write lock (SQLite), rolls its work back and replays the first one's answer. Only
successful answers are stored: a refused or failed request leaves no record and may be retried
with the same key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any

from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Header

from sizhi.accounts.models import User
from sizhi.api.auth import request_user
from sizhi.api.errors import ApiError
from sizhi.api.models import IdempotencyRecord
from sizhi.api.responses import CONTENT_TYPE

# Long enough to be unguessable (a UUID is 36), because anonymous senders share one key space.
KEY_PATTERN = r"^[A-Za-z0-9_.:-]{16,64}$"
_KEY = re.compile(KEY_PATTERN)
REPLAY_HEADER = "Idempotent-Replayed"

IdempotencyKey = Annotated[
    str | None,
    Header(
        None, alias="Idempotency-Key", pattern=KEY_PATTERN,
        description="16–64 个字符（建议 UUID）。同一标识重复提交同一请求时返回首次的结果，不会重复执行。",
    ),
]

View = Callable[..., HttpResponse]


def request_fingerprint(request: HttpRequest) -> str:
    """A hash of what the request asks for: fields and file contents for forms (the multipart
    boundary differs on every send), the canonical JSON for JSON bodies."""
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        # JSON-encoded with a separator, so that ("ab", "c") and ("a", "bc") differ.
        digest.update(json.dumps(parts, ensure_ascii=True, default=str).encode() + b"\n")

    add(request.method, request.path, sorted(request.GET.lists()))
    content_type = request.content_type or ""
    if content_type in {"multipart/form-data", "application/x-www-form-urlencoded"}:
        add("form", sorted(request.POST.lists()))
        for name in sorted(request.FILES):
            for upload in request.FILES.getlist(name):
                file_digest = hashlib.sha256()
                for chunk in upload.chunks():
                    file_digest.update(chunk)
                upload.seek(0)
                add("file", name, upload.size, file_digest.hexdigest())
    else:
        body = request.body
        try:
            add("json", json.dumps(json.loads(body), sort_keys=True, ensure_ascii=True))
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            add("raw", hashlib.sha256(body).hexdigest())
    return digest.hexdigest()


def service_key(user: User | None, key: str) -> str:
    """The key handed to a service that keeps its own idempotency (report_submit): scoped to the
    sender, so that two users who happen to pick the same key never meet."""
    owner = f"user:{user.pk}" if user is not None else "anonymous"
    return hashlib.sha256(f"api:{owner}:{key}".encode()).hexdigest()


def _asks_anonymity(request: HttpRequest) -> bool:
    if request.content_type not in {"multipart/form-data", "application/x-www-form-urlencoded"}:
        return False
    return request.POST.get("is_anonymous", "").strip().lower() in {"1", "true", "on", "yes", "t", "y"}


def _stored(user: User | None, key: str) -> IdempotencyRecord | None:
    qs = IdempotencyRecord.objects.filter(key=key)
    qs = qs.filter(user=user) if user is not None else qs.filter(user__isnull=True)
    return qs.first()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(record.response_body, status=record.response_status, content_type=CONTENT_TYPE)
    response[REPLAY_HEADER] = "true"
    return response


def _same_request(stored: IdempotencyRecord, method: str, path: str, fingerprint: str) -> bool:
    return (stored.method, stored.path, stored.fingerprint) == (method, path, fingerprint)


def _answer(stored: IdempotencyRecord, method: str, path: str, fingerprint: str) -> HttpResponse:
    if not _same_request(stored, method, path, fingerprint):
        raise ApiError(
            422, "idempotency_key_reused",
            _("该 Idempotency-Key 已用于另一个请求，请为新的请求使用新的标识。"),
        )
    return _replay(stored)


def idempotent(view: View) -> View:
    """Wrap a POST operation whose signature has `idempotency_key: IdempotencyKey` and which
    returns an HttpResponse (see responses.respond).

    A first request costs one SELECT and, on success, one INSERT of the answer, in the work's own
    transaction. Two copies sent at once both run; the second one's INSERT waits on the first
    one's unique index entry, fails when it commits, and its whole transaction rolls back, so it
    answers with the first one's stored answer instead. A copy that failed because its twin had
    already done the work (a case that moved on, say) is answered the same way."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = kwargs.get("idempotency_key")
        if key is None:
            return view(request, *args, **kwargs)
        if not _KEY.fullmatch(key):  # ninja checks the pattern too; this keeps the wrapper safe alone
            fields = {"Idempotency-Key": _("格式不正确。")}
            raise ApiError(400, "validation_error", _("请检查填写的内容。"), fields=fields)
        # An anonymous report must not be linked to the account that sent it, not even here.
        user = None if _asks_anonymity(request) else request_user(request)
        fingerprint = request_fingerprint(request)
        method, path = request.method or "POST", request.path[:300]
        stored = _stored(user, key)
        if stored is not None:
            return _answer(stored, method, path, fingerprint)
        try:
            with transaction.atomic():
                response = view(request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    IdempotencyRecord.objects.create(
                        user=user, key=key, method=method, path=path, fingerprint=fingerprint,
                        response_status=response.status_code, response_body=response.content.decode("utf-8"),
                    )
                else:
                    transaction.set_rollback(True)
        except Exception as error:
            if not _may_be_a_twins_doing(error):
                raise
            twin = _twin(user, key)
            if twin is None:
                raise
            if isinstance(error, IntegrityError) or _same_request(twin, method, path, fingerprint):
                return _answer(twin, method, path, fingerprint)
            raise
        if not 200 <= response.status_code < 300:
            twin = _twin(user, key)
            if twin is not None and _same_request(twin, method, path, fingerprint):
                return _replay(twin)
        return response

    return wrapper


def _may_be_a_twins_doing(error: Exception) -> bool:
    """Only a clash with a copy can be answered by the copy: a unique index hit or a conflict
    (409: the case moved on). A refusal (rate limit, validation, permission) is this request's
    own, and a flood of refusals must not cost a read each."""
    if isinstance(error, IntegrityError):
        return True
    return 409 in (getattr(error, "status", None), getattr(error, "http_status", None))


def _twin(user: User | None, key: str) -> IdempotencyRecord | None:
    """The answer a copy of this request committed meanwhile, if any. Only asked after a failure;
    a failure to ask (the database went away) leaves the original error to be reported."""
    try:
        return _stored(user, key)
    except DatabaseError:
        return None
