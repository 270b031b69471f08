"""Every read of cases goes through here, so lists, counts, search and exports are scoped
exactly like detail pages: what a user cannot open, they cannot count either."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth.models import AnonymousUser
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from sizhi.accounts.models import DISPATCHER_ROLES, HANDLER_ROLES, Role, User
from sizhi.accounts.selectors import active_memberships
from sizhi.cases.models import Attachment, Case, CaseEvent, Category, CategoryAttribute
from sizhi.cases.permissions import can_view_case, case_scope_q
from sizhi.cases.text import clean_text
from sizhi.cases.workflow import CaseStatus

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
) -> QuerySet[Case]:
    """The cases in the user's scope. `category` includes its sub-categories; `created_from` and
    `created_to` are local calendar days, both included."""
    scope = case_scope_q(user)
    if scope is None:
        return Case.objects.none()
    qs = Case.objects.filter(scope)
    if status and status in CaseStatus.values:
        qs = qs.filter(status=status)
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


def case_queue_for_user(user: AnyUser) -> QuerySet[Case]:
    """What waits for this user's action: dispatchers see intake, registration, dispatch and
    closure; unit members see what was sent to their unit; grid workers what to verify."""
    parts: list[Q] = []
    for m in active_memberships(user):
        if m.role in DISPATCHER_ROLES and m.scope is not None:
            parts.append(
                Q(region_code__startswith=m.scope.prefix)
                & Q(status__in=[CaseStatus.REPORTED, CaseStatus.ACCEPTED, CaseStatus.REGISTERED,
                                CaseStatus.VERIFYING, CaseStatus.VERIFIED])
            )
        if m.unit_id is not None and (m.role in HANDLER_ROLES or m.role in DISPATCHER_ROLES):
            parts.append(Q(assigned_unit_id=m.unit_id, status__in=[CaseStatus.DISPATCHED, CaseStatus.HANDLING]))
        if m.role == Role.GRID_WORKER and m.grid_id is not None:
            parts.append(Q(grid_id=m.grid_id, status=CaseStatus.VERIFYING))
    if not parts:
        return Case.objects.none()
    combined = parts[0]
    for q in parts[1:]:
        combined |= q
    return _with_related(Case.objects.filter(combined)).order_by("created_at", "id")


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
