"""StaffSessionMiddleware: the rules of a signed-in staff session, on every request.

1. A staff session ends after SIZHI_STAFF_IDLE_MINUTES without a request or
   SIZHI_STAFF_MAX_HOURS after sign-in; the next request lands on the login page saying why.
2. A staff session that has not shown its second factor (SIZHI_REQUIRE_TOTP) reaches only the
   TOTP step, the enrolment page and logout; every other URL sends it to the step it still
   owes (HTML pages by redirect, the API with 401).
3. An account on a one-time password reaches only the password-change page.

Activity is written at most once a minute (session data and its UserSession row), so a busy
session costs no extra write per request.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import User
from sizhi.security import services
from sizhi.security.selectors import is_staff_account

# Reachable while a factor or a password change is still owed.
_OPEN_NAMES = ("accounts:login", "accounts:logout", "security:totp", "security:enrol", "set_language")
_API_PREFIXES = ("/api/", "/open311/")


class StaffSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self._open_paths: frozenset[str] | None = None

    def _open(self) -> frozenset[str]:
        if self._open_paths is None:
            self._open_paths = frozenset(reverse(name) for name in _OPEN_NAMES)
        return self._open_paths

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        session = getattr(request, "session", None)
        # Anonymous visitors cost nothing here: no session read beyond what already happened.
        if session is None or SESSION_KEY not in session:
            return self.get_response(request)
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return self.get_response(request)
        ended = self._limits(request, user)
        if ended is not None:
            return ended
        owed = self._owed_step(request, user)
        if owed is not None:
            return owed
        return self.get_response(request)

    def _limits(self, request: HttpRequest, user: User) -> HttpResponseBase | None:
        session = request.session
        now = timezone.now()
        stamp = int(now.timestamp())
        if services.SESSION_LOGIN_AT not in session:
            # A session made before these rules (or by a test client): its clock starts now.
            session[services.SESSION_LOGIN_AT] = stamp
            session[services.SESSION_STAFF] = is_staff_account(user)
            services.session_touch(request=request, user=user, now=now)
        if session.get(services.SESSION_STAFF):
            started = int(session.get(services.SESSION_LOGIN_AT, stamp))
            seen = int(session.get(services.SESSION_SEEN_AT, started))
            reason = ""
            if stamp - started > settings.SIZHI_STAFF_MAX_HOURS * 3600:
                reason = "max"
            elif stamp - seen > settings.SIZHI_STAFF_IDLE_MINUTES * 60:
                reason = "idle"
            if reason:
                logout(request)
                return self._to_login(request, reason)
        if stamp - int(session.get(services.SESSION_SEEN_AT, 0)) >= services.TOUCH_INTERVAL:
            services.session_touch(request=request, user=user, now=now)
        return None

    def _owed_step(self, request: HttpRequest, user: User) -> HttpResponseBase | None:
        session = request.session
        if request.path in self._open():
            return None
        factor_owed = self._needs_factor(request, user)
        if (
            session.get(services.SESSION_MUST_CHANGE_PASSWORD)
            and request.path != reverse("accounts:password")
            and not factor_owed
        ):
            return self._redirect(request, reverse("accounts:password"))
        if factor_owed:
            return self._redirect(request, reverse("security:totp"))
        return None

    @staticmethod
    def _needs_factor(request: HttpRequest, user: User) -> bool:
        session = request.session
        if session.get(services.SESSION_MFA_AT):
            return False
        if session.get(services.SESSION_MFA_PENDING):
            return True
        return bool(settings.SIZHI_REQUIRE_TOTP) and is_staff_account(user)

    @staticmethod
    def _redirect(request: HttpRequest, target: str) -> HttpResponseBase:
        if request.path.startswith(_API_PREFIXES):
            return JsonResponse(
                {"error": {"code": "second_factor_required", "message": _("请先在网页上完成登录验证。")}},
                status=401,
            )
        return HttpResponseRedirect(target)

    @staticmethod
    def _to_login(request: HttpRequest, reason: str) -> HttpResponse:
        if request.path.startswith(_API_PREFIXES):
            return JsonResponse(
                {"error": {"code": "session_expired", "message": _("登录已过期，请重新登录。")}}, status=401
            )
        query = {"expired": reason}
        if request.method == "GET":
            query["next"] = request.get_full_path()
        return HttpResponseRedirect(f"{reverse('accounts:login')}?{urlencode(query)}")
