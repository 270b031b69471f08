"""Console pages for the resident register: search by ID number or phone (results masked),
detail (masked), registration, and unmasking one value with a declared purpose and reason.

Search terms travel in a POST body, never in the URL, so no access log, referrer or browser
history holds an ID number. Pages are never cached. A resident outside the reader's scope is
404, like a case; users without a register role (admins, leaders, departments, citizens) get 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from sizhi.accounts.models import User
from sizhi.authz.console import console_hidden_from
from sizhi.cases import selectors as case_selectors
from sizhi.cases.views import login_url, reporter_label, staff_required
from sizhi.privacy import selectors, services
from sizhi.privacy.forms import ReporterUnmaskForm, ResidentForm, ResidentSearchForm, UnmaskForm
from sizhi.privacy.masking import mask_id_number, mask_phone
from sizhi.privacy.models import UnmaskField
from sizhi.privacy.permissions import can_unmask_case_reporter, may_use_register
from sizhi.regions.models import Resident

ViewFunc = Callable[..., HttpResponseBase]


def register_required(view: ViewFunc) -> ViewFunc:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url())
        if console_hidden_from(request.user):
            raise Http404
        if not may_use_register(request.user):
            return render(request, "privacy/403.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _resident_or_404(request: HttpRequest, pk: int) -> Resident:
    resident = selectors.resident_get_for_user(_user(request), pk)
    if resident is None:
        raise Http404
    return resident


def masked(resident: Resident) -> dict[str, str]:
    return {
        "id_number": mask_id_number(resident.id_number) if resident.id_number else "",
        "phone": mask_phone(resident.phone) if resident.phone else "",
    }


def _limited(
    request: HttpRequest, template: str, context: dict[str, Any], form: UnmaskForm, exc: services.UnmaskLimitError
) -> HttpResponse:
    form.add_error(None, exc.message)
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


def _errors_into(form: Any, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@register_required
def resident_search(request: HttpRequest) -> HttpResponse:
    form = ResidentSearchForm(request.POST or None)
    results: list[tuple[Resident, dict[str, str]]] | None = None
    kind = ""
    errors: list[str] = []
    if request.method == "POST":
        if form.is_valid():
            found = selectors.resident_search(_user(request), form.cleaned_data["q"])
            if found.error:
                errors.append(found.error)
            else:
                kind = found.kind
                results = [(r, masked(r)) for r in found.residents]
        else:
            errors.extend(str(e) for e in form.errors.get("q", []))
    # A fresh form: the typed number is never echoed back into the page.
    context = {"form": ResidentSearchForm(), "errors": errors, "results": results, "kind": kind, "nav": "residents"}
    return render(request, "privacy/search.html", context, status=400 if errors else 200)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@register_required
def resident_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = ResidentForm(request.POST or None)
    form.fields["household"].queryset = selectors.households_for_user(user)  # type: ignore[attr-defined]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            resident = services.resident_register(
                actor=user, household=data["household"], name=data["name"], relation=data["relation"],
                id_number=data["id_number"], phone=data["phone"], is_party_member=data["is_party_member"],
                request=request,
            )
        except ValidationError as exc:
            _errors_into(form, exc)
        except PermissionDenied:
            raise Http404 from None
        else:
            messages.success(request, _("已登记居民 %(name)s。") % {"name": resident.name})
            return redirect("privacy:detail", pk=resident.pk)
    if form.is_bound:
        # Never send a typed ID number or phone back into the page (browser caches, screenshots).
        form.data = {**form.data, "id_number": "", "phone": ""}
    return render(request, "privacy/new.html", {"form": form, "nav": "residents"})


@never_cache
@require_http_methods(["GET", "HEAD"])
@register_required
def resident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _resident_or_404(request, pk)
    return render(request, "privacy/detail.html", _detail_context(resident))


def _detail_context(resident: Resident, form: UnmaskForm | None = None) -> dict[str, Any]:
    fields = [
        (UnmaskField.ID_NUMBER, UnmaskField.ID_NUMBER.label, masked(resident)["id_number"]),
        (UnmaskField.PHONE, UnmaskField.PHONE.label, masked(resident)["phone"]),
    ]
    return {
        "resident": resident,
        "fields": fields,
        "unmask_form": form or UnmaskForm(),
        "history": selectors.unmask_history(resident._meta.label_lower, str(resident.pk))[:20],
        "nav": "residents",
    }


@never_cache
@require_POST
@register_required
def resident_unmask(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    resident = _resident_or_404(request, pk)
    form = UnmaskForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            value = services.unmask_resident(
                actor=user, resident=resident, field=data["field"], purpose=data["purpose"],
                reason=data["reason"], request=request,
            )
        except ValidationError as exc:
            _errors_into(form, exc)
        except PermissionDenied:
            return render(request, "privacy/403.html", status=403)
        except services.UnmaskLimitError as exc:
            return _limited(request, "privacy/detail.html", _detail_context(resident, form), form, exc)
        else:
            return render(request, "privacy/unmasked.html", {
                "resident": resident, "field_label": UnmaskField(data["field"]).label, "value": value,
                "nav": "residents",
            })
    return render(request, "privacy/detail.html", _detail_context(resident, form), status=400)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def case_reporter_unmask(request: HttpRequest, pk: int) -> HttpResponse:
    """The full phone of a case's reporter, for a call-back, after a purpose and a reason."""
    user = _user(request)
    case = case_selectors.case_get_for_user(user, pk)
    if case is None:
        raise Http404
    if not can_unmask_case_reporter(user, case):
        if request.method == "POST":
            services.unmask_denied(actor=user, target=case, field=UnmaskField.PHONE, request=request)
        return render(
            request, "privacy/403.html", {"reason": _("只有办理本案件的工作人员可以查看上报人的完整号码。")}, status=403
        )
    form = ReporterUnmaskForm(request.POST or None, initial={"field": UnmaskField.PHONE})
    if request.method == "POST" and form.is_valid():
        try:
            value = services.unmask_case_reporter(
                actor=user, case=case, purpose=form.cleaned_data["purpose"], reason=form.cleaned_data["reason"],
                request=request,
            )
        except ValidationError as exc:
            _errors_into(form, exc)
        except services.UnmaskLimitError as exc:
            context = {"case": case, "form": form, "reporter_label": reporter_label(case), "nav": "list"}
            return _limited(request, "privacy/case_reporter.html", context, form, exc)
        else:
            return render(request, "privacy/unmasked.html", {
                "case": case, "field_label": UnmaskField.PHONE.label, "value": value, "nav": "list",
            })
    status = 400 if form.is_bound else 200
    return render(
        request, "privacy/case_reporter.html",
        {"case": case, "form": form, "reporter_label": reporter_label(case), "nav": "list"}, status=status,
    )
