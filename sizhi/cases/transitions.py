"""The mechanism every case action shares: the guarded conditional UPDATE that moves a case and
writes its event, the permission and reason checks, and who is told about it."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import DISPATCHER_ROLES, Membership, User
from sizhi.accounts.selectors import active_memberships
from sizhi.cases import permissions
from sizhi.cases.errors import CaseConflict, CaseError, CasePermissionDenied, TransitionNotAllowed
from sizhi.cases.models import Case, CaseEvent
from sizhi.cases.text import clean_text
from sizhi.cases.workflow import TRANSITIONS, Channel
from sizhi.notify.services import notify_users, notify_webhooks
from sizhi.units.matrix import LEVELS_UPWARD
from sizhi.units.models import HandlingUnit


def dispatcher_memberships(region_code: str) -> list[Membership]:
    """The active dispatcher memberships whose scope holds the place, with their users."""
    prefixes = [region_code[:n] for n in (4, 6, 9, 12)]
    return [
        m for m in Membership.objects.filter(
            is_active=True, role__in=list(DISPATCHER_ROLES), scope__prefix__in=prefixes
        ).select_related("user", "scope")
        if m.scope is not None
    ]


def lowest_staffed_level(memberships: list[Membership], at_least: str) -> str:
    """The lowest level at or above `at_least` among `memberships`' scopes; the city when none."""
    levels = LEVELS_UPWARD[LEVELS_UPWARD.index(at_least):]
    staffed = {m.scope.level for m in memberships if m.scope is not None}
    return next((level for level in levels if level in staffed), levels[-1])


def choose_dispatchers(memberships: list[Membership], level: str) -> list[User]:
    """Those at `level`; when that level has none, those of the lowest centre that has some."""
    if not memberships:
        return []
    chosen = [m for m in memberships if m.scope is not None and m.scope.level == level]
    if not chosen:
        lowest = max(len(m.scope.prefix) for m in memberships if m.scope is not None)
        chosen = [m for m in memberships if m.scope is not None and len(m.scope.prefix) == lowest]
    return [m.user for m in chosen]


def managing_level(region_code: str, at_least: str) -> str:
    """The lowest level at or above `at_least` with an active dispatcher whose scope holds the
    place, so that no case waits in a queue nobody reads; the city when none does."""
    return lowest_staffed_level(dispatcher_memberships(region_code), at_least)


def dispatchers_for(case: Case) -> list[User]:
    """The dispatchers of the centre at the case's current level whose scope holds it; when that
    level has none, those of the lowest centre that does (the levels above see it in their lists)."""
    return choose_dispatchers(dispatcher_memberships(case.region_code), case.level)


def notify_dispatchers(case: Case, subject: str | None = None, *, users: list[User] | None = None) -> None:
    notify_users(
        users=dispatchers_for(case) if users is None else users,
        subject=subject or _("新上报：%(title)s") % {"title": case.title},
        body=_("案件 %(number)s 待处理。") % {"number": case.number},
        link=reverse("cases:detail", args=[case.pk]),
    )


def require(actor: User | None, case: Case, action: str) -> None:
    if case.status not in TRANSITIONS[action].sources:
        raise TransitionNotAllowed(action, case.status)
    if not permissions.can_perform(actor, case, action):
        raise CasePermissionDenied(_("您无权对该案件执行此操作。"))


def require_reason(reason: str, message: str) -> str:
    text = clean_text(reason)
    if not text:
        raise CaseError(message, code="reason_required", field="reason")
    if len(text) > 2000:
        raise CaseError(_("说明不能超过 2000 个字。"), code="reason_too_long", field="reason")
    return text


def actor_unit(actor: User | None, case: Case) -> HandlingUnit | None:
    # From the memberships the permission check already loaded: no query per transition.
    with_unit = [m for m in active_memberships(actor) if m.unit is not None]
    if not with_unit:
        return None
    return max(with_unit, key=lambda m: m.unit.region_code).unit  # type: ignore[union-attr]


def transition(
    *,
    case: Case,
    action: str,
    actor: User | None,
    reason: str = "",
    changes: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    is_public: bool = True,
) -> CaseEvent:
    """Move the case with a conditional UPDATE on (status, version): of two actors who act on
    the same case at the same moment exactly one wins, the other gets CaseConflict (HTTP 409)."""
    transition = TRANSITIONS[action]
    now = timezone.now()
    changes = dict(changes or {})
    target = transition.target_from(case.status)
    from sizhi.insight import rollups  # insight reads cases: imported here, not at the top

    before = rollups.locked_state(case.pk)
    updated = Case.objects.filter(pk=case.pk, status=case.status, version=case.version).update(
        **changes, status=target, updated_at=now, version=F("version") + 1
    )
    if updated != 1:
        raise CaseConflict()
    if before is not None:  # the dashboards' roll-ups move in this same transaction
        after = rollups.changed(before, changes, target)
        rollups.record(before, after if after is not None else rollups.locked_state(case.pk))
    # The unit the event concerns: the one holding the case before the change (a return, an
    # escalation), or else the one it goes to (a dispatch).
    unit_id = case.assigned_unit_id or getattr(changes.get("assigned_unit"), "pk", None)
    event = CaseEvent.objects.create(
        case=case, action=action, from_status=case.status, to_status=target, actor=actor, unit_id=unit_id,
        actor_unit=actor_unit(actor, case), reason=reason, data=data or {}, is_public=is_public,
        created_at=now,
    )
    if case.channel != Channel.MAILBOX:  # a letter's existence is never told to another system
        notify_webhooks(
            action=action, region_code=case.region_code,
            event_payload={
                "event": event.pk, "case": case.number, "action": action, "from_status": event.from_status,
                "to_status": target, "unit": unit_id, "at": now.isoformat(), "region": case.region_code,
            },
        )
    for field, value in changes.items():
        setattr(case, field, value)
    case.status = target
    case.updated_at = now
    case.version += 1
    return event



def tell_reporter(case: Case, subject: str, body: str) -> None:
    if case.reporter_id is not None and case.reporter is not None:
        notify_users(
            users=[case.reporter], subject=subject, body=body,
            link=reverse("web:case_track", args=[case.tracking_code]), sms=True,
        )


def tell_unit(unit: HandlingUnit, case: Case, subject: str) -> None:
    users = User.objects.filter(memberships__unit=unit, memberships__is_active=True).distinct()
    notify_users(users=users, subject=subject, body=case.title, link=reverse("cases:detail", args=[case.pk]))
