"""The cases of the authorisation matrix (see sizhi/authz/matrix.py), each with one report photo
and a red-card overdue event this month so that it would show in the monthly circular's export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from sizhi.accounts.models import Membership, Role, User
from sizhi.cases import services
from sizhi.cases.models import Attachment, Case, CaseEvent
from sizhi.cases.workflow import CaseAction, CaseStatus
from sizhi.conftest import PASSWORD, World, inside, make_photo
from sizhi.regions.models import Region, RegionLevel
from sizhi.units.models import HandlingUnit


@dataclass
class MatrixWorld:
    world: World
    cases: dict[str, Case]
    photos: dict[str, Attachment]

    def user(self, role: str) -> User | None:
        return None if role == "anonymous" else self.world.user(role)

    def client(self, role: str) -> Client:
        client = Client()
        user = self.user(role)
        if user is not None:
            client.force_login(user)
        return client


def _report(world: World, *, grid: object | None, reporter: User | None, text: str) -> Case:
    if grid is None:
        # No point: the case starts at the top of the tree, here the other city (lowest code).
        return services.report_submit(
            reporter=reporter, description=text, address="郑州市金水路 1 号", photos=[make_photo()],
        )
    lat, lng = inside(grid)  # type: ignore[arg-type]
    return services.report_submit(reporter=reporter, description=text, lat=lat, lng=lng, photos=[make_photo()])


def _red_card(case: Case, unit: HandlingUnit) -> None:
    """A dispatch to `unit` and a red-card overdue event, both this month: the circular lists
    the case among its overdue cases to whoever may see both the unit and the case."""
    now = timezone.now()
    CaseEvent.objects.create(
        case=case, action=CaseAction.DISPATCH, from_status=CaseStatus.REGISTERED, to_status=CaseStatus.DISPATCHED,
        unit=unit, created_at=now - timedelta(minutes=5),
    )
    CaseEvent.objects.create(
        case=case, action=CaseAction.WARN_RED, from_status=CaseStatus.DISPATCHED, to_status=CaseStatus.DISPATCHED,
        unit=unit, created_at=now - timedelta(minutes=1),
    )


@pytest.fixture
def mw(world: World) -> MatrixWorld:
    cache.clear()
    other_city = Region.objects.create(
        code="410100000000", prefix="4101", name="郑州市", level=RegionLevel.CITY, parent=None,
    )
    for name, scope in (("leader_b", world.district_b), ("leader_zz", other_city)):
        leader = User.objects.create_user(username=name, password=PASSWORD, display_name=name)
        Membership.objects.create(user=leader, role=Role.LEADER, unit=None, scope=scope)
        world.users[name] = leader

    cases = {
        "a1": _report(world, grid=world.grid_a1, reporter=world.user("citizen"), text="矩阵案件甲一：路灯不亮已经三天"),
        "a2": _report(world, grid=world.grid_a2, reporter=None, text="矩阵案件甲二：井盖缺失很危险"),
        "b1": _report(world, grid=world.grid_b1, reporter=None, text="矩阵案件乙一：垃圾堆放无人清理"),
        "b_dept": _report(world, grid=world.grid_b1, reporter=None, text="矩阵案件乙部门：占道经营影响通行"),
        "other_city": _report(world, grid=None, reporter=None, text="矩阵案件外市：噪音扰民到深夜"),
    }
    Case.objects.filter(pk=cases["b_dept"].pk).update(
        status=CaseStatus.DISPATCHED, assigned_unit=world.district_a_dept
    )
    for key, unit in (
        ("a1", world.village_a1_committee), ("a2", world.town_a_centre), ("b1", world.town_b_centre),
        ("b_dept", world.district_a_dept),
    ):
        _red_card(cases[key], unit)
    cases = {key: Case.objects.get(pk=case.pk) for key, case in cases.items()}
    assert cases["other_city"].region.code == "410100000000"
    photos = {key: Attachment.objects.get(case=case) for key, case in cases.items()}
    return MatrixWorld(world, cases, photos)
