"""Reads of the Open311 API. Every request, token and update it returns comes from
`public_cases`, so no list, lookup or feed can show a case the others would hide."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery

from sizhi.cases.models import Case, CaseEvent, Category, CategoryAttribute
from sizhi.cases.selectors import TRACKING_CODE
from sizhi.cases.workflow import FINAL_STATUSES, CaseAction, Channel
from sizhi.open311.models import Open311Request

# Letters to the party secretary are confidential by nature and never leave the platform.
CONFIDENTIAL_CHANNELS = frozenset({Channel.MAILBOX})
# A rating says nothing about the city's work and is the reporter's own words.
UNPUBLISHED_ACTIONS = frozenset({CaseAction.RATE})
# Events whose text is the reporter's own words: published without it.
REPORTER_WORDS = frozenset({CaseAction.SUBMIT, CaseAction.REOPEN})
MAX_RESULTS = 1000


def _has_field(model: type[Case], name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def public_cases() -> QuerySet[Case]:
    """The cases Open311 may show: every public channel, nothing marked confidential."""
    qs = Case.objects.exclude(channel__in=list(CONFIDENTIAL_CHANNELS))
    # A confidentiality flag is planned for cases; once it exists it is honoured here at once.
    if _has_field(Case, "is_confidential"):
        qs = qs.filter(**{"is_confidential": False})
    return qs


def is_closed(status: str) -> bool:
    return status in FINAL_STATUSES


# --- services --------------------------------------------------------------------------------


def services() -> QuerySet[Category]:
    """Leaf categories are the services; a top-level category is one only when it has no
    active children. A category whose parent is switched off is not offered either."""
    return (
        Category.objects.annotate(
            has_active_children=Exists(Category.objects.filter(parent=OuterRef("pk"), is_active=True)),
            has_attributes=Exists(CategoryAttribute.objects.filter(category=OuterRef("pk"))),
        )
        .filter(
            Q(is_active=True)
            & (Q(parent__isnull=False, parent__is_active=True) | Q(parent__isnull=True, has_active_children=False))
        )
        .select_related("parent")
        .order_by("parent__order", "parent__code", "order", "code")
    )


def service_by_code(code: str) -> Category | None:
    return services().filter(code=code).first()


def service_attributes(category: Category) -> list[CategoryAttribute]:
    return list(CategoryAttribute.objects.filter(category=category).order_by("order", "code"))


def category_codes_known(codes: Iterable[str]) -> set[str]:
    """Which of these are codes of any category, active or not (old requests keep theirs)."""
    return set(Category.objects.filter(code__in=list(codes)).values_list("code", flat=True))


# --- requests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestQuery:
    service_request_ids: Sequence[str] = ()
    service_codes: Sequence[str] = ()
    statuses: Sequence[str] = ()
    start: datetime | None = None
    end: datetime | None = None
    page: int = 1
    page_size: int = MAX_RESULTS


def _published_events() -> QuerySet[CaseEvent]:
    return CaseEvent.objects.filter(is_public=True).exclude(action__in=list(UNPUBLISHED_ACTIONS))


def _with_everything(qs: QuerySet[Case], *, timeline: bool) -> QuerySet[Case]:
    latest = _published_events().filter(case=OuterRef("pk")).order_by("-created_at", "-id").values("pk")[:1]
    qs = qs.select_related(
        "category", "category__parent", "assigned_unit", "open311",
        "region", "region__parent", "region__parent__parent", "region__parent__parent__parent",
    ).annotate(latest_event_id=Subquery(latest))
    if timeline:
        qs = qs.prefetch_related(Prefetch("events", queryset=_published_events(), to_attr="published_events"))
    return qs


def requests_matching(query: RequestQuery, *, timeline: bool = False) -> list[Case]:
    """The cases of a GET requests call, newest first. A list of ids overrides every other
    filter, as the spec says; otherwise the date window always applies."""
    qs = public_cases()
    if query.service_request_ids:
        qs = qs.filter(number__in=list(query.service_request_ids))
    else:
        if query.service_codes:
            qs = qs.filter(category__code__in=list(query.service_codes))
        if query.statuses and set(query.statuses) != {"open", "closed"}:
            closed = Q(status__in=list(FINAL_STATUSES))
            qs = qs.filter(closed if "closed" in query.statuses else ~closed)
        if query.start is not None:
            qs = qs.filter(created_at__gte=query.start)
        if query.end is not None:
            qs = qs.filter(created_at__lte=query.end)
    offset = (query.page - 1) * query.page_size
    qs = _with_everything(qs, timeline=timeline).order_by("-created_at", "-id")
    return _attach_status_notes(list(qs[offset : offset + query.page_size]))


def request_by_id(service_request_id: str, *, timeline: bool = False) -> Case | None:
    found = requests_matching(RequestQuery(service_request_ids=[service_request_id]), timeline=timeline)
    return found[0] if found else None


def _attach_status_notes(cases: list[Case]) -> list[Case]:
    """Each case's latest published event, fetched for the whole page in one query."""
    ids = [c.latest_event_id for c in cases if c.latest_event_id is not None]  # type: ignore[attr-defined]
    events = {e.pk: e for e in CaseEvent.objects.filter(pk__in=ids).only("id", "action", "reason")}
    for case in cases:
        case.latest_event = events.get(case.latest_event_id)  # type: ignore[attr-defined]
    return cases


def status_notes(case: Case) -> str | None:
    event: CaseEvent | None = getattr(case, "latest_event", None)
    if event is None or event.action in REPORTER_WORDS or not event.reason:
        return None
    return event.reason


def requests_for_token(token: str) -> list[tuple[Case, str]]:
    """Cases a token names: a case's tracking code, or a retry token a client sent with its
    POST (different clients may have picked the same one)."""
    qs = public_cases()
    match = Q(open311__token=token)
    if TRACKING_CODE.fullmatch(token):
        match |= Q(tracking_code=token)
    return [(case, token) for case in qs.filter(match).order_by("created_at", "id")]


def open311_request_for(case: Case) -> Open311Request | None:
    try:
        return case.open311
    except Open311Request.DoesNotExist:
        return None


# --- updates (mySociety's servicerequestupdates) -----------------------------------------------


def updates_between(start: datetime, end: datetime, *, limit: int = MAX_RESULTS) -> list[CaseEvent]:
    """Published events of public cases in the window, oldest first, the submission excluded
    (it is the request itself, not an update to it)."""
    return list(
        _published_events()
        .filter(case__in=public_cases(), created_at__gte=start, created_at__lte=end)
        .exclude(action=CaseAction.SUBMIT)
        .select_related("case")
        .order_by("created_at", "id")[:limit]
    )


def update_description(event: CaseEvent) -> str | None:
    if event.action in REPORTER_WORDS or not event.reason:
        return None
    return event.reason
