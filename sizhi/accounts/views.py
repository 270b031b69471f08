"""Sign in, sign out and citizen sign-up.

One login form for everyone: citizens type their mobile number, staff their username. Unknown
account and wrong password get the same answer, and failures are counted per client address
and per account so that neither can be guessed at speed.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
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

# Failed logins: an address may fail 30 times and an account 10 times in 15 minutes.
LOGIN_PER_ADDRESS = throttle.Limit("login-address", 30, 15 * 60)
LOGIN_PER_ACCOUNT = throttle.Limit("login-account", 10, 15 * 60)
# SMS requests per address, on top of the per-phone limits in services: stops one client from
# spraying codes at many numbers.
SMS_PER_ADDRESS = throttle.Limit("sms-address", 20, 60 * 60)

BACKEND = "sizhi.accounts.backends.PhoneOrUsernameBackend"


def console_url() -> str:
    # The console is another app; until its URLs are mounted its path is still right.
    try:
        return reverse("cases:queue")
    except NoReverseMatch:
        return "/console/"


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def _home_for(user: User) -> str:
    if is_staff_member(user):
        return console_url()
    # The system administrator works in the configuration pages, never in case lists.
    return reverse("settingsui:index") if has_role(user, Role.SYSTEM_ADMIN) else reverse("web:home")


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request)
    status = 200
    if request.method == "POST":
        form = LoginForm(request.POST)
        if form.is_valid():
            address = throttle.client_address(request)
            account = form.identifier()
            if throttle.exceeded(LOGIN_PER_ADDRESS, address) or throttle.exceeded(LOGIN_PER_ACCOUNT, account):
                form.add_error(None, _("登录失败次数过多，请 15 分钟后再试。"))
                status = 429
            else:
                user = authenticate(
                    request, username=form.cleaned_data["username"], password=form.cleaned_data["password"]
                )
                if isinstance(user, User):
                    login(request, user, backend=BACKEND)
                    throttle.reset(LOGIN_PER_ACCOUNT, account)
                    return redirect(next_url or _home_for(user))
                throttle.hit(LOGIN_PER_ADDRESS, address)
                throttle.hit(LOGIN_PER_ACCOUNT, account)
                # One message whether the account exists or not.
                form.add_error(None, _("手机号/用户名或密码不正确。"))
                status = 400
        else:
            status = 400
    else:
        form = LoginForm()
    return render(request, "accounts/login.html", {"form": form, "next": next_url}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponseBase:
    logout(request)
    messages.success(request, _("您已退出登录。"))
    return redirect("web:home")


@sensitive_post_parameters("password", "password2", "code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def signup_view(request: HttpRequest) -> HttpResponse:
    """One page, two buttons: "获取验证码" (action=send_code) validates the phone and sends a
    code; "注册" (action=signup) creates the account and signs it in."""
    status = 200
    code_sent = False
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
        elif not throttle.hit(SMS_PER_ADDRESS, throttle.client_address(request)):
            form.add_error(None, _("获取验证码过于频繁，请稍后再试。"))
            status = 429
        else:
            phone = form.cleaned_data["phone"]
            try:
                services.verification_code_send(phone=phone, purpose=VerificationCode.Purpose.SIGNUP)
            except AccountError as err:
                form.add_error("phone", str(err.message))
                status = err.http_status
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
    return render(request, "accounts/signup.html", {"form": form, "code_sent": code_sent}, status=status)
