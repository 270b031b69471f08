"""The dashboards' roll-ups stay exact: random workflow actions (through the case services, the
deadline sweep and plain ORM saves) never make them differ from a count of the cases, and every
dashboard figure read from them equals the same figure from direct queries."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizhi.cases import deadlines, linkage, merging, services
from sizhi.cases.errors import CaseError
from sizhi.cases.models import Case, Category
from sizhi.cases.workflow import CaseStatus, Channel, Satisfaction, WarningLevel
from sizhi.conftest import World, inside
from sizhi.insight import dashboards, rollups
from sizhi.insight.models import CaseRollup

VIEWERS = ("city_dispatcher", "town_dispatcher", "town_dispatcher_b", "department_handler")
STAFF = ("town_dispatcher", "town_dispatcher_b", "district_dispatcher", "city_dispatcher", "department_handler",
         "village_cadre", "grid_worker")
ACTIONS = ("submit", "submit", "accept", "reject", "register", "dispatch", "sign", "handle", "verify", "fail",
           "close", "rate", "reopen", "merge", "support", "suspend", "resume", "escalate", "sweep", "save", "create",
           "delete")
_serial = itertools.count(1)


def figures(user: Any, granularity: dashboards.Granularity) -> dict[str, Any]:
    """Every number of the dashboard (no ranking), as plain values."""
    board = dashboards.dashboard(user, granularity, with_ranking=False)

    def rows(items: list[dashboards.BreakdownRow]) -> list[tuple[str, int, int, int]]:
        return [(r.key, r.total.value, r.open.value, r.overdue.value) for r in items]

    return {
        "kpis": [(f.key, f.value) for f in board.kpis.figures()]
        + [(board.kpis.satisfaction.numerator.value, board.kpis.satisfaction.denominator.value)],
        "trend": [(p.start, p.created.value, p.closed.value) for p in board.trend],
        "categories": rows(board.categories),
        "channels": rows(board.channels),
        "regions": rows(board.regions.rows),
        "statuses": [(f.key, f.value) for f in board.statuses],
    }


def direct(user: Any, granularity: dashboards.Granularity) -> dict[str, Any]:
    dashboards.USE_ROLLUPS = False
    try:
        return figures(user, granularity)
    finally:
        dashboards.USE_ROLLUPS = True


def assert_exact(world: World) -> None:
    assert rollups.check_rollups() == []
    for name in VIEWERS:
        user = world.user(name)
        for granularity in dashboards.GRANULARITIES:
            assert figures(user, granularity) == direct(user, granularity), (name, granularity)


class Player:
    """Applies one random action to one random case; an action the case or actor does not allow
    is simply refused (and rolled back) by the services, as it would be for a real user."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.categories = list(Category.objects.filter(parent__isnull=False).order_by("pk")[:6])
        self.draws: list[int] = []

    def pick(self, values: Any) -> Any:
        # Drawn up front with the action, never from the database's state (hypothesis replays it).
        values = list(values)
        number = self.draws.pop() if self.draws else 0
        return values[number % len(values)]

    def case(self) -> Case | None:
        ids = list(Case.objects.order_by("pk").values_list("pk", flat=True))
        return Case.objects.get(pk=self.pick(ids)) if ids else None

    def play(self, action: str, draws: list[int]) -> None:
        self.draws = list(draws)
        w = self.world
        if action == "submit":
            grid = self.pick([w.grid_a1, w.grid_a1b, w.grid_a2, w.grid_b1])
            lat, lng = inside(grid)
            services.report_submit(
                reporter=w.user("citizen"), description="路灯坏了好几天了，晚上很黑", lat=lat, lng=lng,
                category=self.pick([None, *self.categories]),
                channel=self.pick([Channel.APP, Channel.HOTLINE, Channel.MAILBOX, Channel.PATROL]),
            )
            return
        if action == "sweep":
            days = self.pick(range(21))
            deadlines.sweep_warnings(now=timezone.now() + dt.timedelta(days=days))
            return
        if action == "create":
            # Written directly, as fixtures and imports do: the save receivers count it.
            n = next(_serial)
            village = self.pick([w.village_a1, w.village_a2, w.village_b1, w.town_a, w.district_a])
            status = self.pick(list(CaseStatus.values))
            created = timezone.now() - dt.timedelta(days=self.pick(range(401)), hours=3)
            Case.objects.create(
                number=f"RU{n:06d}", tracking_code=f"rollup-{n:06d}", title="直接写入", description="直接写入的案件",
                region=village, region_code=village.code, status=status, created_at=created,
                channel=self.pick([Channel.APP, Channel.MAILBOX, Channel.SENSOR]),
                category=self.pick([None, *self.categories]),
                warning=self.pick(list(WarningLevel.values)),
                closed_at=created + dt.timedelta(hours=5) if status == CaseStatus.CLOSED else None,
                satisfaction=self.pick(["", *Satisfaction.values]),
                rated_at=created + dt.timedelta(hours=9),
                rejection_kind="invalid" if status == CaseStatus.REJECTED else "",
            )
            return
        case = self.case()
        if case is None:
            return
        if action == "save":
            case.warning = self.pick(list(WarningLevel.values))
            case.category = self.pick([None, *self.categories])
            case.save(update_fields=self.pick([None, ["warning"], ["category", "warning"]]))
            return
        if action == "delete":
            if not case.events.exists() and not case.duplicates.exists():
                case.delete()
            return
        for name in STAFF:
            actor = w.user(name)
            try:
                self._act(action, case, actor)
            except (CaseError, ValueError):
                case.refresh_from_db()
                continue
            return

    def _act(self, action: str, case: Case, actor: Any) -> None:
        w = self.world
        if action == "accept":
            services.case_accept(case=case, actor=actor)
        elif action == "reject":
            services.case_reject(case=case, actor=actor, kind="invalid", reason="不属于受理范围")
        elif action == "register":
            services.case_register(case=case, actor=actor, category=self.pick(self.categories))
        elif action == "dispatch":
            unit = self.pick([w.district_a_dept, w.village_a1_committee, w.town_a_centre, w.town_b_centre])
            services.case_dispatch(case=case, actor=actor, unit=unit)
        elif action == "sign":
            services.case_sign_for(case=case, actor=actor)
        elif action == "handle":
            services.case_handle(case=case, actor=actor, result="已处理完毕")
        elif action in ("verify", "fail"):
            services.case_verify(case=case, actor=actor, passed=action == "verify", reason="现场核查")
        elif action == "close":
            services.case_close(case=case, actor=actor)
        elif action == "rate":
            services.case_rate(case=case, actor=w.user("citizen"), satisfaction=self.pick(Satisfaction.values))
        elif action == "reopen":
            services.case_reopen(case=case, actor=w.user("citizen"), reason="还是没修好")
        elif action == "merge":
            into = Case.objects.exclude(pk=case.pk).order_by("?").first()
            if into is None:
                raise CaseError("nothing to merge into", code="none")
            merging.case_merge(case=case, into=into, actor=actor)
        elif action == "support":
            merging.case_support(case=case, user=w.user("citizen2"))
        elif action == "suspend":
            linkage.case_suspend(case=case, actor=actor, reason="等待施工条件")
        elif action == "resume":
            linkage.case_resume(case=case, actor=actor)
        elif action == "escalate":
            linkage.case_escalate(case=case, actor=actor, reason="本级无法处理")


@pytest.mark.django_db
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.sampled_from(ACTIONS), st.lists(st.integers(0, 10**6), min_size=8,
                                                                   max_size=8)), min_size=5, max_size=25))
def test_random_workflow_actions_keep_the_rollups_exact(world: World, steps: list[tuple[str, list[int]]]) -> None:
    # Each example starts from the same world: its writes are rolled back afterwards.
    with transaction.atomic():
        player = Player(world)
        for action, draws in steps:
            player.play(action, draws)
        assert_exact(world)
        transaction.set_rollback(True)


def test_the_rollup_path_is_the_one_the_dashboards_take(world: World) -> None:
    win = dashboards.window("day")
    for name in ("city_dispatcher", "district_dispatcher", "town_dispatcher", "leader"):
        assert dashboards.reading(world.user(name), win) is not None, name
    # Grid workers and village viewers split by grid: direct queries.
    for name in ("grid_worker", "village_cadre"):
        assert dashboards.reading(world.user(name), win) is None, name


def test_mailbox_letters_are_never_rolled_up(world: World) -> None:
    lat, lng = inside(world.grid_a1)
    services.report_submit(reporter=world.user("citizen"), description="给书记的一封信内容", lat=lat, lng=lng,
                           channel=Channel.MAILBOX)
    assert not CaseRollup.objects.exists()
    services.report_submit(reporter=world.user("citizen"), description="路面坑洼需要修补", lat=lat, lng=lng)
    assert CaseRollup.objects.get(kind=rollups.AREA, grain=rollups.DAY, depth=12, area=world.village_a1.code).n == 1


def test_rebuild_command_restores_rollups_after_a_write_behind_their_back(world: World) -> None:
    lat, lng = inside(world.grid_a2)
    case = services.report_submit(reporter=world.user("citizen"), description="垃圾桶满了没人清理", lat=lat, lng=lng)
    Case.objects.filter(pk=case.pk).update(created_at=case.created_at - dt.timedelta(days=40))
    assert rollups.check_rollups() != []
    with pytest.raises(Exception, match="不一致"):
        call_command("insight", "rebuild-rollups", "--check")
    call_command("insight", "rebuild-rollups")
    assert rollups.check_rollups() == []
    call_command("insight", "rebuild-rollups", "--check")
    assert_exact(world)


def test_a_transition_with_a_stale_warning_in_memory_still_counts_right(world: World) -> None:
    """The sweep changes `warning` without the version guard: the roll-up hook reads the row."""
    lat, lng = inside(world.grid_a1)
    case = services.report_submit(reporter=world.user("citizen"), description="井盖丢了很危险", lat=lat, lng=lng)
    Case.objects.filter(pk=case.pk).update(warning=WarningLevel.RED)
    rollups.rebuild_rollups()
    services.case_accept(case=case, actor=world.user("town_dispatcher"))
    assert rollups.check_rollups() == []
