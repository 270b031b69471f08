"""The second step of a staff sign-in: the TOTP code, or the forced enrolment of a first device.

Both pages need a session that passed the password step (StaffSessionMiddleware sends every
other page here until it has passed this one too). Guesses are throttled like passwords.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from sizhi.accounts.models import User
from sizhi.accounts.throttle import client_address
from sizhi.security import lockout, services, totp
from sizhi.security.demo import is_demo_secret
from sizhi.security.forms import CodeForm, EnrolForm
from sizhi.security.models import TOTPDevice
from sizhi.security.selectors import is_staff_account

T = TypeVar("T")


def after_sign_in_url(request: HttpRequest, user: User) -> str:
    from sizhi.accounts.views import home_for, safe_next

    return safe_next(request) or home_for(user)


def refusal_message(refusal: lockout.Refusal) -> str:
    when = timezone.localtime(datetime.fromtimestamp(refusal.retry_at, tz=timezone.get_current_timezone()))
    return _("尝试次数过多，已暂停验证。请在 %(time)s 之后（约 %(n)d 秒后）再试。") % {
        "time": when.strftime("%H:%M:%S"), "n": refusal.retry_in(),
    }


def _verify_posted_code(
    request: HttpRequest, user: User, form: forms.Form, verify: Callable[[str], T]
) -> tuple[T | None, int]:
    """Checks a posted code behind the lockout (TOTP_SCOPE, per account and address):
    (what `verify` returned, 200) once it passes, the lockout cleared and the session marked as
    past the second factor; otherwise (None, status) with the reason on the form: 400 for an
    invalid or wrong code, 429 while guesses are paused."""
    if not form.is_valid():
        return None, 400
    attempt = lockout.begin(services.TOTP_SCOPE, account=str(user.pk), address=client_address(request))
    if isinstance(attempt, lockout.Refusal):
        form.add_error(None, refusal_message(attempt))
        return None, 429
    try:
        result = verify(form.cleaned_data["code"])
    except services.SecurityError as err:
        form.add_error("code", err.message)
        return None, 400
    lockout.succeeded(attempt)
    services.session_mark_verified(request=request)
    return result, 200


def _demo_code(secret: str) -> str:
    """The current code of a demo secret, for the hint on the page; never outside DEBUG."""
    if settings.DEBUG and settings.SIZHI_DEMO_HINTS:
        return totp.current_code(secret)
    return ""


def _signed_in(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def _not_for_citizens(request: HttpRequest, user: User) -> HttpResponseBase | None:
    # The second factor is a staff rule; a citizen who finds these URLs is simply sent on.
    if is_staff_account(user) or TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return None
    return redirect(after_sign_in_url(request, user))


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def totp_step(request: HttpRequest) -> HttpResponseBase:
    user = _signed_in(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    if request.session.get(services.SESSION_MFA_AT):
        return redirect(after_sign_in_url(request, user))
    if (elsewhere := _not_for_citizens(request, user)) is not None:
        return elsewhere
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        return redirect(_with_next("security:enrol", request))
    status = 200
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        method, status = _verify_posted_code(
            request, user, form, lambda code: services.second_factor_verify(user=user, code=code, request=request)
        )
        if method is not None:
            if method == "recovery":
                left = services.recovery_codes_left(user)
                messages.warning(request, _(
                    "您使用了一个恢复码，还剩 %(n)d 个。恢复码用完前请联系系统管理员重置动态口令。"
                ) % {"n": left})
            return redirect(after_sign_in_url(request, user))
    secret = services.device_secret(device)
    hint = _demo_code(secret) if is_demo_secret(secret) else ""
    return render(
        request, "security/totp_step.html",
        {"form": form, "demo_code": hint, "next": _next_value(request)}, status=status,
    )


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def enrol(request: HttpRequest) -> HttpResponseBase:
    user = _signed_in(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return redirect(_with_next("security:totp", request))
    if (elsewhere := _not_for_citizens(request, user)) is not None:
        return elsewhere
    device = services.totp_enrolment_start(user=user)
    secret = services.device_secret(device)
    status = 200
    form = EnrolForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        codes, status = _verify_posted_code(
            request, user, form, lambda code: services.totp_enrolment_confirm(user=user, code=code, request=request)
        )
        if codes is not None:
            # Shown in this answer only: the codes are stored as hashes.
            return render(
                request, "security/recovery_codes.html",
                {"codes": codes, "continue_url": after_sign_in_url(request, user)},
            )
    uri = totp.provisioning_uri(secret, user.get_username())
    return render(
        request, "security/enrol.html",
        {
            "form": form, "qr_svg": totp.qr_svg(uri), "secret_grouped": totp.grouped(secret),
            "demo_code": _demo_code(secret), "next": _next_value(request),
        },
        status=status,
    )


def _next_value(request: HttpRequest) -> str:
    from sizhi.accounts.views import safe_next

    return safe_next(request)


def _with_next(name: str, request: HttpRequest) -> str:
    from django.urls import reverse
    from django.utils.http import urlencode

    target = reverse(name)
    nxt = _next_value(request)
    return f"{target}?{urlencode({'next': nxt})}" if nxt else target


