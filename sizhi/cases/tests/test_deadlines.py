"""Deadline warnings: limits from the table, the yellow threshold, and the sweep that moves
each case's warning exactly once, even with two sweeps running at the same time."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from sizhi.cases import deadlines, services
from sizhi.cases.models import Case, CaseEvent, Category, TimeLimit
from sizhi.cases.tests.test_services_transitions import advance, reported
from sizhi.cases.workflow import CaseAction, CaseStatus, Priority, WarningLevel
from sizhi.conftest import World, build_world
from sizhi.notify.models import Notification

S = CaseStatus
PROJECT = Path(__file__).resolve().parents[3]


def dispatched(world: World) -> Case:
    case = advance(world, reported(world), S.REGISTERED)
    services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
    return case


def test_limits_prefer_the_category_then_its_parent_then_the_default(world: World) -> None:
    roads = Category.objects.get(code="roads")
    assert deadlines.limits_for(world.category, Priority.NORMAL) == deadlines.Limits(4.0, 5)
    TimeLimit.objects.create(category=roads, priority=Priority.NORMAL, sign_hours=Decimal("2"), handle_days=3)
    assert deadlines.limits_for(world.category, Priority.NORMAL) == deadlines.Limits(2.0, 3)
    TimeLimit.objects.create(category=world.category, priority=Priority.NORMAL, sign_hours=Decimal("1.5"),
                             handle_days=2)
    assert deadlines.limits_for(world.category, Priority.NORMAL) == deadlines.Limits(1.5, 2)
    assert deadlines.limits_for(None, Priority.EMERGENCY) == deadlines.Limits(1.0, 1)


def test_sweep_moves_yellow_then_red_exactly_once(world: World) -> None:
    case = dispatched(world)
    assert case.yellow_at is not None and case.due_at is not None
    Notification.objects.all().delete()

    assert deadlines.sweep_warnings(now=case.yellow_at - dt.timedelta(seconds=1)) == deadlines.SweepResult(0, 0)
    assert deadlines.sweep_warnings(now=case.yellow_at) == deadlines.SweepResult(yellow=1, red=0)
    assert deadlines.sweep_warnings(now=case.yellow_at) == deadlines.SweepResult(0, 0)
    case.refresh_from_db()
    assert case.warning == WarningLevel.YELLOW
    assert deadlines.sweep_warnings(now=case.due_at) == deadlines.SweepResult(yellow=0, red=1)
    assert deadlines.sweep_warnings(now=case.due_at + dt.timedelta(days=3)) == deadlines.SweepResult(0, 0)

    events = list(case.events.filter(action__in=[CaseAction.WARN_YELLOW, CaseAction.WARN_RED]))
    assert [e.action for e in events] == [CaseAction.WARN_YELLOW, CaseAction.WARN_RED]
    assert all(e.actor_id is None and not e.is_public and e.from_status == e.to_status == S.DISPATCHED
               for e in events)
    told = set(Notification.objects.values_list("recipient__username", flat=True))
    assert {"village_cadre", "town_dispatcher"} <= told


def test_an_overdue_case_skips_yellow(world: World) -> None:
    case = dispatched(world)
    assert deadlines.sweep_warnings(now=case.due_at) == deadlines.SweepResult(yellow=0, red=1)


def test_closed_and_suspended_cases_are_left_alone(world: World) -> None:
    closed = advance(world, reported(world), S.CLOSED)
    suspended = dispatched(world)
    Case.objects.filter(pk=suspended.pk).update(status=S.SUSPENDED)
    far = timezone.now() + dt.timedelta(days=365)
    assert closed.due_at is not None
    assert deadlines.sweep_warnings(now=far) == deadlines.SweepResult(0, 0)


def test_warning_for_follows_the_thresholds() -> None:
    now = timezone.now()
    hour = dt.timedelta(hours=1)
    assert deadlines.warning_for(now, now + hour, now + 2 * hour) == WarningLevel.NONE
    assert deadlines.warning_for(now, now - hour, now + hour) == WarningLevel.YELLOW
    assert deadlines.warning_for(now, now - 2 * hour, now) == WarningLevel.RED


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweeps_in_parallel_processes_write_each_event_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs a database server that two processes can share (run with DATABASE_URL=postgres://…)")
    world = build_world()
    cases = [dispatched(world) for _ in range(40)]
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(
        due_at=timezone.now() - dt.timedelta(minutes=1), yellow_at=timezone.now() - dt.timedelta(hours=1)
    )
    db = connection.settings_dict
    url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "sizhi.config.test_settings"}
    command = [sys.executable, "-m", "sizhi.manage", "sweep_deadlines"]
    runs = [
        subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, text=True)  # noqa: S603 - our own command
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in runs]
    assert all(p.returncode == 0 for p in runs), outputs
    red = CaseEvent.objects.filter(action=CaseAction.WARN_RED, case__in=cases)
    assert red.count() == 40
    assert red.values("case").distinct().count() == 40
    total = sum(int(o.split("red=")[1]) for o in outputs)
    assert total == 40
