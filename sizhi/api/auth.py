"""Who is calling: a personal token (`Authorization: Bearer <token>`) or the Django session of
the web pages. Either way the API acts as that user, through the same selectors and
permissions as the pages; nothing here grants anything by itself."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from sizhi.accounts.models import User
from sizhi.api.errors import ApiError
from sizhi.api.selectors import user_for_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class BearerToken(HttpBearer):
    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get("Authorization")
        if not header:
            return None
        scheme, _sep, secret = header.partition(" ")
        # A request that names a credential gets an answer about that credential: a bad token
        # is a 401, never a silent fall-back to a session cookie sent alongside it.
        if scheme.lower() != "bearer":
            raise AuthenticationError()
        return self.authenticate(request, secret.strip())

    def authenticate(self, request: HttpRequest, token: str) -> User:
        user = user_for_token(token)
        if user is None:
            raise AuthenticationError()
        return user


class SessionCookie(APIKeyCookie):
    """The web pages' session. Unsafe methods need the CSRF token, as on every page; the check
    runs only for a signed-in session, so that an anonymous report needs no cookie at all."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=False)

    def _get_key(self, request: HttpRequest) -> str | None:
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = getattr(request, "user", None)
        if not isinstance(user, User) or not user.is_authenticated or not user.is_active:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise ApiError(403, "csrf_failed", _("CSRF 校验失败，请刷新页面后重试。"))
        return user


class _Anonymous:
    """Stands for "nobody signed in" on the few operations that allow it (ninja needs a truthy
    result from one of the auth callbacks)."""

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "<anonymous>"


ANONYMOUS = _Anonymous()


def anonymous(request: HttpRequest) -> _Anonymous:
    return ANONYMOUS


bearer_token = BearerToken()
session_cookie = SessionCookie()
SIGNED_IN = [bearer_token, session_cookie]
SIGNED_IN_OR_ANONYMOUS = [bearer_token, session_cookie, anonymous]
# OpenAPI: either credential, or none at all.
OPTIONAL_AUTH_OPENAPI: dict[str, Any] = {"security": [{"BearerToken": []}, {"SessionCookie": []}, {}]}


def request_user(request: HttpRequest) -> User | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, User) else None


def require_user(request: HttpRequest) -> User:
    user = request_user(request)
    if user is None:
        raise AuthenticationError()
    return user
