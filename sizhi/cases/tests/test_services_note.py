"""case_add_public_note: a public remark on the timeline that leaves the status, the version and
the transition table alone."""

from __future__ import annotations

import pytest

from sizhi.cases import services
from sizhi.cases.errors import CaseError
from sizhi.cases.models import Case, CaseEvent
from sizhi.cases.workflow import TRANSITIONS, CaseAction, CaseStatus
from sizhi.conftest import World, inside


def reported(world: World) -> Case:
    lat, lng = inside(world.grid_a1)
    return services.report_submit(
        reporter=world.user("citizen"), description="路口井盖缺失，夜间危险", lat=lat, lng=lng
    )


def test_note_writes_a_public_event_and_keeps_status_and_version(world: World) -> None:
    case = reported(world)
    before = Case.objects.values("status", "version").get(pk=case.pk)

    event = services.case_add_public_note(case=case, actor=world.user("town_dispatcher"), text="  已联系施工单位  ")

    event.refresh_from_db()
    assert event.action == CaseAction.NOTE
    assert event.from_status == event.to_status == CaseStatus.REPORTED
    assert event.reason == "已联系施工单位"
    assert event.is_public
    assert Case.objects.values("status", "version").get(pk=case.pk) == before
    assert Case.objects.get(pk=case.pk).updated_at == event.created_at


def test_note_records_the_status_in_the_database_not_a_stale_copy(world: World) -> None:
    case = reported(world)
    stale = Case.objects.get(pk=case.pk)
    services.case_accept(case=case, actor=world.user("town_dispatcher"))

    event = services.case_add_public_note(case=stale, actor=None, text="补充说明")

    assert event.from_status == event.to_status == CaseStatus.ACCEPTED


def test_note_is_not_a_transition() -> None:
    assert CaseAction.NOTE not in TRANSITIONS


@pytest.mark.parametrize(("text", "code"), [("   ", "note_required"), ("字" * 2001, "note_too_long")])
def test_empty_or_long_note_is_refused(world: World, text: str, code: str) -> None:
    case = reported(world)

    with pytest.raises(CaseError) as exc:
        services.case_add_public_note(case=case, actor=None, text=text)

    assert exc.value.code == code
    assert CaseEvent.objects.filter(case=case, action=CaseAction.NOTE).count() == 0
