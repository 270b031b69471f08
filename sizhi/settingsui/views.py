"""Configuration pages of the command chain (权责清单, 办理时限, 工作日历, 承办单位, Webhook) and
the call-back queue (回访).

Access (settingsui.permissions): the configuration pages belong to the system admin alone;
the call-back queue to dispatchers, reading cases only through cases.selectors so scope holds,
and refusing the administrator roles, which read no case content. Everyone else gets the 403
page; a visitor who is not signed in goes to the login page.

Every change goes through one service function; a form or a service that refuses the input
comes back as the page with its messages and status 400, a success as a redirect (POST →
redirect → GET).
"""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, cast

import chinese_calendar
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sizhi.accounts.models import User
from sizhi.cases import followup
from sizhi.cases.deadlines import FALLBACK
from sizhi.cases.errors import CaseError
from sizhi.cases.limits import time_limit_delete, time_limit_save
from sizhi.cases.models import CallBack, CallBackStatus, Category, TimeLimit
from sizhi.cases.selectors import case_list_for_user
from sizhi.cases.views import reporter_label
from sizhi.cases.workflow import CaseAction, Channel, Priority
from sizhi.notify import webhook_services
from sizhi.notify.models import Notification, NotificationChannel, NotificationStatus, WebhookEndpoint
from sizhi.regions.selectors import region_scope_q
from sizhi.settingsui import forms, matrix_csv, permissions
from sizhi.units import matrix
from sizhi.units.models import HandlingUnit, ResponsibilityRule
from sizhi.units.services import rule_delete, rule_save, unit_save
from sizhi.workdays import calendar as workcal
from sizhi.workdays.models import CalendarDay
from sizhi.workdays.services import calendar_day_clear, calendar_day_set

ViewFunc = Callable[..., HttpResponseBase]
PAGE_SIZE = 50
DELIVERY_WINDOW_DAYS = 7
SECRET_SESSION_KEY = "settingsui_webhook_secret"  # noqa: S105 - a session key, not a secret


# --- access --------------------------------------------------------------------------------------


def _login_url() -> str:
    try:
        return reverse("accounts:login")
    except NoReverseMatch:
        return "/accounts/login/"


def _guard(check: Callable[[Any], bool]) -> Callable[[ViewFunc], ViewFunc]:
    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), _login_url())
            if not check(request.user):
                return render(request, "settingsui/403.html", status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


config_required = _guard(permissions.can_configure)
callbacks_required = _guard(permissions.can_work_callbacks)


def _user(request: HttpRequest) -> User:
    # A guard has run: the user is a signed-in accounts.User.
    return cast(User, request.user)


def _posted(request: HttpRequest) -> Any:
    # Bound on every POST, even an empty one, so a blank submission shows "required" messages.
    return request.POST if request.method == "POST" else None


def _page(request: HttpRequest, qs: QuerySet[Any], size: int = PAGE_SIZE) -> Page:
    return Paginator(qs, size).get_page(request.GET.get("page"))


@require_safe
def index(request: HttpRequest) -> HttpResponseBase:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), _login_url())
    if permissions.can_configure(request.user):
        return redirect("settingsui:rules")
    if permissions.can_work_callbacks(request.user):
        return redirect("settingsui:callbacks")
    return render(request, "settingsui/403.html", status=403)


# --- responsibility matrix (权责清单) -------------------------------------------------------------


def _filtered_rules(form: forms.RuleFilterForm) -> QuerySet[ResponsibilityRule]:
    qs = ResponsibilityRule.objects.select_related("category", "category__parent", "region").order_by(
        "category__code", "level", "region__code", "pk"
    )
    category = form.value("category")
    if category is not None:
        qs = qs.filter(Q(category=category) | Q(category__parent=category))
    level = form.value("level")
    if level:
        qs = qs.filter(level=level)
    region = form.value("region")
    if region is not None:
        qs = qs.filter(region=region)
    return qs


def _rules_page(request: HttpRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    filter_form = forms.RuleFilterForm(request.GET or None)
    context = {
        "nav": "settings_rules",
        "filter_form": filter_form,
        "page": _page(request, _filtered_rules(filter_form)),
        "try_form": forms.RuleTryForm(),
        "import_form": forms.RuleImportForm(),
        "export_query": urlencode([(k, str(v)) for k, v in request.GET.items() if k in filter_form.fields]),
        **extra,
    }
    return render(request, "settingsui/rules.html", context, status=status)


@require_safe
@config_required
def rules(request: HttpRequest) -> HttpResponse:
    return _rules_page(request)


def _rule_arguments(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "category": data["category"], "level": data["level"], "region": data.get("region"),
        "lead_unit_name": data.get("lead_unit_name", ""), "lead_unit_kind": data.get("lead_unit_kind", ""),
        "assist_unit_names": data.get("assist_unit_names", []), "is_active": data.get("is_active", False),
    }


def _same_key(data: dict[str, Any]) -> QuerySet[ResponsibilityRule]:
    return ResponsibilityRule.objects.filter(category=data["category"], level=data["level"], region=data.get("region"))


def _save_rule(form: forms.RuleForm, rule: ResponsibilityRule | None) -> ResponsibilityRule | None:
    """Save a valid form through units.services; None (and errors on the form) when refused.
    Changing category, level or region moves the rule: the new line replaces the old one."""
    data = form.cleaned_data
    try:
        with transaction.atomic():
            clash = _same_key(data)
            if rule is not None:
                clash = clash.exclude(pk=rule.pk)
            if clash.exists():
                form.add_error(None, _("已有相同类别、承办层级和适用区域的规则，请直接修改那一条。"))
                return None
            saved = rule_save(**_rule_arguments(data))
            if rule is not None and saved.pk != rule.pk:
                rule_delete(rule=rule)
    except ValidationError as exc:
        forms.apply_errors(form, exc)
        return None
    return saved


@require_http_methods(["GET", "HEAD", "POST"])
@config_required
def rule_create(request: HttpRequest) -> HttpResponse:
    form = forms.RuleForm(_posted(request))
    if request.method == "POST":
        if form.is_valid() and _save_rule(form, None) is not None:
            messages.success(request, _("规则已添加。"))
            return redirect("settingsui:rules")
        return render(request, "settingsui/rule_form.html", {"form": form, "nav": "settings_rules"}, status=400)
    return render(request, "settingsui/rule_form.html", {"form": form, "nav": "settings_rules"})


@require_http_methods(["GET", "HEAD", "POST"])
@config_required
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(ResponsibilityRule.objects.select_related("category", "region"), pk=pk)
    form = forms.RuleForm(_posted(request), initial=forms.RuleForm.initial_for(rule))
    context = {"form": form, "rule": rule, "nav": "settings_rules"}
    if request.method == "POST":
        if form.is_valid() and _save_rule(form, rule) is not None:
            messages.success(request, _("规则已保存。"))
            return redirect("settingsui:rules")
        return render(request, "settingsui/rule_form.html", context, status=400)
    return render(request, "settingsui/rule_form.html", context)


@require_POST
@config_required
def rule_remove(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(ResponsibilityRule, pk=pk)
    rule_delete(rule=rule)
    messages.success(request, _("规则已删除。"))
    return redirect("settingsui:rules")


@require_POST
@config_required
def rules_import(request: HttpRequest) -> HttpResponse:
    form = forms.RuleImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _rules_page(request, status=400, import_form=form)
    outcome = matrix_csv.import_rules(form.cleaned_data["file"])
    if outcome.errors:
        return _rules_page(request, status=400, import_form=form, import_errors=outcome.errors)
    messages.success(request, ngettext("已导入 %(n)d 条规则。", "已导入 %(n)d 条规则。", outcome.saved) % {
        "n": outcome.saved})
    return redirect("settingsui:rules")


@require_safe
@config_required
def rules_export(request: HttpRequest) -> HttpResponse:
    """The active rules under the list's filters, in the import's columns."""
    rules_qs = _filtered_rules(forms.RuleFilterForm(request.GET or None)).filter(is_active=True)
    response = HttpResponse(matrix_csv.rules_to_csv(rules_qs), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="responsibility-matrix.csv"'
    return response


@require_safe
@config_required
def rule_try(request: HttpRequest) -> HttpResponse:
    """Which unit at which level the matrix picks for a category in a place."""
    form = forms.RuleTryForm(request.GET or None)
    context: dict[str, Any] = {"form": form, "nav": "settings_rules", "tried": False}
    if form.is_bound:
        if not form.is_valid():
            return render(request, "settingsui/rule_try.html", context, status=400)
        context["tried"] = True
        context["resolution"] = matrix.resolve(form.cleaned_data["category"], form.cleaned_data["region"])
        context["region"] = form.cleaned_data["region"]
        context["category"] = form.cleaned_data["category"]
    return render(request, "settingsui/rule_try.html", context)


# --- time limits (办理时限) -----------------------------------------------------------------------


SOURCE_LABELS = {
    "own": gettext_lazy("本类别"),
    "parent": gettext_lazy("沿用上级类别"),
    "default": gettext_lazy("沿用默认"),
    "builtin": gettext_lazy("系统内置"),
}


@dataclass(frozen=True)
class LimitCell:
    sign_hours: Any
    handle_days: int
    source: str

    @property
    def source_label(self) -> str:
        return str(SOURCE_LABELS[self.source])


def _effective_limits(categories: list[Category], rows: list[TimeLimit]) -> list[tuple[Category, list[LimitCell]]]:
    """What cases.deadlines.limits_for answers for every category × priority, read in two queries:
    the category's own row, its parent's, the default row, then the built-in fallback."""
    by_key = {(r.category_id, r.priority): r for r in rows}
    table = []
    for category in categories:
        cells = []
        for priority in Priority.values:
            chain: list[tuple[int | None, str]] = [(category.pk, "own")]
            if category.parent_id:
                chain.append((category.parent_id, "parent"))
            chain.append((None, "default"))
            cell = None
            for key, source in chain:
                row = by_key.get((key, priority))
                if row is not None:
                    cell = LimitCell(row.sign_hours, row.handle_days, source)
                    break
            if cell is None:
                hours, days = FALLBACK.get(Priority(priority), FALLBACK[Priority.NORMAL])
                cell = LimitCell(hours, days, "builtin")
            cells.append(cell)
        table.append((category, cells))
    return table


@require_safe
@config_required
def limits(request: HttpRequest) -> HttpResponse:
    rows = list(TimeLimit.objects.select_related("category", "category__parent"))
    rows.sort(key=lambda r: (r.category_id is not None, r.category.code if r.category else "",
                             Priority.values.index(r.priority)))
    context = {
        "nav": "settings_limits",
        "rows": rows,
        "priorities": Priority.choices,
        "table": _effective_limits(list(forms.category_tree()), rows),
        "form": forms.TimeLimitCreateForm(),
    }
    return render(request, "settingsui/limits.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@config_required
def limit_create(request: HttpRequest) -> HttpResponse:
    form = forms.TimeLimitCreateForm(_posted(request))
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            if TimeLimit.objects.filter(category=data["category"], priority=data["priority"]).exists():
                form.add_error(None, _("该类别和紧急程度的时限已存在，请在列表中修改。"))
            else:
                try:
                    time_limit_save(category=data["category"], priority=data["priority"],
                                    sign_hours=data["sign_hours"], handle_days=data["handle_days"])
                except ValidationError as exc:
                    forms.apply_errors(form, exc)
                else:
                    messages.success(request, _("时限已添加。"))
                    return redirect("settingsui:limits")
        return render(request, "settingsui/limit_form.html", {"form": form, "nav": "settings_limits"}, status=400)
    return render(request, "settingsui/limit_form.html", {"form": form, "nav": "settings_limits"})


@require_http_methods(["GET", "HEAD", "POST"])
@config_required
def limit_edit(request: HttpRequest, pk: int) -> HttpResponse:
    limit = get_object_or_404(TimeLimit.objects.select_related("category"), pk=pk)
    form = forms.TimeLimitEditForm(
        _posted(request), initial={"sign_hours": limit.sign_hours, "handle_days": limit.handle_days}
    )
    context = {"form": form, "limit": limit, "nav": "settings_limits"}
    if request.method == "POST":
        if form.is_valid():
            try:
                time_limit_save(
                    category=limit.category, priority=limit.priority,
                    sign_hours=form.cleaned_data["sign_hours"], handle_days=form.cleaned_data["handle_days"],
                )
            except ValidationError as exc:
                forms.apply_errors(form, exc)
            else:
                messages.success(request, _("时限已保存。"))
                return redirect("settingsui:limits")
        return render(request, "settingsui/limit_form.html", context, status=400)
    return render(request, "settingsui/limit_form.html", context)


@require_POST
@config_required
def limit_remove(request: HttpRequest, pk: int) -> HttpResponse:
    limit = get_object_or_404(TimeLimit, pk=pk)
    try:
        time_limit_delete(limit=limit)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
        return redirect("settingsui:limits")
    messages.success(request, _("时限已删除，该类别改为沿用上级或默认时限。"))
    return redirect("settingsui:limits")


# --- working calendar (工作日历) ------------------------------------------------------------------


HOLIDAY_NAMES = {
    chinese_calendar.Holiday.new_years_day.value: gettext_lazy("元旦"),
    chinese_calendar.Holiday.spring_festival.value: gettext_lazy("春节"),
    chinese_calendar.Holiday.tomb_sweeping_day.value: gettext_lazy("清明节"),
    chinese_calendar.Holiday.labour_day.value: gettext_lazy("劳动节"),
    chinese_calendar.Holiday.dragon_boat_festival.value: gettext_lazy("端午节"),
    chinese_calendar.Holiday.national_day.value: gettext_lazy("国庆节"),
    chinese_calendar.Holiday.mid_autumn_festival.value: gettext_lazy("中秋节"),
}


def _official_name(day: dt.date) -> str:
    try:
        _on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return ""
    if not name:
        return ""
    label = HOLIDAY_NAMES.get(name)
    if label is not None:
        return str(label)
    try:
        return str(chinese_calendar.Holiday(name).chinese)
    except ValueError:
        return str(name)


def _calendar_page(request: HttpRequest, *, year: int, form: forms.CalendarDayForm, status: int = 200,
                   year_error: bool = False) -> HttpResponse:
    corrections = list(CalendarDay.objects.filter(date__year=year).select_related("created_by"))
    context = {
        "nav": "settings_calendar",
        "year": year,
        "official": workcal.year_is_official(year),
        "corrections": corrections,
        "form": form,
        "months": range(1, 13),
        "year_error": year_error,
        "years": [year - 1, year + 1],
    }
    return render(request, "settingsui/calendar.html", context, status=status)


@require_safe
@config_required
def calendar(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    year, year_error = today.year, False
    if "year" in request.GET:
        year_form = forms.YearForm(request.GET)
        if year_form.is_valid():
            year = year_form.cleaned_data["year"]
        else:
            year_error = True
    initial: dict[str, Any] = {}
    if "date" in request.GET:
        # "修改": the form filled in with a day's current correction, if it has one.
        picked = forms.CalendarClearForm({"date": request.GET.get("date", "")})
        if picked.is_valid() and picked.cleaned_data["date"] is not None:
            day = picked.cleaned_data["date"]
            initial = {"date": day}
            existing = CalendarDay.objects.filter(date=day).first()
            if existing is not None:
                initial.update(kind=forms.DayKind.WORK if existing.is_workday else forms.DayKind.REST,
                               name=existing.name)
            if "year" not in request.GET:
                year = day.year
    return _calendar_page(request, year=year, form=forms.CalendarDayForm(initial=initial),
                          year_error=year_error, status=400 if year_error else 200)


@require_POST
@config_required
def calendar_set(request: HttpRequest) -> HttpResponse:
    form = forms.CalendarDayForm(request.POST)
    if not form.is_valid():
        day = form.cleaned_data.get("date") if hasattr(form, "cleaned_data") else None
        return _calendar_page(request, year=day.year if day else timezone.localdate().year, form=form, status=400)
    day = form.cleaned_data["date"]
    calendar_day_set(
        date=day, is_workday=form.cleaned_data["kind"] == forms.DayKind.WORK, name=form.cleaned_data["name"],
        actor=_user(request),
    )
    messages.success(request, _("%(date)s 已设为%(kind)s。") % {
        "date": day.isoformat(),
        "kind": _("工作日") if form.cleaned_data["kind"] == forms.DayKind.WORK else _("休息日"),
    })
    return redirect(f"{reverse('settingsui:calendar')}?{urlencode({'year': day.year})}")


@require_POST
@config_required
def calendar_clear(request: HttpRequest) -> HttpResponse:
    form = forms.CalendarClearForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("日期无效，未删除任何调整。"))
        return redirect("settingsui:calendar")
    day = form.cleaned_data["date"]
    calendar_day_clear(date=day)
    messages.success(request, _("已删除 %(date)s 的调整，这一天按国务院公布的安排计算。") % {"date": day.isoformat()})
    return redirect(f"{reverse('settingsui:calendar')}?{urlencode({'year': day.year})}")


# (working?, weekend?) → how the month grid marks the day.
KIND_BY = {(True, False): "work", (True, True): "makeup", (False, True): "rest", (False, False): "holiday"}


@dataclass(frozen=True)
class GridDay:
    date: dt.date
    in_month: bool
    is_workday: bool
    kind: str  # "work", "rest", "holiday" (rest on a weekday) or "makeup" (work on a weekend)
    name: str
    corrected: bool


@require_safe
@config_required
def calendar_month(request: HttpRequest, year: int, month: int) -> HttpResponse:
    if not forms.CALENDAR_YEARS[0] <= year <= forms.CALENDAR_YEARS[1] or not 1 <= month <= 12:
        raise Http404
    corrections = {c.date: c for c in CalendarDay.objects.filter(date__year=year, date__month=month)}
    weeks = []
    for week in pycalendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
        row = []
        for day in week:
            working = workcal.is_workday(day)
            weekend = day.weekday() >= 5
            kind = KIND_BY[(working, weekend)]
            correction = corrections.get(day)
            name = correction.name if correction and correction.name else _official_name(day)
            row.append(GridDay(day, day.month == month, working, kind, name, correction is not None))
        weeks.append(row)
    first = dt.date(year, month, 1)
    previous = first - dt.timedelta(days=1)
    following = first + dt.timedelta(days=32)
    context = {
        "nav": "settings_calendar",
        "year": year,
        "month": month,
        "weeks": weeks,
        "weekdays": [
            pgettext("星期", "一"), pgettext("星期", "二"), pgettext("星期", "三"), pgettext("星期", "四"),
            pgettext("星期", "五"), pgettext("星期", "六"), pgettext("星期", "日"),
        ],
        "official": workcal.year_is_official(year),
        "previous": previous if previous.year >= forms.CALENDAR_YEARS[0] else None,
        "following": following if following.year <= forms.CALENDAR_YEARS[1] else None,
    }
    return render(request, "settingsui/calendar_month.html", context)


# --- handling units (承办单位) --------------------------------------------------------------------


@require_safe
@config_required
def units(request: HttpRequest) -> HttpResponse:
    form = forms.UnitFilterForm(request.GET or None)
    qs = HandlingUnit.objects.select_related("region").order_by("region_code", "kind", "name", "pk")
    region = form.value("region")
    if region is not None:
        qs = qs.filter(region_scope_q(region, "region_code"))
    kind = form.value("kind")
    if kind:
        qs = qs.filter(kind=kind)
    status = form.value("status")
    if status:
        qs = qs.filter(is_active=status == "active")
    term = form.value("q")
    if term:
        qs = qs.filter(name__icontains=term)
    return render(request, "settingsui/units.html", {"nav": "settings_units", "filter_form": form,
                                                     "page": _page(request, qs)})


def _unit_form_page(request: HttpRequest, form: forms.UnitForm, unit: HandlingUnit | None) -> HttpResponse:
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = unit_save(
                    unit=unit, name=form.cleaned_data["name"], kind=form.cleaned_data["kind"],
                    region=form.cleaned_data["region"], is_active=unit.is_active if unit else True,
                )
            except ValidationError as exc:
                forms.apply_errors(form, exc)
            else:
                messages.success(request, _("单位“%(name)s”已保存。") % {"name": saved.name})
                return redirect(f"{reverse('settingsui:units')}?{urlencode({'region': saved.region_code})}")
        return render(request, "settingsui/unit_form.html", {"form": form, "unit": unit, "nav": "settings_units"},
                      status=400)
    return render(request, "settingsui/unit_form.html", {"form": form, "unit": unit, "nav": "settings_units"})


@require_http_methods(["GET", "HEAD", "POST"])
@config_required
def unit_create(request: HttpRequest) -> HttpResponse:
    return _unit_form_page(request, forms.UnitForm(_posted(request)), None)


@require_http_methods(["GET", "HEAD", "POST"])
@config_required
def unit_edit(request: HttpRequest, pk: int) -> HttpResponse:
    unit = get_object_or_404(HandlingUnit.objects.select_related("region"), pk=pk)
    initial = {"name": unit.name, "kind": unit.kind, "region": unit.region.code}
    return _unit_form_page(request, forms.UnitForm(_posted(request), initial=initial), unit)


@require_POST
@config_required
def unit_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    unit = get_object_or_404(HandlingUnit.objects.select_related("region"), pk=pk)
    try:
        saved = unit_save(unit=unit, name=unit.name, kind=unit.kind, region=unit.region, is_active=not unit.is_active)
    except ValidationError as exc:
        # A unit stored before today's checks (say, with a hidden character in its name) is fixed by editing it.
        messages.error(request, _("无法更改“%(name)s”：%(errors)s 请先修改该单位。") % {
            "name": unit.name, "errors": "；".join(exc.messages)})
        return redirect("settingsui:unit_edit", pk=unit.pk)
    if saved.is_active:
        messages.success(request, _("单位“%(name)s”已启用。") % {"name": saved.name})
    else:
        messages.success(request, _("单位“%(name)s”已停用，派遣和权责清单不再选择它。") % {"name": saved.name})
    return redirect(f"{reverse('settingsui:units')}?{urlencode({'region': saved.region_code})}")


# --- webhook endpoints ---------------------------------------------------------------------------


def _delivery_counts(endpoints: list[WebhookEndpoint]) -> dict[int, dict[str, int]]:
    since = timezone.now() - dt.timedelta(days=DELIVERY_WINDOW_DAYS)
    counts: dict[int, dict[str, int]] = {e.pk: dict.fromkeys(NotificationStatus.values, 0) for e in endpoints}
    rows = (
        Notification.objects.filter(channel=NotificationChannel.WEBHOOK, webhook__in=endpoints, created_at__gte=since)
        .values("webhook_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[row["webhook_id"]][row["status"]] = row["n"]
    return counts


@require_safe
@config_required
def webhooks(request: HttpRequest) -> HttpResponse:
    endpoints = list(WebhookEndpoint.objects.select_related("scope").order_by("-is_active", "name", "pk"))
    counts = _delivery_counts(endpoints)
    labels = dict(CaseAction.choices)
    rows = [
        {
            "endpoint": e,
            "counts": [(value, label, counts[e.pk][value]) for value, label in NotificationStatus.choices],
            "actions": [labels.get(a, a) for a in e.actions or []],
        }
        for e in endpoints
    ]
    return render(request, "settingsui/webhooks.html", {
        "nav": "settings_webhooks", "rows": rows, "window_days": DELIVERY_WINDOW_DAYS,
    })


def _show_secret_once(request: HttpRequest, endpoint: WebhookEndpoint, secret: str) -> HttpResponse:
    # Kept server-side in the session (never in a cookie or a URL) and removed on first display.
    request.session[SECRET_SESSION_KEY] = {"pk": endpoint.pk, "secret": secret}
    return redirect("settingsui:webhook_secret", pk=endpoint.pk)


def _webhook_form_page(request: HttpRequest, form: forms.WebhookForm, endpoint: WebhookEndpoint | None,
                       status: int = 200) -> HttpResponse:
    return render(request, "settingsui/webhook_form.html",
                  {"form": form, "endpoint": endpoint, "nav": "settings_webhooks"}, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@config_required
def webhook_create(request: HttpRequest) -> HttpResponse:
    form = forms.WebhookForm(_posted(request))
    if request.method != "POST":
        return _webhook_form_page(request, form, None)
    if form.is_valid():
        try:
            endpoint, secret = webhook_services.webhook_endpoint_create(**form.cleaned_data)
        except ValidationError as exc:
            forms.apply_errors(form, exc)
        else:
            return _show_secret_once(request, endpoint, secret)
    return _webhook_form_page(request, form, None, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
@config_required
def webhook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint.objects.select_related("scope"), pk=pk)
    initial = {"name": endpoint.name, "url": endpoint.url, "actions": endpoint.actions,
               "scope": endpoint.scope.code if endpoint.scope else ""}
    form = forms.WebhookForm(_posted(request), initial=initial)
    if request.method != "POST":
        return _webhook_form_page(request, form, endpoint)
    if form.is_valid():
        try:
            webhook_services.webhook_endpoint_update(endpoint=endpoint, **form.cleaned_data)
        except ValidationError as exc:
            forms.apply_errors(form, exc)
        else:
            messages.success(request, _("Webhook 订阅已保存。"))
            return redirect("settingsui:webhooks")
    return _webhook_form_page(request, form, endpoint, status=400)


@require_POST
@config_required
def webhook_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    if endpoint.is_active:
        webhook_services.webhook_endpoint_deactivate(endpoint=endpoint)
        messages.success(request, _("“%(name)s”已停用，不再向它发送通知。") % {"name": endpoint.name})
    else:
        webhook_services.webhook_endpoint_activate(endpoint=endpoint)
        messages.success(request, _("“%(name)s”已启用。") % {"name": endpoint.name})
    return redirect("settingsui:webhooks")


@require_POST
@config_required
def webhook_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    secret = webhook_services.webhook_endpoint_rotate_secret(endpoint=endpoint)
    return _show_secret_once(request, endpoint, secret)


@never_cache
@require_safe
@config_required
def webhook_secret(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    stored = request.session.get(SECRET_SESSION_KEY)
    secret = None
    if isinstance(stored, dict) and stored.get("pk") == endpoint.pk:
        secret = stored.get("secret")
        del request.session[SECRET_SESSION_KEY]
    return render(request, "settingsui/webhook_secret.html",
                  {"endpoint": endpoint, "secret": secret, "nav": "settings_webhooks"})


# --- call-backs (回访) ----------------------------------------------------------------------------


def _cases_in_scope(user: User) -> QuerySet[Any]:
    # Scoped by the case selector; secretary-mailbox letters stay out of every shared list.
    return case_list_for_user(user).exclude(channel=Channel.MAILBOX).order_by().values("pk")


def _pending_callbacks(user: User) -> QuerySet[CallBack]:
    return (
        CallBack.objects.filter(status=CallBackStatus.PENDING, case__in=_cases_in_scope(user))
        .select_related("case", "case__category", "case__category__parent", "case__region", "case__reporter")
        .order_by("created_at", "pk")
    )


@require_safe
@callbacks_required
def callbacks(request: HttpRequest) -> HttpResponse:
    page = _page(request, _pending_callbacks(_user(request)), size=20)
    rows = [{"callback": c, "reporter": reporter_label(c.case)} for c in page.object_list]
    return render(request, "settingsui/callbacks.html", {"nav": "callbacks", "page": page, "rows": rows})


@require_http_methods(["GET", "HEAD", "POST"])
@callbacks_required
def callback_record(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    callback = _pending_callbacks(user).filter(pk=pk).first()
    if callback is None:
        if CallBack.objects.filter(pk=pk, status=CallBackStatus.DONE, case__in=_cases_in_scope(user)).exists():
            messages.info(request, _("该回访已登记。"))
            return redirect("settingsui:callbacks")
        raise Http404
    form = forms.CallBackForm(_posted(request))
    context = {"nav": "callbacks", "callback": callback, "case": callback.case, "form": form,
               "reporter": reporter_label(callback.case)}
    if request.method != "POST":
        return render(request, "settingsui/callback_form.html", context)
    if not form.is_valid():
        return render(request, "settingsui/callback_form.html", context, status=400)
    try:
        followup.callback_record(
            callback=callback, actor=user, reached=form.cleaned_data["reached"] == "yes",
            satisfaction=form.cleaned_data["satisfaction"], note=form.cleaned_data["note"],
        )
    except CaseError as err:
        form.add_error(err.field if err.field in form.fields else None, str(err.message))
        return render(request, "settingsui/callback_form.html", context, status=err.http_status)
    messages.success(request, _("案件 %(number)s 的回访已登记。") % {"number": callback.case.number})
    return redirect("settingsui:callbacks")
