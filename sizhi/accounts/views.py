"""Sign in, sign out, password change and citizen sign-up.

One login form for everyone: citizens type their mobile number, staff their username. Unknown
account and wrong password get the same answer (and the password hasher runs for both), and
guessing is slowed down per account and per client address by sizhi.security.lockout. Staff then
show their second factor (sizhi.security: TOTP step or forced enrolment). Logout and a password
change end every session and API token of the user, not only this browser's.
"""

from __future__ import annotations

import math

from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from sizhi.accounts import services, throttle
from sizhi.accounts.errors import AccountError
from sizhi.accounts.forms import LoginForm, SignupForm
from sizhi.accounts.models import Role, User, VerificationCode
from sizhi.accounts.phones import mask_phone
from sizhi.accounts.selectors import has_role, is_staff_member
from sizhi.security import lockout
from sizhi.security import services as security
from sizhi.security.forms import PasswordChangeForm
from sizhi.security.models import TOTPDevice
from sizhi.security.selectors import is_staff_account
from sizhi.security.views_auth import refusal_message

# SMS requests per address, on top of the per-phone limits in services: stops one client from
# spraying codes at many numbers.
SMS_PER_ADDRESS = throttle.Limit("sms-address", 20, 60 * 60)

BACKEND = "sizhi.accounts.backends.PhoneOrUsernameBackend"

EXPIRED_MESSAGES = {
    "idle": _("由于 %(n)d 分钟没有操作，您已自动退出登录，请重新登录。"),
    "max": _("工作人员单次登录最长 %(n)d 小时，已到时限，请重新登录。"),
}


def console_url() -> str:
    # The console is another app; until its URLs are mounted its path is still right.
    try:
        return reverse("cases:queue")
    except NoReverseMatch:
        return "/console/"


def safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def home_for(user: User) -> str:
    if is_staff_member(user):
        return console_url()
    # Administrators land on their own pages, never in case lists.
    if has_role(user, Role.SYSTEM_ADMIN):
        return reverse("sysadmin:accounts")
    if has_role(user, Role.SECURITY_ADMIN):
        return reverse("secadmin:memberships")
    if has_role(user, Role.AUDIT_ADMIN):
        try:
            return reverse("audit:log")
        except NoReverseMatch:
            pass
    return reverse("web:home")


def _expired_notice(request: HttpRequest) -> str:
    from django.conf import settings

    reason = request.GET.get("expired", "")
    if reason == "idle":
        return str(EXPIRED_MESSAGES["idle"]) % {"n": settings.SIZHI_STAFF_IDLE_MINUTES}
    if reason == "max":
        return str(EXPIRED_MESSAGES["max"]) % {"n": settings.SIZHI_STAFF_MAX_HOURS}
    return ""


def _second_step(request: HttpRequest, user: User, next_url: str) -> str | None:
    """Where a staff sign-in continues after the password, or None when it is complete."""
    from django.conf import settings

    if not is_staff_account(user):
        return None
    enrolled = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    if not settings.SIZHI_REQUIRE_TOTP and not enrolled:
        return None
    request.session[security.SESSION_MFA_PENDING] = True
    target = reverse("security:totp" if enrolled else "security:enrol")
    return f"{target}?{urlencode({'next': next_url})}" if next_url else target


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request)
    status = 200
    if request.method == "POST":
        form = LoginForm(request.POST)
        if form.is_valid():
            attempt = lockout.begin(
                security.LOGIN_SCOPE, account=form.identifier(), address=throttle.client_address(request)
            )
            if isinstance(attempt, lockout.Refusal):
                # Refused before the password is looked at: the answer says nothing about it.
                form.add_error(None, refusal_message(attempt))
                status = 429
            else:
                user = authenticate(
                    request, username=form.cleaned_data["username"], password=form.cleaned_data["password"]
                )
                if isinstance(user, User):
                    lockout.succeeded(attempt)
                    login(request, user, backend=BACKEND)
                    if security.password_change_required(user):
                        request.session[security.SESSION_MUST_CHANGE_PASSWORD] = True
                    step = _second_step(request, user, next_url)
                    if step is not None:
                        return redirect(step)
                    if request.session.get(security.SESSION_MUST_CHANGE_PASSWORD):
                        return redirect("accounts:password")
                    return redirect(next_url or home_for(user))
                # One message whether the account exists or not.
                form.add_error(None, _("手机号/用户名或密码不正确。"))
                status = 400
        else:
            status = 400
    else:
        form = LoginForm()
    return render(
        request, "accounts/login.html",
        {"form": form, "next": next_url, "expired_notice": _expired_notice(request)}, status=status,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponseBase:
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        # Every browser and every API token of this account, not only this one.
        security.end_all_sessions(user, reason="logout", request=request)
    logout(request)
    messages.success(request, _("您已退出登录。"))
    return redirect("web:home")


@sensitive_post_parameters("old_password", "new_password", "new_password2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def password_change_view(request: HttpRequest) -> HttpResponseBase:
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    status = 200
    form = PasswordChangeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            verified = request.session.get(security.SESSION_MFA_AT)
            try:
                security.password_change(
                    user=user, old_password=form.cleaned_data["old_password"],
                    new_password=form.cleaned_data["new_password"], request=request,
                )
            except security.SecurityError as err:
                field = err.field if err.field in form.fields else None
                form.add_error(field, err.message)
                status = 429 if err.code == "too_many_attempts" else 400
            else:
                # Every other session is gone; this browser starts a fresh one, keeping the
                # second factor it showed a moment ago.
                login(request, user, backend=BACKEND)
                if verified:
                    request.session[security.SESSION_MFA_AT] = int(timezone.now().timestamp())
                messages.success(request, _("密码已修改，其他设备上的登录和接口令牌已全部失效。"))
                return redirect(home_for(user))
        else:
            status = 400
    forced = bool(request.session.get(security.SESSION_MUST_CHANGE_PASSWORD))
    return render(request, "accounts/password_change.html", {"form": form, "forced": forced}, status=status)


@sensitive_post_parameters("password", "password2", "code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def signup_view(request: HttpRequest) -> HttpResponse:
    """One page, two buttons: "获取验证码" (action=send_code) validates the phone and sends a
    code; "注册" (action=signup) creates the account and signs it in."""
    status = 200
    code_sent = False
    retry_after: int | None = None
    if request.method != "POST":
        form = SignupForm()
    elif request.POST.get("action") == "send_code":
        # Only the phone (and the name, to keep it) is checked now; the code and passwords
        # come after the SMS, so their "required" errors are dropped.
        form = SignupForm(
            {"phone": request.POST.get("phone", ""), "display_name": request.POST.get("display_name", "")}
        )
        form.is_valid()
        for name in ("code", "password", "password2"):
            form.errors.pop(name, None)
        if form.errors:
            status = 400
        elif not throttle.hit(SMS_PER_ADDRESS, address := throttle.client_address(request)):
            retry_after = SMS_PER_ADDRESS.retry_after(address)
            form.add_error(None, _("获取验证码过于频繁，请 %(n)d 分钟后再试。") % {"n": math.ceil(retry_after / 60)})
            status = 429
        else:
            phone = form.cleaned_data["phone"]
            try:
                services.verification_code_send(phone=phone, purpose=VerificationCode.Purpose.SIGNUP)
            except AccountError as err:
                form.add_error("phone", str(err.message))
                status = err.http_status
                retry_after = err.retry_after
            else:
                code_sent = True
                messages.info(
                    request,
                    _("验证码已发送至 %(phone)s，10 分钟内有效。") % {"phone": mask_phone(phone)},
                )
    else:
        form = SignupForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = services.citizen_signup(
                    phone=data["phone"], code=data["code"], password=data["password"],
                    display_name=data["display_name"],
                )
            except AccountError as err:
                field = err.field if err.field in form.fields else None
                form.add_error(field, str(err.message))
                status = err.http_status
            else:
                login(request, user, backend=BACKEND)
                messages.success(request, _("注册成功，欢迎使用。"))
                return redirect("web:home")
        else:
            status = 400
    response = render(request, "accounts/signup.html", {"form": form, "code_sent": code_sent}, status=status)
    if status == 429 and retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response
