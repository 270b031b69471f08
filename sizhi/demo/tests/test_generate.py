"""`sizhi demo generate`: a Luoyang-scale city with N cases, their mixes, their events, the
refusal to touch real data, determinism, and that dashboards and 联动考评 run on the result."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sizhi.accounts.models import Membership, Role, User
from sizhi.cases import evaluation
from sizhi.cases.models import Case, CaseEvent
from sizhi.cases.workflow import OPEN_STATUSES, CaseAction, CaseStatus, Channel, WarningLevel
from sizhi.conftest import World
from sizhi.demo import generate
from sizhi.insight import dashboards, rollups
from sizhi.regions.demo import DEMO_CITY_CODE
from sizhi.regions.models import Grid, Region, RegionLevel
from sizhi.units.models import HandlingUnit

N = 2000


def test_a_generated_city(db: None, client: Client) -> None:
    """One generation (the city and 2,000 cases, in batches of 700), every check on it."""
    made = generate.generate(scale=N, seed=7, days=365, batch=700)
    city_is_luoyang_at_full_size(made)
    counts_and_mixes_are_realistic(made)
    every_case_has_its_history(made)
    assert rollups.check_rollups() == []
    dashboards_and_evaluation_run_on_it(client)
    same_seed_same_cases()


def city_is_luoyang_at_full_size(made: generate.GenerateSummary) -> None:
    city = Region.objects.get(code=DEMO_CITY_CODE)
    assert Region.objects.filter(level=RegionLevel.VILLAGE, code__startswith=city.prefix).count() == 3228
    grids = Grid.objects.filter(region_code__startswith=city.prefix).count()
    assert 9000 <= grids <= 11000 and made.grids == grids
    assert HandlingUnit.objects.filter(region_code__startswith=city.prefix).count() == made.units > 3228


def counts_and_mixes_are_realistic(made: generate.GenerateSummary) -> None:
    cases = Case.objects.filter(number__startswith=generate.GENERATED_PREFIX)
    assert cases.count() == made.cases == N
    status = Counter(cases.values_list("status", flat=True))
    assert status[CaseStatus.CLOSED] > 0.75 * N
    assert 0.03 * N < status[CaseStatus.REJECTED] < 0.1 * N
    assert sum(status[s] for s in OPEN_STATUSES) > 0
    assert cases.filter(status__in=list(OPEN_STATUSES), warning=WarningLevel.RED).exists()  # some overdue
    channels = Counter(cases.values_list("channel", flat=True))
    assert channels[Channel.APP] > channels[Channel.PATROL] > channels[Channel.SENSOR]
    assert channels[Channel.HOTLINE] > 0.25 * N
    categories = Counter(cases.values_list("category_id", flat=True))
    assert len(categories) > 20 and max(categories.values()) > 3 * min(categories.values())
    rated = cases.filter(status=CaseStatus.CLOSED).exclude(satisfaction="")
    assert 0.5 < rated.count() / status[CaseStatus.CLOSED] < 0.75
    assert rated.filter(satisfaction="satisfied").count() > rated.filter(satisfaction="unsatisfied").count() * 4
    # Spread over the year before today, weekdays busier than weekends.
    today = timezone.localdate()
    days = [timezone.localtime(c).date() for c in cases.values_list("created_at", flat=True)]
    assert min(days) >= today - dt.timedelta(days=365) and max(days) <= today
    weekday = sum(d.weekday() < 5 for d in days) / 5
    weekend = sum(d.weekday() >= 5 for d in days) / 2
    assert weekday > weekend
    # Closed cases took time, and none closed before it was reported.
    for created, closed in cases.filter(status=CaseStatus.CLOSED).values_list("created_at", "closed_at")[:200]:
        assert closed is not None and closed > created


def every_case_has_its_history(made: generate.GenerateSummary) -> None:
    cases = Case.objects.filter(number__startswith=generate.GENERATED_PREFIX)
    events = CaseEvent.objects.filter(case__in=cases)
    assert events.count() == made.events
    assert events.filter(action=CaseAction.SUBMIT).count() == N
    closed = cases.filter(status=CaseStatus.CLOSED)
    assert events.filter(action=CaseAction.CLOSE).count() == closed.count()
    assert events.filter(action=CaseAction.DISPATCH, unit__isnull=False).count() >= closed.count()
    assert events.filter(action=CaseAction.RATE).count() == closed.exclude(satisfaction="").count()
    assert not cases.filter(status=CaseStatus.CLOSED, assigned_unit__isnull=True).exists()


def dashboards_and_evaluation_run_on_it(client: Client) -> None:
    city = Region.objects.get(code=DEMO_CITY_CODE)
    user = User.objects.create_user(username="gen-viewer", password="x-Pass-12345", display_name="看板")
    centre = HandlingUnit.objects.get(region=city, name=f"{city.name}社会治理指挥中心")
    Membership.objects.create(user=user, role=Role.CITY_DISPATCHER, scope=city, unit=centre)
    board = dashboards.dashboard(user, "month")
    assert board.kpis.period_new.value > 0.9 * N  # the year, less the mailbox letters
    assert sum(r.total.value for r in board.regions.rows) == board.kpis.period_new.value
    assert len(board.regions.rows) >= 15
    assert board.ranking is not None and board.ranking.best
    result = evaluation.evaluate(evaluation.units_for_user(user), evaluation.Period.days(
        timezone.localdate() - dt.timedelta(days=90), timezone.localdate()))
    assert result.total["dispatched"] > 0 and result.total["closed"] > 0 and result.total["rated"] > 0
    client.force_login(user)
    assert client.get(reverse("insight:data"), {"period": "week"}).status_code == 200


def same_seed_same_cases() -> None:
    maker = generate._Maker(generate._City.build(seed=7, progress=False), seed=7, days=365, events="full")
    first, _ = maker.batch(list(range(10**8, 10**8 + 50)), start=0)
    again, _ = maker.batch(list(range(10**8, 10**8 + 50)), start=0)
    other = generate._Maker(maker.city, seed=8, days=365, events="full").batch(list(range(10**8, 10**8 + 50)),
                                                                               start=0)[0]
    assert first == again
    assert first != other


def test_it_refuses_a_database_with_real_cases_unless_forced(world: World) -> None:
    Case.objects.create(number="LY-REAL-1", tracking_code="real-case-0001", title="真实案件",
                        description="真实案件内容", region=world.village_a1, region_code=world.village_a1.code)
    with pytest.raises(CommandError, match="非生成的案件"):
        call_command("demo", "generate", "--scale", "10", "--no-progress")
    assert Case.objects.count() == 1


@pytest.mark.parametrize("args", [["--scale", "0"], ["--scale", "5", "--days", "0"], ["--scale", "5", "--batch", "1"]])
def test_bad_options_get_a_clear_message(db: None, args: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("demo", "generate", *args, "--no-progress")
