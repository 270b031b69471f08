"""Command pages (指挥调度): the 联动考评 ranking, the cases behind each figure, the summons list,
the monthly circular, their .xlsx downloads, and supervision orders (督办).

Access: signed-in staff with a non-admin membership; everyone else gets the console's 403
page. Units and regions are those inside the viewer's scopes (cases.evaluation), cases and
orders are read through the scoped selectors, so no page shows another district's units or
cases. The only writes are cases.supervision's two services; a CaseError they raise comes back
as a message with the error's own HTTP status, never a 500. Leaders may issue supervision
orders and read everything else; responding belongs to the supervised unit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from sizhi.accounts.models import User
from sizhi.accounts.selectors import active_memberships, is_staff_member
from sizhi.authz.console import console_hidden_from
from sizhi.cases import evaluation, exports
from sizhi.cases.errors import CaseError
from sizhi.cases.evaluation import Evaluation, Figures, Period, Ranked
from sizhi.cases.models import SupervisionStatus
from sizhi.cases.selectors import case_list_for_user
from sizhi.cases.supervision import (
    SUPERVISOR_ROLES,
    supervision_issue,
    supervision_orders_for_user,
    supervision_respond,
)
from sizhi.regions.models import Region
from sizhi.units.matrix import LEVELS_UPWARD
from sizhi.units.models import HandlingUnit

PAGE_SIZE = 20
# Longest period one request may ask for: a year of events is already a large read.
MAX_PERIOD_DAYS = 366
CHART_UNITS = 30

ViewFunc = Callable[..., HttpResponseBase]


# --- access --------------------------------------------------------------------------------------


def _login_url() -> str:
    try:
        return reverse("accounts:login")
    except NoReverseMatch:
        return "/accounts/login/"


def command_staff(view: ViewFunc) -> ViewFunc:
    """Signed-in staff with a case-handling (non-admin) membership, like the rest of the console."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), _login_url())
        if console_hidden_from(request.user):
            raise Http404
        if not is_staff_member(request.user):
            return render(request, "cases/403.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _nav(section: str) -> dict[str, str]:
    # "command" lights the console's own navigation entry; the section, the command sub-navigation.
    return {"nav": "command", "command_nav": section}


def _user(request: HttpRequest) -> User:
    # command_staff has run: the user is a signed-in accounts.User.
    return cast(User, request.user)


def _page(request: HttpRequest, qs: QuerySet[Any]) -> Page:
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


# --- period and region ---------------------------------------------------------------------------


def _date_input() -> forms.DateInput:
    # <input type="date"> shows only an ISO date, whatever the language's own date format.
    return forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


class RegionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.get_level_display()}）"


class PeriodForm(forms.Form):
    """A month (the default: this month), or a first and a last day; and a region in scope."""

    month = forms.RegexField(
        label=gettext_lazy("月份"), regex=r"^\d{4}-(0[1-9]|1[0-2])$", required=False,
        error_messages={"invalid": gettext_lazy("月份格式应为 YYYY-MM。")},
        widget=forms.TextInput(attrs={"type": "month"}),
    )
    start = forms.DateField(label=gettext_lazy("开始日期"), required=False,
                            widget=_date_input())
    end = forms.DateField(label=gettext_lazy("结束日期"), required=False,
                          widget=_date_input())
    region = RegionChoice(
        label=gettext_lazy("区域"), queryset=Region.objects.none(), required=False,
        empty_label=gettext_lazy("全部管辖范围"),
        error_messages={"invalid_choice": gettext_lazy("该区域不在您的管辖范围内。")},
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        cast(forms.ModelChoiceField, self.fields["region"]).queryset = evaluation.regions_for_user(user)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if self.errors:
            return data
        if (start is None) != (end is None):
            raise forms.ValidationError(_("请同时填写开始日期和结束日期，或只选择月份。"))
        if start is not None and end is not None:
            if end < start:
                raise forms.ValidationError(_("结束日期不能早于开始日期。"))
            if (end - start).days + 1 > MAX_PERIOD_DAYS:
                raise forms.ValidationError(_("统计期间最长 %(days)d 天。") % {"days": MAX_PERIOD_DAYS})
            if start.year < 2000 or end.year > 2100:
                raise forms.ValidationError(_("日期超出范围。"))
        month = data.get("month")
        if month and not 2000 <= int(month[:4]) <= 2100:
            self.add_error("month", _("日期超出范围。"))
        return data

    def chosen_period(self) -> Period:
        data = getattr(self, "cleaned_data", {})
        if data.get("start") and data.get("end"):
            return Period.days(data["start"], data["end"])
        if data.get("month"):
            year, month = data["month"].split("-")
            return Period.month(int(year), int(month))
        return Period.this_month()

    def chosen_region(self) -> Region | None:
        chosen = getattr(self, "cleaned_data", {}).get("region")
        return chosen if chosen is not None else evaluation.default_region(self.user)


class MonthForm(PeriodForm):
    """The circular is monthly: no free date range."""

    start = None  # type: ignore[assignment]
    end = None  # type: ignore[assignment]


@dataclass
class Selection:
    form: PeriodForm
    period: Period
    region: Region | None

    @property
    def query(self) -> str:
        params = dict(self.period.query())
        if self.form.is_bound and self.form.cleaned_data.get("region") is not None:
            params["region"] = str(self.form.cleaned_data["region"].pk)
        return urlencode(params)


def _select(request: HttpRequest, form_class: type[PeriodForm] = PeriodForm) -> Selection | None:
    """The period and region the request asks for; None when the form is invalid."""
    form = form_class(request.GET or None, user=_user(request))
    if form.is_bound and not form.is_valid():
        return None
    return Selection(form, form.chosen_period(), form.chosen_region())


def _bad_period(request: HttpRequest, template: str, form_class: type[PeriodForm], nav: str) -> HttpResponse:
    """The page again with the form's errors and no figures (HTTP 400)."""
    form = form_class(request.GET, user=_user(request))
    form.is_valid()
    return render(request, template, {"form": form, **_nav(nav), "invalid": True}, status=400)


# --- tables --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    href: str | None = None
    metric: str = ""


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


# (label, how to show it, the metric whose cases the figure links to)
ColumnSpec = tuple[Any, Callable[[Ranked], str], str | None]


def _count(metric: str) -> ColumnSpec:
    return (evaluation.metric_label(metric), lambda r: str(r.figures[metric]), metric)


def table_columns() -> list[ColumnSpec]:
    return [
        (_("得分"), lambda r: _number(r.score.total, 2), None),
        (_("响应率"), lambda r: _percent(r.figures.response_rate), "responded"),
        (_("按期结案率"), lambda r: _percent(r.figures.on_time_rate), "closed_on_time"),
        (_("结案率"), lambda r: _percent(r.figures.close_rate), "closed"),
        (_("解决率"), lambda r: _percent(r.figures.resolution_rate), "resolved"),
        (_("满意率"), lambda r: _percent(r.figures.satisfaction_rate), "satisfied"),
        (_("返工率"), lambda r: _percent(r.figures.rework_rate), "verify_fails"),
        (_("24小时签收率"), lambda r: _percent(r.figures.sign_24h_rate), "signed_24h"),
        (_("7日办结率"), lambda r: _percent(r.figures.close_7d_rate), "closed_7d"),
        _count("dispatched"),
        _count("due"),
        _count("suspended"),
        _count("closed"),
        _count("closed_on_time"),
        _count("rated"),
        (_("平均处置时长（工作小时）"), lambda r: _number(r.figures.avg_handle_hours), "handled"),
        _count("returns"),
        _count("overdue"),
        _count("supervision_received"),
        _count("supervision_late"),
        _count("supervision_open_overdue"),
        (_("扣分"), lambda r: _number(r.score.deductions, 2), None),
    ]


@dataclass
class TableRow:
    row: Ranked
    cells: list[Cell]


def _table(rows: list[Ranked], query: str) -> tuple[list[str], list[TableRow]]:
    """Rows of cells, each figure linked to command:figure_cases for its unit or region."""
    columns = table_columns()
    out = []
    for row in rows:
        cells = []
        for _label, show, metric in columns:
            href = None
            # A figure with nothing behind it (0, or "—") links nowhere.
            if metric is not None and row.figures[metric]:
                href = reverse("command:figure_cases", args=[row.kind, row.pk, metric]) + "?" + query
            cells.append(Cell(show(row), href, metric or ""))
        out.append(TableRow(row, cells))
    return [str(label) for label, _show, _metric in columns], out


def _chart(rows: list[Ranked]) -> dict[str, Any]:
    """The bar chart's data; the template hands it to ECharts through json_script."""
    scored = [r for r in rows if r.score.total is not None][:CHART_UNITS]
    return {"label": _("得分"), "names": [r.name for r in scored], "scores": [r.score.total for r in scored]}


def _evaluate(user: User, selection: Selection) -> Evaluation:
    units = evaluation.units_for_user(user, selection.region)
    return evaluation.evaluate(
        units, selection.period, regions=evaluation.child_regions(selection.region, user)
    )


def _xlsx(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=exports.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _file_stem(selection: Selection) -> str:
    # ASCII only: the period and the region's statistical code, never a user-entered name.
    p = selection.period
    period = f"{p.start:%Y-%m}" if p.is_month else f"{p.start:%Y%m%d}-{p.last:%Y%m%d}"
    return period + (f"-{selection.region.code}" if selection.region else "")


# --- evaluation pages ----------------------------------------------------------------------------


@require_safe
@command_staff
def ranking(request: HttpRequest) -> HttpResponse:
    selection = _select(request)
    if selection is None:
        return _bad_period(request, "cases/command/ranking.html", PeriodForm, "ranking")
    result = _evaluate(_user(request), selection)
    labels, unit_rows = _table(result.units, selection.query)
    _labels, region_rows = _table(result.regions, selection.query)
    return render(request, "cases/command/ranking.html", {
        **_nav("ranking"), "form": selection.form, "selection": selection, "evaluation": result,
        "labels": labels, "unit_rows": unit_rows, "region_rows": region_rows, "chart": _chart(result.units),
    })


@require_safe
@command_staff
def ranking_xlsx(request: HttpRequest) -> HttpResponse:
    selection = _select(request)
    if selection is None:
        return _bad_period(request, "cases/command/ranking.html", PeriodForm, "ranking")
    result = _evaluate(_user(request), selection)
    return _xlsx(exports.ranking_workbook(result), f"ranking-{_file_stem(selection)}.xlsx")


@require_safe
@command_staff
def figure_cases(request: HttpRequest, kind: str, pk: int, metric: str) -> HttpResponse:
    """The cases (or supervision orders) behind one figure of one unit or region in a period."""
    if metric not in evaluation.METRICS or kind not in ("unit", "region"):
        raise Http404
    user = _user(request)
    selection = _select(request)
    if selection is None:
        return _bad_period(request, "cases/command/figure_cases.html", PeriodForm, "ranking")
    subject: HandlingUnit | Region | None
    if kind == "unit":
        subject = evaluation.units_for_user(user).filter(pk=pk).first()
        units = [subject] if subject is not None else []
    else:
        subject = evaluation.regions_for_user(user).filter(pk=pk).first()
        units = list(evaluation.units_for_user(user, subject)) if subject is not None else []
    if subject is None:
        raise Http404
    figures = Figures()
    for unit_figures in evaluation.unit_figures([u.pk for u in units], selection.period).values():
        figures.add(unit_figures)
    context: dict[str, Any] = {
        **_nav("ranking"), "form": selection.form, "selection": selection, "subject": subject, "kind": kind,
        "metric": metric, "metric_label": evaluation.metric_label(metric), "count": figures[metric],
    }
    # Through the scoped selectors: a figure may count a case the viewer cannot open, never list it.
    if metric in evaluation.ORDER_METRICS:
        ids = figures.orders[metric]
        orders = supervision_orders_for_user(user, open_only=False).filter(pk__in=sorted(ids))
        context.update(page=_page(request, orders.order_by("-created_at", "-id")), orders=True, listed=len(ids))
    else:
        ids = figures.cases[metric]
        cases = case_list_for_user(user).filter(pk__in=sorted(ids))
        context.update(page=_page(request, cases), listed=len(ids))
    return render(request, "cases/command/figure_cases.html", context)


@require_safe
@command_staff
def summons(request: HttpRequest) -> HttpResponse:
    selection = _select(request)
    if selection is None:
        return _bad_period(request, "cases/command/summons.html", PeriodForm, "summons")
    result = _evaluate(_user(request), selection)
    labels, rows = _table(result.summons(), selection.query)
    return render(request, "cases/command/summons.html", {
        **_nav("summons"), "form": selection.form, "selection": selection, "evaluation": result,
        "labels": labels, "rows": rows,
        "overdue_threshold": max(1, settings.SIZHI_SUMMONS_OVERDUE),
        "returns_threshold": max(1, settings.SIZHI_SUMMONS_RETURNS),
    })


@require_safe
@command_staff
def circular(request: HttpRequest) -> HttpResponse:
    selection = _select(request, MonthForm)
    if selection is None:
        return _bad_period(request, "cases/command/circular.html", MonthForm, "circular")
    report = evaluation.circular(_user(request), selection.period, selection.region)
    labels, best = _table(report.best, selection.query)
    _labels, worst = _table(report.worst, selection.query)
    _labels, summoned = _table(report.summons, selection.query)
    total = report.evaluation.total
    rates = {
        "response": _percent(total.response_rate), "on_time": _percent(total.on_time_rate),
        "close": _percent(total.close_rate), "resolution": _percent(total.resolution_rate),
        "satisfaction": _percent(total.satisfaction_rate),
    }
    return render(request, "cases/command/circular.html", {
        **_nav("circular"), "form": selection.form, "selection": selection, "report": report, "total": total,
        "rates": rates, "labels": labels, "best": best, "worst": worst, "summoned": summoned,
    })


@require_safe
@command_staff
def circular_xlsx(request: HttpRequest) -> HttpResponse:
    selection = _select(request, MonthForm)
    if selection is None:
        return _bad_period(request, "cases/command/circular.html", MonthForm, "circular")
    report = evaluation.circular(_user(request), selection.period, selection.region)
    return _xlsx(exports.circular_workbook(report), f"circular-{_file_stem(selection)}.xlsx")


# --- supervision (督办) ----------------------------------------------------------------------------


def supervisable_units(user: User) -> QuerySet[HandlingUnit]:
    """Active units a dispatcher's or leader's membership may supervise: inside its scope and at
    a lower level. cases.supervision.supervision_issue checks the same rule again."""
    parts = Q(pk__in=[])
    for m in active_memberships(user):
        if m.role in SUPERVISOR_ROLES and m.scope is not None and m.scope.level in LEVELS_UPWARD:
            below = LEVELS_UPWARD[: LEVELS_UPWARD.index(m.scope.level)]
            parts |= Q(region_code__startswith=m.scope.prefix, region__level__in=below)
    return HandlingUnit.objects.filter(parts, is_active=True).select_related("region").order_by("region_code", "name")


def _my_unit_ids(user: User) -> set[int]:
    return {m.unit_id for m in active_memberships(user) if m.unit_id is not None}


class SupervisionIssueForm(forms.Form):
    case_number = forms.CharField(
        label=gettext_lazy("案件编号"), max_length=32, required=False,
        help_text=gettext_lazy("督办具体案件时填写；被督办单位即该案件当前的承办单位。"),
    )
    unit = forms.ModelChoiceField(
        label=gettext_lazy("被督办单位"), queryset=HandlingUnit.objects.none(), required=False,
        error_messages={"invalid_choice": gettext_lazy("该单位不在您可督办的范围内。")},
    )
    reason = forms.CharField(label=gettext_lazy("督办事由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))
    respond_by = forms.DateField(label=gettext_lazy("回复期限"), widget=_date_input())

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        cast(forms.ModelChoiceField, self.fields["unit"]).queryset = supervisable_units(user)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        number = (data.get("case_number") or "").strip()
        data["case"] = None
        if number:
            case = case_list_for_user(self.user).filter(number=number).first()
            if case is None:
                self.add_error("case_number", _("未找到该案件，或该案件不在您的管辖范围内。"))
            elif case.assigned_unit is None:
                self.add_error("case_number", _("该案件当前没有承办单位，无法督办。"))
            else:
                data["case"] = case
                data["unit"] = data.get("unit") or case.assigned_unit
        elif data.get("unit") is None and "unit" not in self.errors:
            self.add_error("unit", _("请选择被督办单位，或填写案件编号。"))
        return data


class SupervisionRespondForm(forms.Form):
    response = forms.CharField(label=gettext_lazy("回复"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))


@require_safe
@command_staff
def supervision_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    status = request.GET.get("status", "")
    orders = supervision_orders_for_user(user, open_only=status == SupervisionStatus.OPEN)
    if status == SupervisionStatus.ANSWERED:
        orders = orders.filter(status=SupervisionStatus.ANSWERED)
    page = _page(request, orders.order_by("status", "respond_by", "-id"))
    mine = _my_unit_ids(user)
    today = timezone.localdate()
    return render(request, "cases/command/supervision_list.html", {
        **_nav("supervision"), "page": page, "status": status, "today": today,
        "can_issue": supervisable_units(user).exists(),
        "respondable": {o.pk for o in page.object_list if o.unit_id in mine and o.status == SupervisionStatus.OPEN},
        "statuses": SupervisionStatus.choices,
    })


@require_http_methods(["GET", "HEAD", "POST"])
@command_staff
def supervision_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        form = SupervisionIssueForm(request.POST, user=user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                supervision_issue(
                    actor=user, unit=data["unit"], reason=data["reason"], respond_by=data["respond_by"],
                    case=data["case"],
                )
            except CaseError as err:
                messages.error(request, str(err.message))
                return _issue_page(request, form, status=err.http_status)
            messages.success(request, _("已下达督办。"))
            return redirect("command:supervision_list")
        return _issue_page(request, form, status=400)
    initial: dict[str, Any] = {"respond_by": timezone.localdate() + dt.timedelta(days=3)}
    if request.GET.get("case"):
        initial["case_number"] = request.GET["case"].strip()[:32]
    return _issue_page(request, SupervisionIssueForm(initial=initial, user=user))


def _issue_page(request: HttpRequest, form: SupervisionIssueForm, *, status: int = 200) -> HttpResponse:
    return render(request, "cases/command/supervision_new.html", {**_nav("supervision"), "form": form}, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@command_staff
def supervision_answer(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    order = supervision_orders_for_user(user, open_only=False).filter(pk=pk).first()
    if order is None:
        raise Http404
    form = SupervisionRespondForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                supervision_respond(order=order, actor=user, response=form.cleaned_data["response"])
            except CaseError as err:
                messages.error(request, str(err.message))
                status = err.http_status
            else:
                messages.success(request, _("督办已回复。"))
                return redirect("command:supervision_list")
        else:
            status = 400
    can_respond = order.unit_id in _my_unit_ids(user) and order.status == SupervisionStatus.OPEN
    return render(request, "cases/command/supervision_answer.html", {
        **_nav("supervision"), "order": order, "form": form, "can_respond": can_respond,
    }, status=status)
