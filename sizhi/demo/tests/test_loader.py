"""What the demo loader makes, on a reduced city (洛龙区 only, a few dozen cases)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from sizhi.accounts.models import Membership, Role, User
from sizhi.cases.models import Case, CaseEvent
from sizhi.cases.workflow import CaseAction, CaseStatus, Channel, WarningLevel
from sizhi.demo.loader import HISTORY_DAYS, load_demo
from sizhi.demo.people import DEMO_LOGINS, DEMO_PASSWORD, DEMO_VILLAGE_CODE
from sizhi.notify.models import Notification, NotificationStatus
from sizhi.regions.models import Grid, GridRole, GridWorker, Region, RegionLevel
from sizhi.regions.spatial import locate_grid_id
from sizhi.units.models import HandlingUnit, UnitKind

LUOLONG = "410311"
CASES = 60


@pytest.fixture(scope="module")
def demo_city(django_db_setup: None, django_db_blocker: Any) -> Iterator[datetime]:
    """One demo city for every test here (they only read it), rolled back after the last one.
    Yields the moment the load started."""
    with django_db_blocker.unblock(), transaction.atomic():
        started = timezone.now()
        summary = load_demo(districts=[LUOLONG], cases=CASES, seed=7)
        assert summary.loaded
        yield started
        transaction.set_rollback(True)


@pytest.fixture
def demo(demo_city: datetime, db: None) -> datetime:
    return demo_city


def test_every_case_status_is_present(demo: datetime) -> None:
    statuses = set(Case.objects.values_list("status", flat=True))
    assert statuses == set(CaseStatus.values)
    # The mailbox demo's converted letter (channel MAILBOX) comes on top of the generated cases.
    assert Case.objects.exclude(channel=Channel.MAILBOX).count() == CASES


def test_every_role_has_an_account_that_signs_in_with_the_demo_password(demo: datetime) -> None:
    roles = set(Membership.objects.values_list("role", flat=True))
    assert roles >= set(Role.values)
    for login in DEMO_LOGINS:
        user = authenticate(username=login.username, password=DEMO_PASSWORD)
        assert user is not None, login.username
        if login.role == "citizen":
            assert user.is_citizen and user.phone == login.username
        else:
            assert user.memberships.filter(role=login.role).exists(), login.username


def test_staff_work_in_one_corner_of_the_city(demo: datetime) -> None:
    village = Region.objects.get(code=DEMO_VILLAGE_CODE)
    worker = User.objects.get(username="grid_worker")
    membership = worker.memberships.get()
    assert membership.scope == village
    assert membership.grid is not None and membership.grid.village == village
    assert GridWorker.objects.filter(user=worker, grid=membership.grid, role=GridRole.WORKER).exists()
    leader = GridWorker.objects.get(grid=membership.grid, role=GridRole.LEADER)
    assert leader.user.username == "party_secretary"

    def only_membership(username: str) -> Membership:
        return Membership.objects.select_related("scope", "unit").get(user__username=username)

    assert only_membership("town_dispatcher").scope == Region.objects.get(code="410311194000")
    assert only_membership("district_dispatcher").scope == Region.objects.get(code="410311000000")
    assert str(only_membership("department_handler").unit) == "洛龙区城市管理局"
    for username in ("system_admin", "security_admin", "audit_admin"):
        assert User.objects.get(username=username).memberships.get().scope is None


def test_handling_units_at_every_level(demo: datetime) -> None:
    regions = Region.objects.all()
    centres = HandlingUnit.objects.filter(kind=UnitKind.COMMAND_CENTRE)
    assert centres.count() == regions.exclude(level=RegionLevel.VILLAGE).count()
    committees = HandlingUnit.objects.filter(kind=UnitKind.VILLAGE_COMMITTEE)
    assert committees.count() == regions.filter(level=RegionLevel.VILLAGE).count()
    departments = set(HandlingUnit.objects.filter(kind=UnitKind.DEPARTMENT).values_list("name", flat=True))
    assert {"洛龙区城市管理局", "洛龙区水利局", "洛龙区公安分局", "洛龙区人力资源和社会保障局"} <= departments
    assert not Region.objects.filter(level=RegionLevel.DISTRICT).exclude(code__startswith=LUOLONG).exists()


def test_cases_lie_in_their_grids_with_a_past_history(demo: datetime) -> None:
    now = timezone.now()
    assert Grid.objects.exists()
    for case in Case.objects.all():
        assert case.grid is not None and case.lat is not None and case.lng is not None
        assert locate_grid_id(case.lat, case.lng) == case.grid.pk
        assert case.region_code == case.grid.region_code
        times = list(case.events.order_by("pk").values_list("created_at", flat=True))
        assert times == sorted(times), case.number
        assert times[0] == case.created_at
        assert now - timedelta(days=HISTORY_DAYS + 30) < case.created_at <= times[-1] <= now
        assert case.number[2:10] == f"{timezone.localtime(case.created_at):%Y%m%d}"
        assert case.description and case.title


def test_cases_went_through_the_workflow(demo: datetime) -> None:
    closed = Case.objects.filter(status=CaseStatus.CLOSED)
    for case in closed:
        actions = list(case.events.values_list("action", flat=True))
        assert actions[0] == CaseAction.SUBMIT
        assert CaseAction.HANDLE in actions and CaseAction.CLOSE in actions
    done = set(CaseEvent.objects.values_list("action", flat=True))
    assert {CaseAction.RATE, CaseAction.ESCALATE, CaseAction.SUSPEND, CaseAction.RETURN} <= done
    assert Case.objects.filter(channel=Channel.HOTLINE).exists()
    # The town's centre escalated what needs a district department; the district dispatched it.
    for event in CaseEvent.objects.filter(action=CaseAction.ESCALATE).select_related("actor"):
        assert event.actor is not None and event.actor.username == "town_dispatcher"


def test_merged_reports_join_an_open_case_and_numbers_quoted_anywhere_exist(demo: datetime) -> None:
    merged = Case.objects.filter(status=CaseStatus.MERGED).select_related("duplicate_of")
    assert merged.exists()
    for case in merged:
        assert case.duplicate_of is not None and case.duplicate_of.grid_id == case.grid_id
        assert case.duplicate_of.events.filter(action=CaseAction.SUPPORT).exists()
    numbers = set(Case.objects.values_list("number", flat=True))
    quoted = {
        number
        for text in CaseEvent.objects.exclude(reason="").values_list("reason", flat=True)
        for number in re.findall(r"LY\d{16,}", text)
    }
    assert quoted and quoted <= numbers


def test_history_is_delivered_and_clocks_have_run(demo: datetime) -> None:
    # The history's messages went out when it happened: the worker starts with only today's news.
    history = Notification.objects.filter(created_at__lt=demo)
    assert history.exists()
    assert not history.exclude(status=NotificationStatus.SENT).exists()
    # Open cases dispatched days ago are due or overdue, and the sweep has said so.
    assert Case.objects.exclude(warning=WarningLevel.NONE).exists()
    assert CaseEvent.objects.filter(action__in=[CaseAction.WARN_YELLOW, CaseAction.WARN_RED]).exists()
    for case in Case.objects.exclude(dispatched_at=None).exclude(due_at=None):
        assert case.due_at is not None and case.dispatched_at is not None
        assert case.due_at > case.created_at
