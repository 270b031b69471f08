"""并案 and "me too"."""

from __future__ import annotations

import pytest

from sizhi.cases import merging, services
from sizhi.cases.errors import CaseError, CasePermissionDenied, TransitionNotAllowed
from sizhi.cases.models import Case, CaseSupporter
from sizhi.cases.tests.test_services_transitions import advance, reported
from sizhi.cases.workflow import OPEN_STATUSES, CaseAction, CaseStatus
from sizhi.conftest import World
from sizhi.notify.models import Notification


def test_merge_closes_the_copy_and_its_reporter_hears_the_outcome(world: World) -> None:
    primary = advance(world, reported(world, reporter="citizen"), CaseStatus.REGISTERED)
    copy = reported(world, reporter="citizen2")

    event = merging.case_merge(case=copy, into=primary, actor=world.user("town_dispatcher"))

    copy.refresh_from_db()
    assert copy.status == CaseStatus.MERGED and copy.duplicate_of == primary
    assert CaseStatus.MERGED not in OPEN_STATUSES
    assert event.data == {"into": primary.number}
    assert CaseSupporter.objects.get(case=primary).user == world.user("citizen2")
    assert primary.events.filter(action=CaseAction.SUPPORT).get().actor is None

    primary.refresh_from_db()
    advance(world, primary, CaseStatus.VERIFIED)  # clears the outbox
    services.case_close(case=primary, actor=world.user("town_dispatcher"))
    told = set(Notification.objects.values_list("recipient__username", flat=True))
    assert {"citizen", "citizen2"} <= told


def test_merge_refuses_self_closed_targets_and_out_of_scope(world: World) -> None:
    copy = reported(world)
    with pytest.raises(CaseError) as exc:
        merging.case_merge(case=copy, into=copy, actor=world.user("town_dispatcher"))
    assert exc.value.code == "merge_into_self"
    closed = advance(world, reported(world, reporter="citizen2"), CaseStatus.CLOSED)
    with pytest.raises(CaseError) as exc:
        merging.case_merge(case=copy, into=closed, actor=world.user("town_dispatcher"))
    assert exc.value.code == "merge_target_closed"
    elsewhere = reported(world, reporter="citizen2", grid=world.grid_b1)
    with pytest.raises(CaseError) as exc:
        merging.case_merge(case=copy, into=elsewhere, actor=world.user("town_dispatcher"))
    assert exc.value.code == "merge_target_not_found"
    with pytest.raises(CasePermissionDenied):
        merging.case_merge(case=copy, into=closed, actor=world.user("village_cadre"))
    assert Case.objects.get(pk=copy.pk).status == CaseStatus.REPORTED


def test_me_too_once_per_person_not_on_own_or_closed_cases(world: World) -> None:
    case = reported(world, reporter="citizen")
    merging.case_support(case=case, user=world.user("citizen2"))
    assert merging.supporters(case) == 1
    with pytest.raises(CaseError) as exc:
        merging.case_support(case=case, user=world.user("citizen2"))
    assert exc.value.code == "support_already"
    with pytest.raises(CaseError) as exc:
        merging.case_support(case=case, user=world.user("citizen"))
    assert exc.value.code == "support_own_case"
    closed = advance(world, reported(world, reporter="citizen"), CaseStatus.CLOSED)
    with pytest.raises(TransitionNotAllowed):
        merging.case_support(case=closed, user=world.user("citizen2"))
    services.case_accept(case=case, actor=world.user("town_dispatcher"))
    assert case.events.filter(action=CaseAction.SUPPORT).count() == 1


def test_a_mailbox_letter_is_never_merged(world: World) -> None:
    primary = reported(world, reporter="citizen")
    letter = reported(world, reporter="citizen2")
    Case.objects.filter(pk=letter.pk).update(channel="mailbox")
    letter.refresh_from_db()
    with pytest.raises(CaseError) as exc:
        merging.case_merge(case=letter, into=primary, actor=world.user("town_dispatcher"))
    assert exc.value.code == "merge_mailbox_letter"
    assert not CaseSupporter.objects.exists()
