"""Every read of cases goes through here, so lists, counts, search and exports are scoped
exactly like detail pages: what a user cannot open, they cannot count either."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth.models import AnonymousUser
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import DISPATCHER_ROLES, HANDLER_ROLES, Role, User
from sizhi.accounts.phones import mask_phone
from sizhi.accounts.selectors import active_memberships
from sizhi.cases.models import (
    Assignment,
    Attachment,
    Case,
    CaseEvent,
    Category,
    CategoryAttribute,
    ExtensionRequest,
)
from sizhi.cases.permissions import can_view_case, case_scope_q
from sizhi.cases.text import clean_text
from sizhi.cases.workflow import ACTIVE_ASSIGNMENT, AssignmentRole, CaseStatus, WarningLevel
from sizhi.regions.models import RegionLevel
from sizhi.units.matrix import LEVELS_UPWARD, levels_above
from sizhi.units.models import HandlingUnit

AnyUser = User | AnonymousUser | None

# Sort keys a client may ask for; anything else falls back to the default (never passed raw to SQL).
ORDERINGS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "updated": ("-updated_at", "-id"),
    "number": ("number",),
}
# What services.new_tracking_code produces; anything else is not looked up at all.
TRACKING_CODE = re.compile(r"[A-Za-z0-9_-]{16,32}")


def _with_related(qs: QuerySet[Case]) -> QuerySet[Case]:
    return qs.select_related("category", "category__parent", "region", "grid", "assigned_unit")


def case_list_for_user(
    user: AnyUser,
    *,
    status: str | None = None,
    search: str | None = None,
    ordering: str = "newest",
    category: Category | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    warning: str | None = None,
) -> QuerySet[Case]:
    """The cases in the user's scope. `category` includes its sub-categories; `created_from` and
    `created_to` are local calendar days, both included; `warning` is a WarningLevel value."""
    scope = case_scope_q(user)
    if scope is None:
        return Case.objects.none()
    qs = Case.objects.filter(scope)
    if status and status in CaseStatus.values:
        qs = qs.filter(status=status)
    if warning and warning in WarningLevel.values:
        qs = qs.filter(warning=warning)
    # Cleaned like stored text: a NUL is refused by PostgreSQL and a lone surrogate by every driver.
    term = clean_text(search)[:50]
    if term:
        qs = qs.filter(Q(number__iexact=term) | Q(title__icontains=term) | Q(address__icontains=term))
    if category is not None:
        qs = qs.filter(Q(category=category) | Q(category__parent=category))
    # Bounds on the indexed timestamp rather than a __date lookup, which no index can answer.
    if created_from is not None:
        start = _local_day_start(created_from)
        if start is not None:
            qs = qs.filter(created_at__gte=start)
    if created_to is not None:
        end = _local_day_start(created_to + timedelta(days=1)) if created_to < date.max else None
        if end is not None:
            qs = qs.filter(created_at__lt=end)
    return _with_related(qs).order_by(*ORDERINGS.get(ordering, ORDERINGS["newest"]))


def _local_day_start(day: date) -> datetime | None:
    """Midnight of `day` in the platform's time zone; None when it cannot be represented (year 1)."""
    try:
        start = timezone.make_aware(datetime.combine(day, time.min))
        start.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return start


def case_get_for_user(user: AnyUser, pk: int) -> Case | None:
    """The case if the user may see it, otherwise None (the view answers 404 either way)."""
    case = _with_related(Case.objects.filter(pk=pk)).select_related("reporter", "handler").first()
    if case is None or not can_view_case(user, case):
        return None
    return case


# What a command centre acts on: intake, registration and dispatch, verification and closure.
CENTRE_QUEUE_STATUSES = [
    CaseStatus.REPORTED, CaseStatus.ACCEPTED, CaseStatus.REGISTERED, CaseStatus.VERIFYING, CaseStatus.VERIFIED,
]
UNIT_QUEUE_STATUSES = [CaseStatus.DISPATCHED, CaseStatus.HANDLING]


def case_queue_for_user(user: AnyUser) -> QuerySet[Case]:
    """What waits for this user's action: dispatchers see intake, registration, dispatch and
    closure of the cases their centre manages now (the case's level is their scope's level, so an
    escalated case leaves the town's queue for the district's); unit members see what was sent to
    their unit as lead or as an assisting unit; grid workers what to verify."""
    parts: list[Q] = []
    for m in active_memberships(user):
        if m.role in DISPATCHER_ROLES and m.scope is not None:
            parts.append(
                Q(region_code__startswith=m.scope.prefix, level=m.scope.level, status__in=CENTRE_QUEUE_STATUSES)
            )
        if m.unit_id is not None and (m.role in HANDLER_ROLES or m.role in DISPATCHER_ROLES):
            parts.append(Q(assigned_unit_id=m.unit_id, status__in=UNIT_QUEUE_STATUSES))
            # One Q, so the three conditions hold for the same assignment row.
            parts.append(
                Q(
                    assignments__unit_id=m.unit_id,
                    assignments__role=AssignmentRole.ASSIST,
                    assignments__status__in=list(ACTIVE_ASSIGNMENT),
                    status__in=UNIT_QUEUE_STATUSES,
                )
            )
        if m.role == Role.GRID_WORKER and m.grid_id is not None:
            parts.append(Q(grid_id=m.grid_id, status=CaseStatus.VERIFYING))
    if not parts:
        return Case.objects.none()
    combined = parts[0]
    for q in parts[1:]:
        combined |= q
    # The assignment join can repeat a case (two assisting units of one user, or lead and assist).
    return _with_related(Case.objects.filter(combined).distinct()).order_by("created_at", "id")


def cases_of_reporter(user: AnyUser) -> QuerySet[Case]:
    if user is None or not user.is_authenticated:
        return Case.objects.none()
    return _with_related(Case.objects.filter(reporter=user)).order_by("-created_at", "-id")


def case_by_tracking_code(code: str) -> Case | None:
    code = (code or "").strip()
    if not TRACKING_CODE.fullmatch(code):
        return None
    return _with_related(Case.objects.filter(tracking_code=code)).first()


def case_timeline(case: Case, *, public_only: bool) -> QuerySet[CaseEvent]:
    qs = case.events.select_related("actor", "actor_unit").prefetch_related("attachments")
    return qs.filter(is_public=True) if public_only else qs


def case_attachments(case: Case, *, public_only: bool) -> QuerySet[Attachment]:
    """A case's photos; for the public (the reporter), only those of public events, exactly as
    the public timeline shows them."""
    qs = case.attachments.select_related("event").order_by("created_at", "id")
    return qs.filter(Q(event__isnull=True) | Q(event__is_public=True)) if public_only else qs


def category_tree() -> QuerySet[Category]:
    """Active top-level categories with their active children prefetched, in display order."""
    children = Category.objects.filter(is_active=True).order_by("order", "code")
    return (
        Category.objects.filter(is_active=True, parent__isnull=True)
        .prefetch_related(Prefetch("children", queryset=children, to_attr="active_children"))
        .order_by("order", "code")
    )


def category_attributes(category: Category | None) -> QuerySet[CategoryAttribute]:
    """The further questions a report of `category` asks, in the order they are shown (the
    citizen form renders these; Open311 publishes them as the service definition)."""
    if category is None:
        return CategoryAttribute.objects.none()
    return CategoryAttribute.objects.filter(category=category).order_by("order", "code")


# --- 一网统管: units, levels, assignments, extensions ----------------------------------------------


def dispatch_units_for_user(user: AnyUser, case: Case) -> QuerySet[HandlingUnit]:
    """Active units a dispatcher may send this case to, as lead or assisting unit: the unit's
    region contains the case (its prefix is a prefix of the case's code) and lies inside one of
    the dispatcher's scopes. services.case_dispatch checks the same rule again through
    permissions.can_dispatch_to."""
    scopes = [
        m.scope.prefix for m in active_memberships(user) if m.role in DISPATCHER_ROLES and m.scope is not None
    ]
    if not scopes:
        return HandlingUnit.objects.none()
    in_scope = Q()
    for prefix in scopes:
        in_scope |= Q(region_code__startswith=prefix)
    containing = [case.region_code[:n] for n in (4, 6, 9, 12)]
    return (
        HandlingUnit.objects.filter(in_scope, is_active=True, region__prefix__in=containing)
        .select_related("region")
        .order_by("-region_code", "kind", "name")
    )


def intake_level(case: Case) -> str:
    """The lowest command centre a case can be managed by: the town for a case placed in a
    village, otherwise the level of the region it is placed in (services.intake_routing)."""
    level = case.region.level
    return RegionLevel.TOWN if level == RegionLevel.VILLAGE else level


def escalation_level(case: Case) -> str | None:
    """The level 上报 sends the case to, or None at the top."""
    above = levels_above(case.level) if case.level in LEVELS_UPWARD else []
    return above[0] if above else None


def delegation_levels(case: Case) -> list[tuple[str, str]]:
    """Levels 下派 may hand the case to, nearest first: below the case's level and not below
    its region's intake level. linkage.case_delegate applies the same rule."""
    if case.level not in LEVELS_UPWARD:
        return []
    lowest = LEVELS_UPWARD.index(RegionLevel(intake_level(case)))
    current = LEVELS_UPWARD.index(RegionLevel(case.level))
    return [(str(lv), str(RegionLevel(lv).label)) for lv in reversed(LEVELS_UPWARD[lowest:current])]


def case_assignments(case: Case) -> QuerySet[Assignment]:
    """Every unit's part in the case, current and past, in the order they were given."""
    return case.assignments.select_related("unit", "unit__region").order_by("assigned_at", "id")


def case_extension_requests(case: Case) -> QuerySet[ExtensionRequest]:
    """The case's extension requests, newest first."""
    return case.extension_requests.select_related("requested_by", "decided_by").order_by("-created_at", "-id")


def masked_reporter(case: Case) -> str | None:
    """Who reported, as staff may see it: a masked name and number, never in full (PIPL
    minimisation); None for an anonymous report or one without an account."""
    if case.is_anonymous or case.reporter is None:
        return None
    reporter = case.reporter
    name = reporter.display_name.strip()
    masked = f"{name[0]}{'*' * max(len(name) - 1, 1)}" if name else str(_("群众"))
    return f"{masked} · {mask_phone(reporter.phone)}" if reporter.phone else masked
