"""`sizhi demo load`: the demo city of 洛阳 with its people and a few hundred cases.

Regions and grids come from the regions app's demo API; handling units and accounts are written
here; every case is made by the case services (report_submit, case_accept, …), exactly as the
web pages and the API would make it, so the demo shows the real workflow and its event rows.

The whole load is one transaction: either the demo city is there with its DemoLoad record, or
nothing of it is. Loading again does nothing; `reset=True` removes the demo first.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import json
import logging
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import shapely
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Field, Max, Model, ProtectedError, RestrictedError
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from shapely.geometry import shape
from tqdm import tqdm

from sizhi.accounts.models import Membership, Role, User
from sizhi.cases import deadlines, evaluation_rollup, followup, linkage, merging, services, supervision
from sizhi.cases.models import (
    Assignment,
    Attachment,
    CallBack,
    CallBackStatus,
    Case,
    CaseEvent,
    CaseSupporter,
    Category,
    ExtensionRequest,
    SupervisionOrder,
)
from sizhi.cases.workflow import (
    ACTIVE_ASSIGNMENT,
    AssignmentRole,
    CaseAction,
    CaseStatus,
    Channel,
    RejectionKind,
    Satisfaction,
)
from sizhi.demo import texts
from sizhi.demo.models import DemoLoad
from sizhi.demo.people import (
    DEMO_CITIZEN_PHONE,
    DEMO_DISTRICT_CODE,
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DEMO_TOWN_CODE,
    DEMO_VILLAGE_CODE,
    delete_demo_residents,
    demo_citizen_username,
    load_demo_residents,
)
from sizhi.insight.rollups import rebuild_rollups
from sizhi.mailbox.demo import delete_mailbox_demo, load_mailbox_demo
from sizhi.notify.models import Notification, NotificationStatus
from sizhi.regions.demo import DEFAULT_SEED, DEMO_CITY_CODE, DEMO_DIVISIONS_FILE, generate_demo_grids
from sizhi.regions.importers import import_divisions
from sizhi.regions.models import Grid, GridRole, Region, RegionLevel, VillageKind
from sizhi.regions.selectors import region_scope_q
from sizhi.regions.services import grid_worker_assign, grids_delete
from sizhi.security.demo import demo_totp_enrol
from sizhi.units.models import HandlingUnit, UnitKind

DEFAULT_CASES = 300
HISTORY_DAYS = 90
CITIZENS = 40

# 职能部门 of every district: (username suffix, name after the district's name).
DEPARTMENTS = (
    ("cgj", "城市管理局"),
    ("zjj", "住房和城乡建设局"),
    ("sthj", "生态环境分局"),
    ("gaj", "公安分局"),
    ("slj", "水利局"),
    ("mzj", "民政局"),
    ("rsj", "人力资源和社会保障局"),
)
# Who handles what. Matters a village settles itself go to its committee (小事不出村).
VILLAGE_MATTERS = frozenset({
    "dispute-neighbour", "dispute-family", "dispute-land", "land-homestead", "assistance-elderly",
    "agriculture-production", "agriculture-subsidy", "governance-village-affairs",
})
CATEGORY_DEPARTMENT = {
    "roads-damage": "zjj", "roads-bridge": "zjj", "roads-embankment": "slj", "roads-streetlight": "cgj",
    "roads-obstruction": "cgj", "water-supply": "slj", "water-drain": "cgj", "water-sewage": "sthj",
    "water-irrigation": "slj", "sanitation-garbage": "cgj", "sanitation-toilet": "cgj",
    "sanitation-dead-animal": "cgj", "environment-air": "sthj", "environment-noise": "sthj",
    "environment-water": "sthj", "environment-dumping": "cgj", "security-public-order": "gaj",
    "security-fire": "gaj", "security-traffic": "gaj", "security-building": "zjj", "security-disaster": "slj",
    "dispute-wages": "rsj", "dispute-property": "zjj", "land-illegal-building": "cgj", "land-farmland": "cgj",
    "assistance-subsistence": "mzj", "assistance-disability": "mzj", "services-social-security": "rsj",
}

# Final status → (weight, path) variants. Each step is one service call and one CaseEvent.
# "misdispatch" sends the case to a wrong department first; "dispatch_assist" adds an assisting
# department (协办); the town's cases bound for a district department are escalated (上报) first.
_INTAKE = ("submit", "accept", "register")
_TO_HANDLING = (*_INTAKE, "dispatch", "sign")
_TO_VERIFIED = (*_TO_HANDLING, "handle", "verify_pass")
_ASSISTED = (*_INTAKE, "dispatch_assist", "sign", "assist_finish")
_FINISH = ("handle", "verify_pass", "close", "rate")
PATHS: dict[str, tuple[tuple[int, tuple[str, ...]], ...]] = {
    "reported": ((1, ("submit",)),),
    "rejected": ((1, ("submit", "reject")),),
    "accepted": ((1, ("submit", "accept")),),
    "registered": (
        (5, _INTAKE),
        (3, (*_INTAKE, "misdispatch", "return")),
        (2, (*_TO_VERIFIED, "close", "rate_unsatisfied", "reopen")),
    ),
    "dispatched": (
        (4, (*_INTAKE, "dispatch")),
        (1, (*_INTAKE, "misdispatch", "return", "dispatch")),
        (1, (*_INTAKE, "dispatch_assist")),
    ),
    "handling": (
        (4, _TO_HANDLING),
        (1, (*_TO_HANDLING, "handle", "verify_fail")),
        (1, (*_TO_HANDLING, "extend_request")),
        (1, (*_TO_HANDLING, "extend_request", "extend_approve")),
        (1, _ASSISTED),
        (1, (*_TO_HANDLING, "supervise")),
        (1, (*_TO_HANDLING, "supervise", "supervision_reply")),
    ),
    "suspended": ((1, (*_TO_HANDLING, "suspend")),),
    "verifying": ((4, (*_TO_HANDLING, "handle")), (1, (*_TO_HANDLING, "handle", "verify_fail", "handle"))),
    "verified": ((1, _TO_VERIFIED),),
    "closed": (
        (10, (*_TO_VERIFIED, "close", "rate")),
        (4, (*_TO_VERIFIED, "close")),
        (2, (*_TO_HANDLING, "handle", "verify_fail", *_FINISH)),
        (1, (*_INTAKE, "misdispatch", "return", "dispatch", "sign", *_FINISH)),
        (1, (*_TO_VERIFIED, "close", "rate_unsatisfied", "reopen", "dispatch", "sign", *_FINISH)),
        (2, (*_ASSISTED, *_FINISH)),
        (1, (*_TO_HANDLING, "extend_request", "extend_approve", *_FINISH)),
        (1, (*_TO_HANDLING, "suspend", "resume", *_FINISH)),
        (1, (*_TO_HANDLING, "supervise", "supervision_reply", *_FINISH)),
    ),
    # The same problem reported again, merged into the open case about it (并案).
    "merged": ((2, ("submit", "merge")), (1, ("submit", "accept", "merge"))),
}
DISPATCH_STEPS = frozenset({"dispatch", "misdispatch", "dispatch_assist"})
# Share of the demo's cases ending in each status (every status appears; most are closed).
STATUS_SHARE = {
    "reported": 6, "accepted": 4, "registered": 7, "dispatched": 7, "handling": 10, "suspended": 3,
    "verifying": 6, "verified": 4, "closed": 42, "rejected": 8, "merged": 3,
}
# Hours between a step and the one before it (low, high).
STEP_HOURS = {
    "accept": (0.2, 20), "reject": (0.5, 30), "register": (0.1, 4), "escalate": (0.5, 8), "dispatch": (0.2, 6),
    "misdispatch": (0.2, 6), "dispatch_assist": (0.2, 6), "return": (1, 24), "sign": (0.5, 20),
    "assist_finish": (12, 120), "extend_request": (24, 96), "extend_approve": (1, 8), "suspend": (2, 48),
    "resume": (48, 240), "handle": (12, 200), "verify_fail": (4, 48), "verify_pass": (4, 60), "close": (1, 24),
    "rate": (2, 72), "rate_unsatisfied": (2, 48), "reopen": (6, 72), "supervise": (24, 120),
    "supervision_reply": (2, 48), "merge": (0.5, 12),
}
RATED = ("rate", "rate_unsatisfied", "reopen")
# Steps that need a reporter with an account (a rating, or becoming a supporter of a merged case).
NAMED_REPORTER = frozenset({*RATED, "merge"})
CITIZEN_STEPS = frozenset({"submit", *RATED})
OPEN_FINALS = frozenset({"reported", "accepted", "registered", "dispatched", "handling", "suspended", "verifying",
                         "verified"})


class DemoError(Exception):
    """The demo cannot be loaded as asked (bad district code, foreign data in the way)."""


@dataclass
class DemoSummary:
    loaded: bool
    regions: int = 0
    grids: int = 0
    units: int = 0
    staff: int = 0
    citizens: int = 0
    cases: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def demo_loaded() -> bool:
    return DemoLoad.objects.exists()


@contextlib.contextmanager
def _tasks_inline() -> Iterator[None]:
    """Run the outbox kicks in-process while loading: the demo's history must not leave a
    thousand delivery jobs in the queue for the worker's first start."""
    was = HUEY.immediate
    huey_log = logging.getLogger("huey")
    level = huey_log.level
    HUEY.immediate = True
    huey_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        HUEY.immediate = was
        huey_log.setLevel(level)


def load_demo(
    *,
    districts: Sequence[str] | None = None,
    cases: int = DEFAULT_CASES,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    progress: bool = False,
) -> DemoSummary:
    """Load the demo city unless it is there already. `districts` limits it to some district
    codes (6 or 12 digits; 洛龙区 is always included, it is where the demo's staff work)."""
    started = time.perf_counter()
    wanted = _district_codes(districts)
    with _tasks_inline(), transaction.atomic():
        if reset:
            demo_reset()
        if demo_loaded():
            return DemoSummary(loaded=False, seconds=time.perf_counter() - started)
        summary = _Loader(districts=wanted, seed=seed, progress=progress).run(cases)
    summary.seconds = time.perf_counter() - started
    return summary


def _district_codes(districts: Sequence[str] | None) -> list[str] | None:
    if not districts:
        return None
    codes = []
    for raw in districts:
        text = raw.strip()
        if not (text.isascii() and text.isdigit() and len(text) in (6, 12) and text.startswith(DEMO_CITY_CODE[:4])):
            raise DemoError(f"不是洛阳市的区县代码：{raw!r}（例如 410311）")
        codes.append(text[:6])
    if DEMO_DISTRICT_CODE[:6] not in codes:
        codes.append(DEMO_DISTRICT_CODE[:6])
    return sorted(set(codes))


def demo_reset() -> None:
    """Remove what the demo made: the city's cases, the demo accounts, units and grids. The
    division tree stays (it is public fact, and loading again updates it in place)."""
    record = DemoLoad.objects.order_by("pk").first()
    if record is None:
        return
    city = Region.objects.filter(code=DEMO_CITY_CODE).first()
    try:
        _delete_demo(record, city)
    except (ProtectedError, RestrictedError) as exc:
        raise DemoError(
            "示例数据已被其他数据引用（例如通过接口新建的记录），无法自动重置；"
            "嵌入模式下可删除 var/ 目录后重新运行 make run。"
        ) from exc


def _delete_demo(record: DemoLoad, city: Region | None) -> None:
    with transaction.atomic():
        delete_mailbox_demo(city)
        if city is not None:
            delete_demo_residents(city)
        if city is not None:
            # Demo history only: case rows are otherwise never deleted, but a reset is a wipe.
            in_city = Case.objects.filter(region_scope_q(city, "region_code"))
            in_city.update(duplicate_of=None)
            Attachment.objects.filter(case__in=in_city).delete()
            CaseEvent.objects.filter(case__in=in_city).delete()
            in_city.delete()
        User.objects.filter(pk__in=record.user_ids).delete()
        if city is not None:
            HandlingUnit.objects.filter(region_scope_q(city, "region_code")).delete()
            grids_delete(grids=Grid.objects.filter(region_scope_q(city, "region_code")))
        DemoLoad.objects.all().delete()


# --- the load ------------------------------------------------------------------------------------


@dataclass
class _Village:
    region: Region
    short: str
    district: Region
    town: Region
    grids: list[int] = field(default_factory=list)


@dataclass
class _Plan:
    status: str
    path: tuple[str, ...]
    times: list[datetime]
    village: _Village
    grid_id: int
    story: texts.Story
    place: str
    to_committee: bool  # the village committee handles it, not a district department
    into: _Plan | None = None  # for a merged report: the open case it joins


def _short_name(name: str) -> str:
    for suffix in ("村民委员会", "居民委员会", "村委会", "居委会"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


class _Loader:
    def __init__(self, *, districts: list[str] | None, seed: int, progress: bool) -> None:
        self.districts = districts
        self.seed = seed
        self.progress = progress
        self.rng = random.Random(seed)
        self.password = make_password(DEMO_PASSWORD)
        self.user_ids: list[int] = []
        self.names: Iterator[str] = self._name_stream()
        self.now = timezone.now()

    # -- regions and grids

    def _divisions_text(self) -> str:
        text = DEMO_DIVISIONS_FILE.read_text(encoding="utf-8")
        if self.districts is None:
            return text
        header, *rows = text.splitlines()
        keep = [r for r in rows if r.startswith(DEMO_CITY_CODE + ",") or r[:6] in self.districts]
        return "\n".join([header, *keep]) + "\n"

    def run(self, case_count: int) -> DemoSummary:
        import_divisions(self._divisions_text(), progress=self.progress)
        generate_demo_grids(seed=self.seed, progress=self.progress)
        self.city = Region.objects.get(code=DEMO_CITY_CODE)
        regions = list(Region.objects.filter(region_scope_q(self.city)).order_by("code"))
        self.by_code = {r.code: r for r in regions}
        if DEMO_VILLAGE_CODE not in self.by_code:
            raise DemoError("示例区划中没有寇店村（410311194200），无法布置示例账号")
        self.villages: dict[str, _Village] = {}
        for r in regions:
            if r.level == RegionLevel.VILLAGE:
                town = self.by_code[r.code[:9] + "000"]
                district = self.by_code[r.code[:6] + "000000"]
                self.villages[r.code] = _Village(r, _short_name(r.name), district, town)
        for grid_id, village_code in Grid.objects.filter(region_scope_q(self.city, "region_code")).order_by(
            "code"
        ).values_list("pk", "region_code"):
            self.villages[village_code].grids.append(grid_id)

        self._create_units(regions)
        self._create_staff()
        self._create_citizens()
        self.categories = {c.code: c for c in Category.objects.filter(parent__isnull=False, is_active=True)}
        made = self._create_cases(case_count)
        load_mailbox_demo()
        load_demo_residents(grid_worker=self.grid_worker)
        # The clocks of the open cases have run during their invented history: the same sweep
        # the worker runs every minute marks the ones now due (黄牌) or overdue (红牌).
        swept = deadlines.sweep_warnings()
        # The back-dating above rewrote dates behind the ORM: count the dashboards' roll-ups afresh,
        # and the 联动考评 roll-up, whose days are the events' (back-dated) days.
        rebuild_rollups()
        evaluation_rollup.rebuild()
        demo_totp_enrol(user_ids=self.user_ids)
        DemoLoad.objects.create(seed=self.seed, districts=",".join(self.districts or []), user_ids=self.user_ids)
        return DemoSummary(
            loaded=True,
            regions=len(regions),
            grids=sum(len(v.grids) for v in self.villages.values()),
            units=len(self.units),
            staff=len(self.user_ids) - len(self.citizens),
            citizens=len(self.citizens),
            cases=len(made),
            by_status=dict(Counter(Case.objects.filter(pk__in=made).values_list("status", flat=True))),
            warnings={"yellow": swept.yellow, "red": swept.red},
        )

    # -- handling units

    def _create_units(self, regions: list[Region]) -> None:
        wanted: list[HandlingUnit] = []

        def unit(name: str, kind: str, region: Region) -> None:
            # bulk_create skips save(), which is what copies the region code.
            wanted.append(HandlingUnit(name=name, kind=kind, region=region, region_code=region.code))

        for r in regions:
            if r.level == RegionLevel.CITY:
                unit(f"{r.name}社会治理指挥中心", UnitKind.COMMAND_CENTRE, r)
            elif r.level == RegionLevel.DISTRICT:
                unit(f"{r.name}社会治理指挥中心", UnitKind.COMMAND_CENTRE, r)
                for _key, name in DEPARTMENTS:
                    unit(f"{r.name}{name}", UnitKind.DEPARTMENT, r)
            elif r.level == RegionLevel.TOWN:
                unit(f"{r.name}综治中心", UnitKind.COMMAND_CENTRE, r)
            else:
                unit(r.name, UnitKind.VILLAGE_COMMITTEE, r)
        existing = set(
            HandlingUnit.objects.filter(region_scope_q(self.city, "region_code")).values_list("region_id", "name")
        )
        HandlingUnit.objects.bulk_create(
            [u for u in wanted if (u.region_id, u.name) not in existing], batch_size=500
        )
        self.units = {
            (u.region_code, u.name): u
            for u in HandlingUnit.objects.filter(region_scope_q(self.city, "region_code")).select_related("region")
        }

    def centre(self, region: Region) -> HandlingUnit:
        suffix = "综治中心" if region.level == RegionLevel.TOWN else "社会治理指挥中心"
        return self.units[(region.code, f"{region.name}{suffix}")]

    def department(self, district: Region, key: str) -> HandlingUnit:
        return self.units[(district.code, f"{district.name}{dict(DEPARTMENTS)[key]}")]

    def committee(self, village: Region) -> HandlingUnit:
        return self.units[(village.code, village.name)]

    # -- people

    def _name_stream(self) -> Iterator[str]:
        """Invented names, none used twice, so that no two demo people are mistaken for each other."""
        used = {login.name for login in DEMO_LOGINS}
        while True:
            name = self.rng.choice(texts.SURNAMES) + self.rng.choice(texts.GIVEN_NAMES)
            if name not in used:
                used.add(name)
                yield name

    def _user(self, username: str, display_name: str, *, phone: str | None = None, citizen: bool = False) -> User:
        if User.objects.filter(username=username).exists():
            raise DemoError(f"账号 {username} 已存在但不是示例数据；请在空数据库中载入示例，或先删除该账号")
        user = User(
            username=username, display_name=display_name, phone=phone, is_citizen=citizen, password=self.password
        )
        user.save()
        self.user_ids.append(user.pk)
        return user

    def _staff(
        self, username: str, name: str, role: str, unit: HandlingUnit | None, scope: Region | None,
        grid_id: int | None = None,
    ) -> User:
        user = self._user(username, name)
        Membership.objects.create(user=user, role=role, unit=unit, scope=scope, grid_id=grid_id)
        return user

    def _create_staff(self) -> None:
        by = {login.username: login for login in DEMO_LOGINS}
        district = self.by_code[DEMO_DISTRICT_CODE]
        town = self.by_code[DEMO_TOWN_CODE]
        village = self.villages[DEMO_VILLAGE_CODE]
        committee = self.committee(village.region)
        grid1, grid2 = Grid.objects.filter(pk__in=village.grids[:2]).order_by("code")

        def staff(username: str, unit: HandlingUnit | None, scope: Region | None, grid: Grid | None = None) -> User:
            login = by[username]
            return self._staff(username, login.name, login.role, unit, scope, grid.pk if grid else None)

        self.grid_worker = staff("grid_worker", committee, village.region, grid1)
        self.grid_worker2 = staff("grid_worker2", committee, village.region, grid2)
        self.village_cadre = staff("village_cadre", committee, village.region)
        self.party_secretary = staff("party_secretary", committee, village.region)
        self.town_dispatcher = staff("town_dispatcher", self.centre(town), town)
        self.district_dispatchers = {district.code: staff("district_dispatcher", self.centre(district), district)}
        city_management = self.department(district, "cgj")
        self.handlers = {(district.code, "cgj"): staff("department_handler", city_management, district)}
        self.city_dispatcher = staff("city_dispatcher", self.centre(self.city), self.city)
        staff("leader", None, self.city)
        for username in ("system_admin", "security_admin", "audit_admin"):
            staff(username, None, None)
        grid_worker_assign(grid=grid1, user=self.grid_worker)
        grid_worker_assign(grid=grid2, user=self.grid_worker2, employment="part_time")
        grid_worker_assign(grid=grid1, user=self.party_secretary, role=GridRole.LEADER, employment="part_time")
        self.grid_verifiers = {grid1.pk: self.grid_worker, grid2.pk: self.grid_worker2}
        self.committee_staff: dict[str, list[User]] = {
            village.region.code: [self.village_cadre, self.party_secretary]
        }

        # Supporting accounts so that every case, wherever it is, can be moved by real people:
        # each district's dispatcher and one handler per department.
        for r in self.by_code.values():
            if r.level != RegionLevel.DISTRICT:
                continue
            d6 = r.code[:6]
            if r.code not in self.district_dispatchers:
                self.district_dispatchers[r.code] = self._staff(
                    f"{d6}-zhzx", next(self.names), Role.DISTRICT_DISPATCHER, self.centre(r), r
                )
            for key, _name in DEPARTMENTS:
                if (r.code, key) not in self.handlers:
                    self.handlers[(r.code, key)] = self._staff(
                        f"{d6}-{key}", next(self.names), Role.DEPARTMENT_HANDLER, self.department(r, key), r
                    )

    def committee_members(self, village: _Village) -> list[User]:
        """The village committee's cadres, making one for a committee that has none yet."""
        code = village.region.code
        if code not in self.committee_staff:
            self.committee_staff[code] = [
                self._staff(f"{code}-cadre", next(self.names), Role.VILLAGE_CADRE,
                            self.committee(village.region), village.region)
            ]
        return self.committee_staff[code]

    def _create_citizens(self) -> None:
        names = [login.name for login in DEMO_LOGINS if login.role == "citizen"]
        self.citizens: list[User] = []
        for i in range(CITIZENS):
            phone = DEMO_CITIZEN_PHONE if i == 0 else f"1390379{i + 1:04d}"
            name = names[0] if i == 0 else next(self.names)
            self.citizens.append(self._user(demo_citizen_username(i), name, phone=phone, citizen=True))

    # -- cases

    def _pick_village(self) -> _Village:
        """A quarter of the cases in 寇店村, more in 寇店镇 and 洛龙区, the rest over the city."""
        roll = self.rng.random()
        pools: list[Callable[[str], bool]] = [
            lambda c: c == DEMO_VILLAGE_CODE,
            lambda c: c.startswith(DEMO_TOWN_CODE[:9]),
            lambda c: c.startswith(DEMO_DISTRICT_CODE[:6]),
            lambda c: True,
        ]
        index = 0 if roll < 0.25 else 1 if roll < 0.40 else 2 if roll < 0.60 else 3
        codes = [c for c in self.village_codes if pools[index](c)]
        return self.villages[self.rng.choice(codes)]

    def _plan(self, status: str) -> _Plan:
        variants = PATHS[status]
        path = self.rng.choices([p for _w, p in variants], weights=[w for w, _p in variants])[0]
        village = self._pick_village()
        kind = VillageKind.COMMUNITY if village.region.kind == VillageKind.COMMUNITY else VillageKind.VILLAGE
        story = self.rng.choice([s for s in texts.STORIES if s.where in (texts.ANY, kind)])
        places = texts.COMMUNITY_PLACES if kind == VillageKind.COMMUNITY else texts.VILLAGE_PLACES
        to_committee = story.category in VILLAGE_MATTERS or story.category not in CATEGORY_DEPARTMENT
        first = next((i for i, step in enumerate(path) if step in DISPATCH_STEPS), None)
        if first is not None and self._in_town(village) and (not to_committee or path[first] != "dispatch"):
            # Beyond the town's authority: its centre escalates, the district dispatches.
            path = (*path[:first], "escalate", *path[first:])
        if status in ("closed", "rejected"):
            age = timedelta(days=self.rng.uniform(2, HISTORY_DAYS))
        elif status in ("reported", "accepted"):
            age = timedelta(hours=self.rng.uniform(1, 72))
        else:
            age = timedelta(days=self.rng.uniform(1, 20))
        return _Plan(
            status=status, path=path, times=self._times(path, self.now - age), village=village,
            grid_id=self.rng.choice(village.grids), story=story, place=self.rng.choice(places),
            to_committee=to_committee,
        )

    def _times(self, path: tuple[str, ...], start: datetime) -> list[datetime]:
        """When each step happened: staff act in office hours (08:00–20:00 local), citizens any
        time of day; the whole history is moved back by whole days until it ends in the past."""
        times = [start]
        for step in path[1:]:
            t = times[-1] + timedelta(hours=self.rng.uniform(*STEP_HOURS[step]))
            local = timezone.localtime(t)
            if step not in CITIZEN_STEPS and not 8 <= local.hour < 20:
                next_morning = (local + timedelta(hours=12)).replace(hour=8, minute=0, second=0, microsecond=0)
                t = next_morning + timedelta(minutes=self.rng.uniform(0, 90))
            times.append(t)
        latest = self.now - timedelta(minutes=10)
        if times[-1] > latest:
            days = (times[-1] - latest).days + 1
            times = [t - timedelta(days=days) for t in times]
        return times

    def _point_in(self, boundary: dict[str, Any]) -> tuple[float, float]:
        polygon = shape(boundary)
        min_x, min_y, max_x, max_y = polygon.bounds
        # Kept off the edges, so the point is plainly inside this grid and no neighbour.
        inner = polygon.buffer(-(max_x - min_x) / 50)
        for _try in range(50):
            x, y = self.rng.uniform(min_x, max_x), self.rng.uniform(min_y, max_y)
            if shapely.contains_xy(inner, x, y):
                return y, x
        point = polygon.representative_point()
        return point.y, point.x

    def _create_cases(self, count: int) -> list[int]:
        self.village_codes = sorted(c for c, v in self.villages.items() if v.grids)
        statuses = [s for s, n in _status_counts(count).items() for _i in range(n)]
        plans = [self._plan(s) for s in statuses]
        self._link_merged(plans)
        plans.sort(key=lambda p: p.times[0])
        boundaries = dict(Grid.objects.filter(pk__in={p.grid_id for p in plans}).values_list("pk", "boundary"))
        self.recent: dict[str, list[Case]] = defaultdict(list)
        self.notification_times: list[tuple[int, datetime]] = []  # outbox row → invented time
        self.last_notification = Notification.objects.aggregate(m=Max("pk"))["m"] or 0
        # Events written on a case after its own steps (a merged report's support, a call-back).
        self.extra_events: list[tuple[int, int, datetime]] = []  # (case, event, invented time)
        self.cases_of: dict[int, Case] = {}  # id(plan) → its case
        self.deciders: dict[int, User] = {}  # case → the dispatcher managing it at the end
        made: dict[int, _History] = {}
        for plan in tqdm(plans, desc="示例案件", unit="件", disable=not self.progress):
            lat, lng = self._point_in(boundaries[plan.grid_id])
            case, history = self._play(plan, lat, lng)
            made[case.pk] = history
            self.cases_of[id(plan)] = case
        self._call_back(made)
        self._backdate(made)
        return list(made)

    def _link_merged(self, plans: list[_Plan]) -> None:
        """A merged report repeats an open case's problem, at the same spot, a little later."""
        older = self.now - timedelta(days=3)
        targets = [p for p in plans if p.status in OPEN_FINALS and p.times[0] < older]
        for plan in plans:
            if plan.status != "merged":
                continue
            if not targets:
                raise DemoError("示例案件太少，没有可并案的在办案件；请增加 --cases")
            into = self.rng.choice(targets)
            plan.into, plan.village, plan.grid_id = into, into.village, into.grid_id
            plan.story, plan.place, plan.to_committee = into.story, into.place, into.to_committee
            plan.times = self._times(plan.path, into.times[0] + timedelta(hours=self.rng.uniform(1, 24)))

    def _call_back(self, made: dict[int, _History]) -> None:
        """回访: the dispatcher calls back most of the closed cases queued for it, a few days on."""
        # A case reopened after its closure waits for its next closure before anyone calls back.
        pending = CallBack.objects.filter(
            case_id__in=made, status=CallBackStatus.PENDING, case__status=CaseStatus.CLOSED
        ).select_related("case")
        latest = self.now - timedelta(minutes=10)
        for callback in pending:
            if self.rng.random() < 0.3:
                continue  # still waiting for its call
            reached = self.rng.random() < 0.85
            satisfaction = self.rng.choices(
                [Satisfaction.SATISFIED, Satisfaction.BASICALLY, Satisfaction.UNSATISFIED], weights=[80, 15, 5]
            )[0]
            followup.callback_record(
                callback=callback, actor=self.deciders[callback.case_id], reached=reached,
                satisfaction=satisfaction if reached else "",
                note=self.rng.choice(texts.CALLBACK_NOTES if reached else texts.CALLBACK_MISSED),
            )
            at = min(made[callback.case_id].invented[-1] + timedelta(hours=self.rng.uniform(24, 120)), latest)
            event = CaseEvent.objects.filter(case_id=callback.case_id, action=CaseAction.CALLBACK).latest("pk")
            self.extra_events.append((callback.case_id, event.pk, at))
            _write([CallBack(pk=callback.pk, done_at=at)], ["done_at"])

    @staticmethod
    def _in_town(village: _Village) -> bool:
        return village.region.code.startswith(DEMO_TOWN_CODE[:9])

    def _front(self, village: _Village) -> User:
        """The dispatcher who takes the case in: the town centre in 寇店镇, else the district's."""
        return self.town_dispatcher if self._in_town(village) else self.district_dispatchers[village.district.code]

    def _reporter(self, plan: _Plan) -> tuple[User | None, User | None, str, bool]:
        """(reporter, actor, channel, anonymous). Paths with a rating need a named citizen."""
        rated = any(step in NAMED_REPORTER for step in plan.path)
        roll = self.rng.random()
        citizen = self.citizens[0] if plan.village.region.code == DEMO_VILLAGE_CODE and roll < 0.3 else (
            self.rng.choice(self.citizens)
        )
        if not rated and plan.grid_id in self.grid_verifiers and roll > 0.7:
            worker = self.grid_verifiers[plan.grid_id]
            return worker, worker, Channel.PATROL, False
        if not rated and roll < 0.1:
            return None, None, Channel.APP, True
        if roll > 0.8:
            return citizen, self._front(plan.village), Channel.HOTLINE, False
        return citizen, citizen, Channel.APP, False

    def _play(self, plan: _Plan, lat: float, lng: float) -> tuple[Case, _History]:
        rng, story, village = self.rng, plan.story, plan.village
        fill = {"v": village.short, "p": plan.place, "org": "社区" if village.region.kind == "community" else "村里"}
        reporter, actor, channel, anonymous = self._reporter(plan)
        case = services.report_submit(
            reporter=reporter, actor=actor, channel=channel, is_anonymous=anonymous,
            title=story.title.format(**fill), description=story.description.format(**fill),
            category=self.categories[story.category], lat=lat, lng=lng,
            address=f"{village.district.name}{village.town.name}{village.short}{plan.place}",
        )
        district = village.district
        front = self._front(village)
        # The town's own centre dispatches to its village committees; anything escalated, or bound for
        # a district department, is dispatched by the district's centre.
        in_town_hands = self._in_town(village) and "escalate" not in plan.path
        dispatcher = self.town_dispatcher if in_town_hands else self.district_dispatchers[district.code]
        dept_key = CATEGORY_DEPARTMENT.get(story.category)
        if plan.to_committee:
            unit, handlers = self.committee(village.region), self.committee_members(village)
        else:
            assert dept_key is not None
            unit, handlers = self.department(district, dept_key), [self.handlers[(district.code, dept_key)]]
        others = [key for key, _name in DEPARTMENTS if key != dept_key]
        wrong_key, assist_key = rng.choice(others), rng.choice(others)
        # After an escalation the town centre no longer decides: the district's does.
        decider = dispatcher if "escalate" in plan.path else front
        self.deciders[case.pk] = decider
        verifier = self.grid_verifiers.get(case.grid_id or 0, decider)
        handler = rng.choice(handlers)
        extension: ExtensionRequest | None = None
        order: SupervisionOrder | None = None
        for step in plan.path[1:]:
            if step == "accept":
                services.case_accept(case=case, actor=front, reason=rng.choice(texts.ACCEPT_NOTES))
            elif step == "reject":
                self._reject(case, front, village)
            elif step == "register":
                services.case_register(case=case, actor=front, reason=rng.choice(texts.REGISTER_NOTES))
            elif step == "escalate":
                linkage.case_escalate(case=case, actor=front, reason=rng.choice(texts.ESCALATE_REASONS))
            elif step == "dispatch":
                services.case_dispatch(case=case, actor=dispatcher, unit=unit)
            elif step == "dispatch_assist":
                services.case_dispatch(
                    case=case, actor=dispatcher, unit=unit, assist_units=[self.department(district, assist_key)]
                )
            elif step == "misdispatch":
                services.case_dispatch(case=case, actor=dispatcher, unit=self.department(district, wrong_key))
            elif step == "return":
                services.case_return(
                    case=case, actor=self.handlers[(district.code, wrong_key)], reason=rng.choice(texts.RETURN_REASONS)
                )
            elif step == "sign":
                services.case_sign_for(case=case, actor=handler)
            elif step == "assist_finish":
                assignment = case.assignments.get(role=AssignmentRole.ASSIST, status__in=list(ACTIVE_ASSIGNMENT))
                linkage.assist_finish(
                    assignment=assignment, actor=self.handlers[(district.code, assist_key)],
                    result=rng.choice(texts.ASSIST_RESULTS),
                )
            elif step == "extend_request":
                extension = linkage.case_extend_request(
                    case=case, actor=handler, days=rng.choice((3, 5, 10)), reason=rng.choice(texts.EXTEND_REASONS)
                )
            elif step == "extend_approve":
                assert extension is not None
                linkage.case_extend_decide(
                    request=extension, actor=decider, approve=True, note=rng.choice(texts.EXTEND_NOTES)
                )
            elif step == "suspend":
                linkage.case_suspend(case=case, actor=decider, reason=rng.choice(texts.SUSPEND_REASONS))
            elif step == "resume":
                linkage.case_resume(case=case, actor=decider, reason=rng.choice(texts.RESUME_NOTES))
            elif step == "supervise":
                assert case.assigned_unit is not None
                order = supervision.supervision_issue(
                    actor=self.city_dispatcher, unit=case.assigned_unit, case=case,
                    reason=rng.choice(texts.SUPERVISION_REASONS),
                    respond_by=timezone.localdate() + timedelta(days=rng.randint(2, 5)),
                )
            elif step == "supervision_reply":
                assert order is not None
                supervision.supervision_respond(
                    order=order, actor=handler, response=rng.choice(texts.SUPERVISION_REPLIES)
                )
                case.refresh_from_db()  # the reply moved the case through the order's own copy of it
            elif step == "merge":
                assert plan.into is not None
                into = self.cases_of[id(plan.into)]
                merging.case_merge(case=case, into=into, actor=front)
                support = into.events.filter(action=CaseAction.SUPPORT).latest("pk")
                # On the open case the support follows its own latest step, so its history stays in order.
                joined = min(max(plan.times[-1], plan.into.times[-1] + timedelta(minutes=1)), self.now)
                self.extra_events.append((into.pk, support.pk, joined))
            elif step == "handle":
                services.case_handle(case=case, actor=handler, result=rng.choice(story.results))
            elif step == "verify_fail":
                services.case_verify(
                    case=case, actor=verifier, passed=False, reason=rng.choice(texts.VERIFY_FAIL_REASONS)
                )
            elif step == "verify_pass":
                services.case_verify(
                    case=case, actor=verifier, passed=True, reason=rng.choice(texts.VERIFY_PASS_NOTES)
                )
            elif step == "close":
                services.case_close(case=case, actor=decider, reason=rng.choice(texts.CLOSE_NOTES))
            elif step in ("rate", "rate_unsatisfied"):
                satisfaction = Satisfaction.UNSATISFIED if step == "rate_unsatisfied" else rng.choices(
                    [Satisfaction.SATISFIED, Satisfaction.BASICALLY, Satisfaction.UNSATISFIED], weights=[75, 20, 5]
                )[0]
                services.case_rate(
                    case=case, actor=case.reporter, satisfaction=satisfaction,
                    comment=rng.choice(texts.RATING_COMMENTS[satisfaction]),
                )
            elif step == "reopen":
                services.case_reopen(case=case, actor=case.reporter, reason=rng.choice(texts.REOPEN_REASONS))
            else:
                raise ValueError(step)
        self.recent[village.region.code].append(case)
        events = list(case.events.order_by("pk").values_list("pk", "created_at", "action"))
        if len(events) != len(plan.path):
            raise DemoError(f"案件 {case.number} 的事件数（{len(events)}）与步骤数（{len(plan.path)}）不符")
        first_dispatch = next((t for _pk, t, action in events if action == CaseAction.DISPATCH), None)
        history = _History(
            event_ids=[pk for pk, _t, _a in events], real=[t for _pk, t, _a in events], invented=plan.times,
            first_dispatch=first_dispatch,
        )
        written = Notification.objects.filter(pk__gt=self.last_notification).values_list("pk", "created_at")
        for pk, created in written:
            self.notification_times.append((pk, history.shift(created)))
            self.last_notification = max(self.last_notification, pk)
        return case, history

    def _reject(self, case: Case, actor: User, village: _Village) -> None:
        earlier = [c for c in self.recent[village.region.code] if c.category_id == case.category_id]
        if earlier and self.rng.random() < 0.6:
            services.case_reject(
                case=case, actor=actor, kind=RejectionKind.DUPLICATE, duplicate_of=earlier[-1],
                reason=self.rng.choice(texts.REJECT_REASONS[RejectionKind.DUPLICATE]),
            )
            return
        kind = self.rng.choice([RejectionKind.INVALID, RejectionKind.NOT_OUR_BUSINESS])
        services.case_reject(case=case, actor=actor, kind=kind, reason=self.rng.choice(texts.REJECT_REASONS[kind]))

    def _backdate(self, made: dict[int, _History]) -> None:
        """Demo data only: the services stamp every row with the current time, which would put
        90 days of history into one minute. Here, and nowhere else, the demo's own rows get the
        times of their invented history; the rows themselves are exactly what the services wrote.

        A time written during a step moves to that step's invented time; a deadline keeps its
        distance to the time it was computed from (calendar time, so working-day limits come out
        approximately right)."""
        events = [
            CaseEvent(pk=pk, created_at=t)
            for history in made.values()
            for pk, t in zip(history.event_ids, history.invented, strict=True)
        ]
        extras = [CaseEvent(pk=event, created_at=t) for _case, event, t in self.extra_events]
        _write(events + extras, ["created_at"])
        latest_extra: dict[int, datetime] = {}
        for case_id, _event, t in self.extra_events:
            latest_extra[case_id] = max(t, latest_extra.get(case_id, t))

        prefix = settings.SIZHI_CASE_NUMBER_PREFIX
        cases = list(Case.objects.filter(pk__in=made))
        for case in cases:
            history = made[case.pk]
            _shift_fields(case, CASE_MOMENTS, history.shift)
            if history.first_dispatch is not None:
                from_dispatch = functools.partial(history.shift_from, anchor=history.first_dispatch)
                _shift_fields(case, CASE_DEADLINES, from_dispatch)
            case.updated_at = max(case.updated_at, latest_extra.get(case.pk, case.updated_at))
            # The number carries the day of the report (services.report_submit's format).
            case.number = f"{prefix}{timezone.localtime(case.created_at):%Y%m%d}{case.pk:08d}"
        _write(cases, [*_present(Case, CASE_MOMENTS + CASE_DEADLINES), "number"])

        self._renumber_references({case.pk: case.number for case in cases})

        assignments = list(Assignment.objects.filter(case_id__in=made))
        for assignment in assignments:
            history, assigned = made[assignment.case_id], assignment.assigned_at
            _shift_fields(assignment, ASSIGNMENT_MOMENTS, history.shift)
            _shift_fields(assignment, ASSIGNMENT_DEADLINES, functools.partial(history.shift_from, anchor=assigned))
        _write(assignments, _present(Assignment, ASSIGNMENT_MOMENTS + ASSIGNMENT_DEADLINES))
        requests = list(ExtensionRequest.objects.filter(case_id__in=made))
        for request in requests:
            _shift_fields(request, EXTENSION_MOMENTS, made[request.case_id].shift)
        _write(requests, _present(ExtensionRequest, EXTENSION_MOMENTS))
        orders = list(SupervisionOrder.objects.filter(case_id__in=made))
        for order in orders:
            assert order.case_id is not None
            issued = order.created_at
            _shift_fields(order, ("created_at", "responded_at"), made[order.case_id].shift)
            order.respond_by += timezone.localdate(order.created_at) - timezone.localdate(issued)
        _write(orders, ["created_at", "responded_at", "respond_by"])
        callbacks = list(CallBack.objects.filter(case_id__in=made))
        for callback in callbacks:
            _shift_fields(callback, ("created_at",), made[callback.case_id].shift)
        _write(callbacks, ["created_at"])
        # A supporter joined when the report was merged: the merged report's last step.
        supporters = list(CaseSupporter.objects.filter(merged_case_id__in=made))
        for supporter in supporters:
            assert supporter.merged_case_id is not None
            supporter.created_at = made[supporter.merged_case_id].invented[-1]
        _write(supporters, ["created_at"])

        # The history's messages went out when it happened: sent, and read when older than two days.
        read_before = self.now - timedelta(days=2)
        _write(
            [
                Notification(
                    pk=pk, created_at=t, status=NotificationStatus.SENT, sent_at=t,
                    read_at=t if t < read_before else None,
                )
                for pk, t in self.notification_times
            ],
            ["created_at", "status", "sent_at", "read_at"],
        )


    def _renumber_references(self, numbers: dict[int, str]) -> None:
        """Event texts and messages quote case numbers as they were when written; give them the
        back-dated numbers too, so a number read anywhere finds its case."""
        pattern = re.compile(re.escape(settings.SIZHI_CASE_NUMBER_PREFIX) + r"\d{8}(\d{8,})")

        def renumber(text: str) -> str:
            return pattern.sub(lambda m: numbers.get(int(m.group(1)), m.group(0)), text)

        events = []
        for event in CaseEvent.objects.filter(case_id__in=numbers).only("pk", "reason", "data"):
            reason, data = renumber(event.reason), json.loads(renumber(json.dumps(event.data, ensure_ascii=False)))
            if (reason, data) != (event.reason, event.data):
                event.reason, event.data = reason, data
                events.append(event)
        _write(events, ["reason", "data"])
        messages = []
        for message in Notification.objects.filter(pk__in=[pk for pk, _t in self.notification_times]).only(
            "pk", "subject", "body"
        ):
            subject, body = renumber(message.subject), renumber(message.body)
            if (subject, body) != (message.subject, message.body):
                message.subject, message.body = subject, body
                messages.append(message)
        _write(messages, ["subject", "body"])


# Times on the case's rows that the loader moves into the invented history (see _backdate).
CASE_MOMENTS = ("created_at", "updated_at", "dispatched_at", "closed_at", "rated_at", "suspended_at")
CASE_DEADLINES = ("due_at", "yellow_at")  # computed from the first dispatch
ASSIGNMENT_MOMENTS = ("assigned_at", "signed_at", "finished_at")
ASSIGNMENT_DEADLINES = ("sign_due_at", "due_at")  # computed from assigned_at
EXTENSION_MOMENTS = ("created_at", "decided_at")


@dataclass
class _History:
    """The real times at which a case's events were written, and the invented times they stand for."""

    event_ids: list[int]
    real: list[datetime]
    invented: list[datetime]
    first_dispatch: datetime | None

    def shift(self, moment: datetime) -> datetime:
        """A time written during the case's steps: the invented time of its step, same offset."""
        step = max(0, bisect.bisect_right(self.real, moment) - 1)
        return self.invented[step] + (moment - self.real[step])

    def shift_from(self, moment: datetime, anchor: datetime) -> datetime:
        """A deadline computed from `anchor` (written during the steps) keeps its distance to it."""
        return moment + (self.shift(anchor) - anchor)


def _present(model: type[Model], names: tuple[str, ...]) -> list[str]:
    fields = {f.name for f in model._meta.get_fields()}
    return [name for name in names if name in fields]


def _write(rows: Sequence[Model], names: list[str]) -> None:
    """UPDATE these fields of each row by primary key, in one executemany: bulk_update's CASE
    expressions cost seconds for a few thousand rows."""
    if not rows:
        return
    meta = type(rows[0])._meta
    fields = [field for name in names if isinstance(field := meta.get_field(name), Field)]
    assert len(fields) == len(names) and meta.pk is not None
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    # Table and column names come from the model's own metadata, never from input.
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    params = [[f.get_db_prep_value(getattr(row, f.attname), connection) for f in fields] + [row.pk] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _shift_fields(row: Model, names: tuple[str, ...], move: Callable[[datetime], datetime]) -> None:
    for name in _present(type(row), names):
        value = getattr(row, name)
        if value is not None:
            setattr(row, name, move(value))


def _status_counts(count: int) -> dict[str, int]:
    """Exactly `count` cases by final status, at least one of each, the rest by STATUS_SHARE."""
    total = sum(STATUS_SHARE.values())
    counts = {s: max(1, count * share // total) for s, share in STATUS_SHARE.items()}
    # Closed cases are the bulk, so they absorb the rounding.
    counts["closed"] += count - sum(counts.values())
    if count < len(STATUS_SHARE) or counts["closed"] < 1:
        raise DemoError(f"示例案件至少 {len(STATUS_SHARE)} 件，每种状态至少一件")
    return counts
