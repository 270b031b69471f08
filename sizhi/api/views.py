"""Pages where a signed-in user creates and revokes personal API tokens (/account/tokens/)."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.template import Template
from django.template.loader import select_template
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from sizhi.accounts.models import User
from sizhi.api.forms import TokenCreateForm
from sizhi.api.models import ApiToken
from sizhi.api.selectors import api_tokens_of_user
from sizhi.api.services import TokenError, api_token_create, api_token_revoke


def _login_url() -> str:
    # The login page belongs to the accounts app; until it is mounted the path is still right.
    try:
        return reverse(settings.LOGIN_URL)
    except NoReverseMatch:
        return "/accounts/login/"


def _base_template() -> Template:
    # The workbench frame when it is there, else a plain page of our own.
    return cast(Template, select_template(["cases/console_base.html", "api/base.html"]))


def _render(request: HttpRequest, form: TokenCreateForm, *, new_secret: str = "", status: int = 200) -> HttpResponse:
    user = cast(User, request.user)
    context = {
        "base_template": _base_template(),
        "tokens": list(api_tokens_of_user(user)),
        "form": form,
        "new_secret": new_secret,
        "nav": "tokens",
    }
    response = render(request, "api/tokens.html", context, status=status)
    # The new secret appears on this one page only; no cache may keep a copy.
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def token_list(request: HttpRequest) -> HttpResponseBase:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), _login_url())
    user = cast(User, request.user)
    if request.method != "POST":
        return _render(request, TokenCreateForm())
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _render(request, form, status=400)
    try:
        _token, secret = api_token_create(user=user, name=form.cleaned_data["name"], expires_at=form.expires_at())
    except TokenError as err:
        form.add_error(err.field if err.field in form.fields else None, err.message)
        return _render(request, form, status=400)
    # Rendered, not redirected: the secret must not travel through a session or a URL.
    return _render(request, TokenCreateForm(), new_secret=secret)


@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponseBase:
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("api_tokens:list"), _login_url())
    user = cast(User, request.user)
    # Another user's token id is a 404, exactly like an id that does not exist.
    token = ApiToken.objects.filter(pk=pk, user=user).first()
    if token is None:
        raise Http404
    if api_token_revoke(token=token, actor=user):
        messages.success(request, _("令牌“%(name)s”已撤销，立即失效。") % {"name": token.name})
    return redirect("api_tokens:list")
