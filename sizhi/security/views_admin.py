"""The system admin's account pages (/console/system/) and the security admin's role and policy
pages (/console/security/).

Every page answers 404 to anyone without its role; every change goes through one service in
security.services (which audits it), and a refused change comes back as the page with its
message and status 400. One-time passwords are shown in the answer to the POST that made them
and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sizhi.accounts.models import ADMIN_ROLES, Membership, Role, User
from sizhi.privacy.masking import mask_phone
from sizhi.security import permissions, selectors, services
from sizhi.security.forms import AccountCreateForm, AccountFilterForm, MembershipFilterForm, MembershipGrantForm

PAGE_SIZE = 50
ViewFunc = Callable[..., HttpResponseBase]


def _role_page(check: Callable[[Any], bool]) -> Callable[[ViewFunc], ViewFunc]:
    def decorate(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(user):
                raise Http404
            return view(request, *args, **kwargs)

        return never_cache(wrapped)

    return decorate


system_page = _role_page(permissions.can_manage_accounts)
security_page = _role_page(permissions.can_manage_roles)


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def masked_phone(user: User) -> str:
    phone = getattr(user, "phone", None)
    return mask_phone(phone) if phone else ""


# --- system admin: accounts --------------------------------------------------------------------


@system_page
@require_safe
def accounts(request: HttpRequest) -> HttpResponse:
    form = AccountFilterForm(request.GET or None)
    query = status = ""
    if form.is_bound and form.is_valid():
        query, status = form.cleaned_data["q"], form.cleaned_data["status"]
    page = Paginator(selectors.account_list(query=query, status=status), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "user": u, "phone": masked_phone(u), "totp": u.totp_enrolled,  # type: ignore[attr-defined]
            "signed_in": u.signed_in,  # type: ignore[attr-defined]
            "roles": u.active_membership_list,  # type: ignore[attr-defined]
        }
        for u in page.object_list
    ]
    return render(
        request, "security/accounts.html",
        {"filter_form": form if form.is_bound else AccountFilterForm(), "page": page, "rows": rows,
         "nav": "system_accounts"},
        status=400 if form.is_bound and form.errors else 200,
    )


@system_page
@require_http_methods(["GET", "HEAD", "POST"])
def account_create(request: HttpRequest) -> HttpResponse:
    form = AccountCreateForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                user, password = services.account_create(
                    actor=_actor(request), username=form.cleaned_data["username"],
                    display_name=form.cleaned_data["display_name"], request=request,
                )
            except services.SecurityError as err:
                form.add_error(err.field if err.field in form.fields else None, err.message)
                status = 400
            else:
                return render(request, "security/one_time_password.html",
                              {"account": user, "password": password, "created": True, "nav": "system_accounts"})
        else:
            status = 400
    return render(request, "security/account_form.html", {"form": form, "nav": "system_accounts"}, status=status)


def _account_action(request: HttpRequest, pk: int, action: Callable[[User, User], object], done: str) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    try:
        action(_actor(request), user)
    except services.SecurityError as err:
        messages.error(request, err.message)
        return redirect("sysadmin:accounts")
    messages.success(request, done % {"name": user.get_username()})
    return redirect("sysadmin:accounts")


@system_page
@require_POST
def account_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _account_action(
        request, pk,
        lambda actor, user: services.account_set_active(actor=actor, user=user, active=False, request=request),
        _("账号 %(name)s 已停用，其全部登录和接口令牌已失效。"),
    )


@system_page
@require_POST
def account_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _account_action(
        request, pk,
        lambda actor, user: services.account_set_active(actor=actor, user=user, active=True, request=request),
        _("账号 %(name)s 已重新启用。"),
    )


@system_page
@require_POST
def account_totp_reset(request: HttpRequest, pk: int) -> HttpResponse:
    return _account_action(
        request, pk,
        lambda actor, user: services.totp_reset(actor=actor, user=user, request=request),
        _("账号 %(name)s 的动态口令已重置，下次登录时需重新绑定。"),
    )


@system_page
@require_POST
def account_end_sessions(request: HttpRequest, pk: int) -> HttpResponse:
    return _account_action(
        request, pk,
        lambda actor, user: services.account_end_sessions(actor=actor, user=user, request=request),
        _("账号 %(name)s 已在所有设备上退出，其接口令牌已撤销。"),
    )


@system_page
@require_POST
def account_password_reset(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    try:
        password = services.account_reset_password(actor=_actor(request), user=user, request=request)
    except services.SecurityError as err:
        messages.error(request, err.message)
        return redirect("sysadmin:accounts")
    return render(request, "security/one_time_password.html",
                  {"account": user, "password": password, "created": False, "nav": "system_accounts"})


# --- security admin: roles and policy ----------------------------------------------------------


@security_page
@require_safe
def memberships(request: HttpRequest) -> HttpResponse:
    form = MembershipFilterForm(request.GET or None)
    query = role = ""
    if form.is_bound and form.is_valid():
        query, role = form.cleaned_data["q"], form.cleaned_data["role"]
    page = Paginator(selectors.memberships_list(query=query, role=role), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "security/memberships.html",
        {"filter_form": form if form.is_bound else MembershipFilterForm(), "page": page,
         "admin_roles": sorted(r.value for r in ADMIN_ROLES), "nav": "security_memberships"},
        status=400 if form.is_bound and form.errors else 200,
    )


@security_page
@require_http_methods(["GET", "HEAD", "POST"])
def membership_grant(request: HttpRequest) -> HttpResponse:
    form = MembershipGrantForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            user = User.objects.filter(username=data["username"].strip()).first()
            if user is None:
                form.add_error("username", _("没有这个用户名的账号。"))
                status = 400
            else:
                try:
                    services.membership_grant(
                        actor=_actor(request), user=user, role=data["role"], unit=data["unit"],
                        scope=data["scope"], grid=data["grid"], request=request,
                    )
                except services.SecurityError as err:
                    form.add_error(err.field if err.field in form.fields else None, err.message)
                    status = 400
                else:
                    messages.success(request, _("已为 %(name)s 授予角色：%(role)s。") % {
                        "name": user.get_username(), "role": Role(data["role"]).label,
                    })
                    return redirect("secadmin:memberships")
        else:
            status = 400
    return render(request, "security/membership_form.html", {"form": form, "nav": "security_memberships"},
                  status=status)


@security_page
@require_POST
def membership_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=pk)
    try:
        changed = services.membership_revoke(actor=_actor(request), membership=membership, request=request)
    except services.SecurityError as err:
        messages.error(request, err.message)
    else:
        if changed:
            messages.success(request, _("已撤销 %(name)s 的角色：%(role)s。") % {
                "name": membership.user.get_username(), "role": membership.get_role_display(),
            })
        else:
            messages.info(request, _("该角色此前已撤销。"))
    return redirect("secadmin:memberships")


@security_page
@require_safe
def policy(request: HttpRequest) -> HttpResponse:
    return render(request, "security/policy.html", {"policy": services.security_policy(), "nav": "security_policy"})
