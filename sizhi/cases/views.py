"""Staff workbench (工作台): my queue, the cases in my scope, one case with the actions I may take.

Every view: a signed-in, non-admin staff member (anyone else gets the 403 page), every case
read through cases.selectors (outside the user's scope is 404, whatever the channel), every
change through exactly one function of cases.services. A service's CaseError becomes a message
on the page with the error's own HTTP status, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from sizhi.accounts.models import User
from sizhi.accounts.selectors import is_staff_member
from sizhi.authz.console import console_hidden_from
from sizhi.cases import forms as case_forms
from sizhi.cases import linkage, merging, permissions, selectors, services
from sizhi.cases.errors import CaseError, CasePermissionDenied, TransitionNotAllowed
from sizhi.cases.models import (
    Assignment,
    Attachment,
    AttachmentKind,
    Case,
    Category,
    CategoryAttribute,
    ExtensionRequest,
    ExtensionStatus,
)
from sizhi.cases.workflow import (
    ACTIVE_ASSIGNMENT,
    OPEN_STATUSES,
    TRANSITIONS,
    AssignmentRole,
    CaseAction,
    CaseStatus,
    allowed_actions,
)
from sizhi.insight.duplicates import similar_open_cases
from sizhi.insight.models import ClassifierModel
from sizhi.insight.services import suggest_category
from sizhi.units.matrix import Resolution, resolve

PAGE_SIZE = 20

ViewFunc = Callable[..., HttpResponseBase]


# --- access --------------------------------------------------------------------------------------


def login_url() -> str:
    # The login page belongs to the accounts app; until it is mounted the path is still right.
    try:
        return reverse(settings.LOGIN_URL)
    except NoReverseMatch:
        return "/accounts/login/"


def staff_required(view: ViewFunc) -> ViewFunc:
    """Signed-in staff with at least one case-handling (non-admin) membership. The three
    administrator roles get a 404, like the pages of the other admins (sizhi.authz.console);
    citizens get the 403 page that says the workbench is for staff."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url())
        if console_hidden_from(request.user):
            raise Http404
        if not is_staff_member(request.user):
            return render(request, "cases/403.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _staff(request: HttpRequest) -> User:
    # staff_required has run: the user is a signed-in accounts.User.
    return cast(User, request.user)


def _case_or_404(user: User, pk: int) -> Case:
    case = selectors.case_get_for_user(user, pk)
    if case is None:
        raise Http404
    return case


def _page(request: HttpRequest, qs: QuerySet[Case]) -> Page:
    # get_page turns a missing, non-numeric or too-large page number into a valid page.
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


# --- lists ---------------------------------------------------------------------------------------


@require_safe
@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    page = _page(request, selectors.case_queue_for_user(_staff(request)))
    return render(request, "cases/queue.html", {"page": page, "nav": "queue"})


@require_safe
@staff_required
def case_list(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    form = case_forms.CaseListFilterForm(request.GET)
    status = form.value("status")
    warning = form.value("warning")
    search = request.GET.get("q", "")
    ordering = form.value("ordering") or "newest"
    qs = selectors.case_list_for_user(
        user, status=status or None, warning=warning or None, search=search, ordering=ordering
    )
    page = _page(request, qs)
    context = {
        "page": page,
        "nav": "list",
        "filter_form": form,
        "filter_status": status,
        "filter_warning": warning,
        "filter_q": search[:50],
        "filter_ordering": ordering,
    }
    return render(request, "cases/list.html", context)


# --- actions -------------------------------------------------------------------------------------

# A service's result (a CaseEvent, or the ExtensionRequest an extension request creates); the
# view only needs to know that it succeeded.
Perform = Callable[[Case, User, dict[str, Any]], object]


@dataclass(frozen=True)
class ConsoleAction:
    form_class: type[case_forms.ActionForm]
    perform: Perform
    success: Promise


def _accept(case: Case, actor: User, data: dict[str, Any]) -> object:
    return services.case_accept(case=case, actor=actor, reason=data["reason"])


def _reject(case: Case, actor: User, data: dict[str, Any]) -> object:
    return services.case_reject(
        case=case, actor=actor, kind=data["kind"], reason=data["reason"], duplicate_of=data["duplicate_of"]
    )


def _register(case: Case, actor: User, data: dict[str, Any]) -> object:
    return services.case_register(case=case, actor=actor, category=data["category"], reason=data["reason"])


def _dispatch(case: Case, actor: User, data: dict[str, Any]) -> object:
    return services.case_dispatch(
        case=case, actor=actor, unit=data["unit"], assist_units=list(data["assist_units"]),
        priority=data["priority"], reason=data["reason"],
    )


def _escalate(case: Case, actor: User, data: dict[str, Any]) -> object:
    return linkage.case_escalate(case=case, actor=actor, reason=data["reason"])


def _delegate(case: Case, actor: User, data: dict[str, Any]) -> object:
    return linkage.case_delegate(case=case, actor=actor, level=data["level"], reason=data["reason"])


def _extend_request(case: Case, actor: User, data: dict[str, Any]) -> object:
    return linkage.case_extend_request(case=case, actor=actor, days=data["days"], reason=data["reason"])


def _suspend(case: Case, actor: User, data: dict[str, Any]) -> object:
    return linkage.case_suspend(case=case, actor=actor, reason=data["reason"])


def _resume(case: Case, actor: User, data: dict[str, Any]) -> object:
    return linkage.case_resume(case=case, actor=actor, reason=data["reason"])


def _sign_for(case: Case, actor: User, data: dict[str, Any]) -> object:
    return services.case_sign_for(case=case, actor=actor)


def _return(case: Case, actor: User, data: dict[str, Any]) -> object:
    return services.case_return(case=case, actor=actor, reason=data["reason"])


def _handle(case: Case, actor: User, data: dict[str, Any]) -> object:
    return services.case_handle(case=case, actor=actor, result=data["result"], photos=data["photos"])


def _verify_pass(case: Case, actor: User, data: dict[str, Any]) -> object:
    return services.case_verify(case=case, actor=actor, passed=True, reason=data["reason"])


def _verify_fail(case: Case, actor: User, data: dict[str, Any]) -> object:
    return services.case_verify(case=case, actor=actor, passed=False, reason=data["reason"])


def _close(case: Case, actor: User, data: dict[str, Any]) -> object:
    return services.case_close(case=case, actor=actor, reason=data["reason"])


def _merge(case: Case, actor: User, data: dict[str, Any]) -> object:
    return merging.case_merge(case=case, into=data["into"], actor=actor, reason=data["reason"])


# The staff actions, in the order their forms appear. Rating and reopening belong to the
# reporter and live in the citizen portal.
ACTIONS: dict[str, ConsoleAction] = {
    CaseAction.ACCEPT: ConsoleAction(case_forms.AcceptForm, _accept, gettext_lazy("已受理。")),
    CaseAction.REJECT: ConsoleAction(case_forms.RejectForm, _reject, gettext_lazy("已不予受理。")),
    CaseAction.REGISTER: ConsoleAction(case_forms.RegisterForm, _register, gettext_lazy("已立案。")),
    CaseAction.DISPATCH: ConsoleAction(case_forms.DispatchForm, _dispatch, gettext_lazy("已派遣。")),
    CaseAction.DELEGATE: ConsoleAction(case_forms.DelegateForm, _delegate, gettext_lazy("已下派。")),
    CaseAction.SIGN_FOR: ConsoleAction(case_forms.SignForForm, _sign_for, gettext_lazy("已签收。")),
    CaseAction.RETURN: ConsoleAction(case_forms.ReturnForm, _return, gettext_lazy("已退回。")),
    CaseAction.HANDLE: ConsoleAction(case_forms.HandleForm, _handle, gettext_lazy("处置结果已提交，等待核查。")),
    CaseAction.EXTEND_REQUEST: ConsoleAction(
        case_forms.ExtendRequestForm, _extend_request, gettext_lazy("延期申请已提交，等待调度员审批。")
    ),
    CaseAction.SUSPEND: ConsoleAction(case_forms.SuspendForm, _suspend, gettext_lazy("已缓办，计时暂停。")),
    CaseAction.RESUME: ConsoleAction(case_forms.ResumeForm, _resume, gettext_lazy("已恢复办理，时限相应顺延。")),
    CaseAction.ESCALATE: ConsoleAction(case_forms.EscalateForm, _escalate, gettext_lazy("已上报上级。")),
    CaseAction.VERIFY_PASS: ConsoleAction(case_forms.VerifyPassForm, _verify_pass, gettext_lazy("核查通过。")),
    CaseAction.VERIFY_FAIL: ConsoleAction(
        case_forms.VerifyFailForm, _verify_fail, gettext_lazy("核查不通过，已退回重新处置。")
    ),
    CaseAction.CLOSE: ConsoleAction(case_forms.CloseForm, _close, gettext_lazy("已结案。")),
    # Not among the page's action panels (the workflow lists 并案 as an object action): its forms
    # sit in the 相似案件 panel, one per suggestion plus one by number.
    CaseAction.MERGE: ConsoleAction(
        case_forms.MergeForm, _merge, gettext_lazy("已并案，反映人将随主案件获知办理结果。")
    ),
}

# verify_pass and verify_fail are two buttons of one form on the page.
PANEL_OF: dict[str, str] = {CaseAction.VERIFY_PASS: "verify", CaseAction.VERIFY_FAIL: "verify"}


def _has_target(case: Case, action: str) -> bool:
    """上报 at the top level and 下派 with no level below have nowhere to go: no form is offered
    (a forged POST still reaches the service, which refuses it with its own code)."""
    if action == CaseAction.ESCALATE:
        return selectors.escalation_level(case) is not None
    if action == CaseAction.DELEGATE:
        return bool(selectors.delegation_levels(case))
    return True


def available_actions(user: User, case: Case) -> list[str]:
    """The staff actions the workflow allows from the case's status and the user may take now."""
    allowed = set(allowed_actions(case.status))
    return [
        a for a in ACTIONS
        if a in allowed and permissions.can_perform(user, case, a) and _has_target(case, a)
    ]


# --- detail --------------------------------------------------------------------------------------


def reporter_label(case: Case) -> str:
    """The masked reporter for staff pages, or why there is none."""
    if case.is_anonymous:
        return _("匿名")
    return selectors.masked_reporter(case) or "—"


def attribute_answers(case: Case) -> list[tuple[str, str]]:
    """The reporter's answers to the category's further questions, as (question, answer) lines.
    Answers are stored by question code and list answers by option key; both are turned back
    into the words the reporter saw. An answer whose question no longer exists shows its code."""
    answers = case.attributes or {}
    if not answers:
        return []
    questions = {q.code: q for q in selectors.category_attributes(case.category)}
    missing = [code for code in answers if code not in questions]
    if missing:
        # Registration may have changed the category after the reporter answered; the words
        # then come from the question of that code in whichever category asks it.
        for q in CategoryAttribute.objects.filter(code__in=missing).order_by("-pk"):
            questions[q.code] = q
    lines: list[tuple[str, str]] = []
    for code, value in answers.items():
        question = questions.get(code)
        options = (question.values if question else None) or []
        names = {str(v.get("key")): str(v.get("name")) for v in options if isinstance(v, dict)}
        values = value if isinstance(value, list) else [value]
        shown = "、".join(names.get(str(v), str(v)) for v in values if v not in (None, ""))
        lines.append((question.description if question else code, shown or "—"))
    return lines


def _map_config(case: Case) -> dict[str, Any] | None:
    point = [case.lat, case.lng] if case.lat is not None and case.lng is not None else None
    grid = case.grid.boundary if case.grid is not None else None
    if point is None and grid is None:
        return None
    return {
        "point": point,
        "grid": grid,
        "center": list(settings.SIZHI_MAP_CENTER),
        # Tiles only when a deployment names a tile server; the point and grid draw without them.
        "tileUrl": settings.SIZHI_TILE_URL or None,
        "attribution": settings.SIZHI_TILE_ATTRIBUTION,
    }


# --- triage and duplicates ---------------------------------------------------------------------

# Before dispatch the category still matters: 待受理, 待立案, 待派遣.
TRIAGE_STATUSES = frozenset({CaseStatus.REPORTED, CaseStatus.ACCEPTED, CaseStatus.REGISTERED})


@dataclass(frozen=True)
class TriageOption:
    label: str  # the classifier's label: a top-level category code when trained from cases
    name: str  # the category's name, or the label itself when no active category has that code
    confidence: float  # 0–1
    category: Category | None

    @property
    def percent(self) -> int:
        return round(self.confidence * 100)

    @property
    def percent_label(self) -> str:
        # "0%" would read as "impossible"; the model only says "very unlikely".
        return "<1%" if self.confidence < 0.005 else f"{self.percent}%"


@dataclass(frozen=True)
class Triage:
    """The classifier's suggestion for a case, and where the responsibility matrix sends it."""

    top: TriageOption
    alternatives: list[TriageOption]
    resolution: Resolution | None
    # The category the reporter chose, when the suggestion differs from it.
    differs_from: Category | None
    # The active model version, so the dispatcher sees how far to trust it (its measured accuracy).
    model: ClassifierModel | None = None

    @property
    def category(self) -> Category | None:
        return self.top.category


def _categories_for(labels: list[str]) -> dict[str, Category]:
    """Active categories by label: by code first (models trained from cases use top-level codes),
    then by top-level name (a model trained from a spreadsheet may use names)."""
    found = {c.code: c for c in Category.objects.filter(code__in=labels, is_active=True).select_related("parent")}
    missing = [label for label in labels if label not in found]
    if missing:
        for c in Category.objects.filter(name__in=missing, parent__isnull=True, is_active=True):
            found.setdefault(c.name, c)
    return found


def case_triage(case: Case) -> Triage | None:
    """The suggested category with its confidence and alternatives, for a case still waiting for
    intake, registration or dispatch; None in any other status or when no model is active.
    Computed on every request: nothing is cached across requests."""
    if case.status not in TRIAGE_STATUSES:
        return None
    prediction = suggest_category(title=case.title, detail=case.description)
    if prediction is None:
        return None
    ranked = list(prediction.alternatives) or [(prediction.label, prediction.confidence)]
    if ranked[0][0] != prediction.label:
        ranked.insert(0, (prediction.label, prediction.confidence))
    categories = _categories_for([label for label, _confidence in ranked])
    options = [
        TriageOption(label=label, name=categories[label].name if label in categories else label,
                     confidence=float(confidence), category=categories.get(label))
        for label, confidence in ranked
    ]
    top = options[0]
    resolution = resolve(top.category, case.region) if top.category is not None else None
    current = case.category
    differs = (
        current is not None and top.category is not None and top.category.pk not in (current.pk, current.parent_id)
    )
    return Triage(
        top=top, alternatives=options[1:], resolution=resolution, differs_from=current if differs else None,
        model=ClassifierModel.objects.filter(is_active=True).first(),
    )


@dataclass(frozen=True)
class SimilarCase:
    case: Case
    score: float
    distance_m: float

    @property
    def percent(self) -> int:
        return round(self.score * 100)


def similar_cases(user: User, case: Case) -> list[SimilarCase]:
    """Open cases within the user's scope that look like the same problem at the same place."""
    if case.status not in OPEN_STATUSES:
        return []
    suggestions = similar_open_cases(
        text=f"{case.title}\n{case.description}", lat=case.lat, lng=case.lng, category=case.category_id,
        exclude_case_id=case.pk, visible_to=user,
    )
    if not suggestions:
        return []
    found = selectors.case_list_for_user(user).filter(pk__in=[s.case_id for s in suggestions]).in_bulk()
    return [
        SimilarCase(case=found[s.case_id], score=s.score, distance_m=s.distance_m)
        for s in suggestions
        if s.case_id in found
    ]


def can_merge(user: User, case: Case) -> bool:
    return case.status in TRANSITIONS[CaseAction.MERGE].sources and permissions.can_perform(
        user, case, CaseAction.MERGE
    )


@dataclass
class ActionError:
    message: str
    code: str
    action: str


@dataclass
class AssignmentRow:
    """One line of the 承办单位 panel with the forms this user may submit on it."""

    assignment: Assignment
    finish_form: case_forms.AssistFinishForm | None = None
    waive_form: case_forms.AssistWaiveForm | None = None


@dataclass
class ExtensionRow:
    extension: ExtensionRequest
    form: case_forms.ExtensionDecideForm | None = None


@dataclass(frozen=True)
class Bound:
    """A submitted form coming back to the page with what was typed and its errors. `key` is
    the assignment or extension request for the forms that act on one of those."""

    form: case_forms.ActionForm
    action: str
    key: int | None = None


def _may_act_on_assignment(user: User, case: Case, assignment: Assignment, action: str) -> bool:
    if action == CaseAction.ASSIST_FINISH:
        return permissions.can_work_on_assignment(user, assignment)
    return permissions.can_decide_for(user, case)


def _offers(user: User, case: Case, assignment: Assignment, action: str) -> bool:
    return case.status in TRANSITIONS[action].sources and _may_act_on_assignment(user, case, assignment, action)


FormT = TypeVar("FormT", bound=case_forms.ObjectActionForm)


def _object_form(
    form_class: type[FormT], *, user: User, case: Case, key: int, action: str, bound: Bound | None
) -> FormT:
    """The submitted form when it was this object's, otherwise a fresh one."""
    if bound is not None and bound.action == action and bound.key == key and isinstance(bound.form, form_class):
        return bound.form
    return form_class(user=user, case=case, key=key)


def _assignment_rows(user: User, case: Case, bound: Bound | None) -> list[AssignmentRow]:
    rows: list[AssignmentRow] = []
    for assignment in selectors.case_assignments(case):
        row = AssignmentRow(assignment)
        rows.append(row)
        if assignment.role != AssignmentRole.ASSIST or assignment.status not in ACTIVE_ASSIGNMENT:
            continue
        key = assignment.pk
        if _offers(user, case, assignment, CaseAction.ASSIST_FINISH):
            row.finish_form = _object_form(
                case_forms.AssistFinishForm, user=user, case=case, key=key, action=CaseAction.ASSIST_FINISH, bound=bound
            )
        if _offers(user, case, assignment, CaseAction.ASSIST_WAIVE):
            row.waive_form = _object_form(
                case_forms.AssistWaiveForm, user=user, case=case, key=key, action=CaseAction.ASSIST_WAIVE, bound=bound
            )
    return rows


def _extension_rows(user: User, case: Case, bound: Bound | None) -> list[ExtensionRow]:
    may_decide = (
        case.status in TRANSITIONS[CaseAction.EXTEND_APPROVE].sources and permissions.can_decide_for(user, case)
    )
    rows: list[ExtensionRow] = []
    for extension in selectors.case_extension_requests(case):
        row = ExtensionRow(extension)
        if may_decide and extension.status == ExtensionStatus.PENDING:
            row.form = _object_form(
                case_forms.ExtensionDecideForm, user=user, case=case, key=extension.pk, action="extend_decide",
                bound=bound,
            )
        rows.append(row)
    return rows


def _render_detail(
    request: HttpRequest,
    case: Case,
    *,
    bound: Bound | None = None,
    error: ActionError | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _staff(request)
    actions = available_actions(user, case)
    triage = case_triage(case)
    panels: dict[str, case_forms.ActionForm] = {}
    for action in actions:
        panel = PANEL_OF.get(action, action)
        if panel in panels:
            continue
        if action == CaseAction.REGISTER:
            suggested = triage.category if triage is not None else None
            panels[panel] = case_forms.RegisterForm(user=user, case=case, suggested=suggested)
        else:
            panels[panel] = ACTIONS[action].form_class(user=user, case=case)
    if bound is not None and bound.key is None:
        bound_panel = PANEL_OF.get(bound.action, bound.action)
        if bound_panel in panels:
            # The submitted form comes back with what was typed and its errors, but only while
            # the action is still possible (after a conflict the case may have moved on).
            panels[bound_panel] = bound.form

    merge_form: case_forms.ActionForm | None = None
    if can_merge(user, case):
        merge_form = (
            bound.form if bound is not None and bound.action == CaseAction.MERGE
            else case_forms.MergeForm(user=user, case=case)
        )
    primary = case.duplicate_of if case.status == CaseStatus.MERGED else None

    timeline = list(selectors.case_timeline(case, public_only=False))
    attachments = list(selectors.case_attachments(case, public_only=False))
    context = {
        "case": case,
        "nav": "list",
        "reporter_label": reporter_label(case),
        "attribute_answers": attribute_answers(case),
        "panels": panels,
        "actions": actions,
        "assignment_rows": _assignment_rows(user, case, bound),
        "extension_rows": _extension_rows(user, case, bound),
        "timeline": timeline,
        "report_photos": [a for a in attachments if a.kind == AttachmentKind.REPORT],
        "handling_photos": [a for a in attachments if a.kind == AttachmentKind.HANDLING],
        "map_config": _map_config(case),
        "action_error": error,
        "triage": triage,
        "similar": similar_cases(user, case),
        "show_similar": case.status in OPEN_STATUSES,
        "merge_form": merge_form,
        "supporter_count": merging.supporters(case),
        "primary": primary,
        "primary_visible": primary is not None and permissions.can_view_case(user, primary),
        "merged_here": list(
            selectors.case_list_for_user(user).filter(duplicate_of=case, status=CaseStatus.MERGED).order_by("number")
        ),
    }
    return render(request, "cases/detail.html", context, status=status)


@require_safe
@staff_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _case_or_404(_staff(request), pk))


def _run_action(
    request: HttpRequest,
    case: Case,
    *,
    action: str,
    allowed: Callable[[], bool],
    make_form: Callable[[], case_forms.ActionForm],
    perform: Callable[[dict[str, Any]], object],
    success: Promise | str,
    panel: str,
    key: int | None = None,
) -> HttpResponse:
    """Check the status and the permission, parse the form, call the one service, then
    POST/redirect/GET. An impossible action is refused (409/403) before its form is judged; the
    service checks both again under its conditional update. A CaseError comes back as a message
    on the page with the error's own HTTP status."""
    user = _staff(request)
    form: case_forms.ActionForm | None = None
    try:
        if case.status not in TRANSITIONS[action].sources:
            raise TransitionNotAllowed(action, case.status)
        if not allowed():
            raise CasePermissionDenied(_("您无权对该案件执行此操作。"))
        form = make_form()
        if not form.is_valid():
            error = ActionError(_("请检查填写的内容。"), "form_invalid", action)
            return _render_detail(request, case, bound=Bound(form, panel, key), error=error, status=400)
        perform(form.cleaned_data)
    except CaseError as err:
        if form is not None and err.field and err.field in form.fields:
            form.add_error(err.field, str(err.message))
        # Reloaded: after a conflict the copy in hand is stale, and the page must show the truth.
        fresh = selectors.case_get_for_user(user, case.pk) or case
        error = ActionError(str(err.message), err.code, action)
        bound = Bound(form, panel, key) if form is not None else None
        return _render_detail(request, fresh, bound=bound, error=error, status=err.http_status)

    messages.success(request, str(success))
    if not permissions.can_view_case(user, case):
        # The action handed the case out of this user's sight (e.g. returned by a unit outside
        # the case's region); the queue is where they continue.
        return redirect("cases:queue")
    return redirect("cases:detail", pk=case.pk)


@require_POST
@staff_required
def case_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One of the case's own actions (ACTIONS), through its form and its one service."""
    user = _staff(request)
    case = _case_or_404(user, pk)
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404
    return _run_action(
        request, case, action=action,
        allowed=lambda: permissions.can_perform(user, case, action),
        make_form=lambda: spec.form_class(request.POST, request.FILES, user=user, case=case),
        perform=lambda data: spec.perform(case, user, data),
        success=spec.success, panel=action,
    )


# The verbs of /assignments/<id>/<verb>/ and /extensions/<id>/<verb>/.
ASSIGNMENT_VERBS = {"finish": CaseAction.ASSIST_FINISH, "waive": CaseAction.ASSIST_WAIVE}
EXTENSION_VERBS = {"approve": CaseAction.EXTEND_APPROVE, "reject": CaseAction.EXTEND_REJECT}


@require_POST
@staff_required
def assignment_act(request: HttpRequest, pk: int, assignment_id: int, verb: str) -> HttpResponse:
    """协办完成 by a member of the assisting unit, 免除协办 by a dispatcher. The assignment must
    belong to a case the user may see, else 404 as for a case that does not exist."""
    user = _staff(request)
    case = _case_or_404(user, pk)
    action = ASSIGNMENT_VERBS.get(verb)
    assignment = Assignment.objects.filter(case=case, pk=assignment_id).select_related("unit").first()
    if action is None or assignment is None:
        raise Http404
    assignment.case = case
    finishing = action == CaseAction.ASSIST_FINISH
    form_class = case_forms.AssistFinishForm if finishing else case_forms.AssistWaiveForm

    def perform(data: dict[str, Any]) -> object:
        if finishing:
            return linkage.assist_finish(assignment=assignment, actor=user, result=data["result"])
        return linkage.assist_waive(assignment=assignment, actor=user, reason=data["reason"])

    return _run_action(
        request, case, action=action,
        allowed=lambda: _may_act_on_assignment(user, case, assignment, action),
        make_form=lambda: form_class(request.POST, user=user, case=case, key=assignment.pk),
        perform=perform,
        success=_("协办任务已完成。") if finishing else _("已免除协办。"),
        panel=action, key=assignment.pk,
    )


@require_POST
@staff_required
def extension_act(request: HttpRequest, pk: int, extension_id: int, verb: str) -> HttpResponse:
    """A dispatcher approves (the deadline moves) or refuses a pending extension request."""
    user = _staff(request)
    case = _case_or_404(user, pk)
    action = EXTENSION_VERBS.get(verb)
    extension = ExtensionRequest.objects.filter(case=case, pk=extension_id).first()
    if action is None or extension is None:
        raise Http404
    extension.case = case
    approve = action == CaseAction.EXTEND_APPROVE
    return _run_action(
        request, case, action=action,
        allowed=lambda: permissions.can_decide_for(user, case),
        make_form=lambda: case_forms.ExtensionDecideForm(request.POST, user=user, case=case, key=extension.pk),
        perform=lambda data: linkage.case_extend_decide(
            request=extension, actor=user, approve=approve, note=data["note"]
        ),
        success=_("已批准延期。") if approve else _("已驳回延期申请。"),
        panel="extend_decide", key=extension.pk,
    )


# --- photos --------------------------------------------------------------------------------------


@require_safe
@staff_required
def case_photo(request: HttpRequest, pk: int, attachment_id: int) -> FileResponse:
    """A case photo, streamed through the storage API to those who may see the case: media
    files are never served by URL, so this check cannot be bypassed by guessing a path."""
    case = _case_or_404(_staff(request), pk)
    attachment = Attachment.objects.filter(case=case, pk=attachment_id).first()
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.storage.open(attachment.file.name, "rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404 from exc
    # Every stored photo was re-encoded as JPEG by cases.photos; anything else is not served as an image.
    content_type = attachment.content_type
    if not content_type.startswith("image/"):
        content_type = "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{case.number}-{attachment.pk}.{attachment.extension}"'
    response["Cache-Control"] = "private, max-age=600"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
