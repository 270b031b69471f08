"""Repeat complaints (重复件) and call-backs (回访)."""

from __future__ import annotations

import datetime as dt

import pytest

from sizhi.cases import followup, services
from sizhi.cases.errors import CaseError, CasePermissionDenied
from sizhi.cases.models import CallBack, Case
from sizhi.cases.tests.test_services_transitions import advance, reported
from sizhi.cases.workflow import CaseAction, CaseStatus, Satisfaction
from sizhi.conftest import World


def test_same_reporter_within_the_window_is_a_repeat(world: World) -> None:
    first = reported(world)
    second = reported(world)
    assert second.repeat_of == first
    assert second.events.get(action=CaseAction.SUBMIT).data["repeat_of"] == first.number


def test_anonymous_reports_and_old_cases_are_not_linked_by_reporter(world: World, settings) -> None:
    first = reported(world)
    Case.objects.filter(pk=first.pk).update(created_at=first.created_at - dt.timedelta(days=31))
    assert reported(world).repeat_of is None
    assert reported(world, reporter=None, anonymous=True).repeat_of is None


def test_same_grid_and_category_is_found_at_registration(world: World) -> None:
    first = advance(world, reported(world, reporter="citizen"), CaseStatus.REGISTERED)
    other = advance(world, reported(world, reporter="citizen2"), CaseStatus.ACCEPTED)
    assert other.repeat_of is None  # no category yet, another reporter
    services.case_register(case=other, actor=world.user("town_dispatcher"), category=world.category)
    other.refresh_from_db()
    assert other.repeat_of == first
    elsewhere = advance(world, reported(world, reporter="citizen2", grid=world.grid_a2), CaseStatus.ACCEPTED)
    Case.objects.filter(pk=elsewhere.pk).update(repeat_of=None)
    elsewhere.refresh_from_db()
    assert followup.find_repeat_of(elsewhere) is not None  # citizen2's earlier report, same reporter


def test_callbacks_are_sampled_at_closure_and_recorded_once(world: World, settings) -> None:
    settings.SIZHI_CALLBACK_PERCENT = 100
    case = advance(world, reported(world), CaseStatus.CLOSED)
    callback = CallBack.objects.get(case=case)
    with pytest.raises(CasePermissionDenied):
        followup.callback_record(callback=callback, actor=world.user("village_cadre"), reached=True,
                                 satisfaction=Satisfaction.SATISFIED)
    with pytest.raises(CaseError) as exc:
        followup.callback_record(callback=callback, actor=world.user("town_dispatcher"), reached=True)
    assert exc.value.code == "satisfaction_invalid"
    followup.callback_record(callback=callback, actor=world.user("town_dispatcher"), reached=True,
                             satisfaction=Satisfaction.BASICALLY, note="路面已修好，希望加装护栏")
    callback.refresh_from_db()
    assert (callback.status, callback.satisfaction) == ("done", Satisfaction.BASICALLY)
    assert case.events.filter(action=CaseAction.CALLBACK).count() == 1
    with pytest.raises(CaseError) as exc:
        followup.callback_record(callback=callback, actor=world.user("town_dispatcher"), reached=False)
    assert exc.value.code == "callback_already_done"


def test_no_callback_when_the_sample_is_zero_or_nobody_to_call(world: World, settings) -> None:
    settings.SIZHI_CALLBACK_PERCENT = 0
    advance(world, reported(world), CaseStatus.CLOSED)
    settings.SIZHI_CALLBACK_PERCENT = 100
    advance(world, reported(world, reporter=None, anonymous=True), CaseStatus.CLOSED)
    assert not CallBack.objects.exists()
