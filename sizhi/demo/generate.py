"""`sizhi demo generate`: a Luoyang-scale city with N invented cases, for load tests and benchmarks.

The city is the demo's (the real division tree, 3,228 villages and communities, about 10,000
invented grids, one handling unit per centre, department and committee as `sizhi demo load` makes
them). The cases are spread over `days` days before today with realistic mixes: weekday and
daytime peaks, more reports from communities than from villages, a skewed category mix, the
channels of a Henan city (App, the 12345 hotline, grid patrols, sensors, other systems and a few
letters to the secretary), handling times drawn from a log-normal around four days so that most
cases are closed, the recent ones are still open and a few are overdue, and ratings mostly
satisfied, less so when the case was late.

Every case gets its history as CaseEvent rows (SUBMIT always; DISPATCH, SIGN_FOR, HANDLE, CLOSE
and RATE as far as it got, WARN_RED when it went overdue) so 联动考评 has tenures to score, or
with `events="minimal"` only SUBMIT and CLOSE (what a dashboard needs, a third of the rows).

Rows are not made one service call at a time (that is `sizhi demo load`): they are written in
batches, by COPY on PostgreSQL and executemany on SQLite, and the dashboard roll-ups are rebuilt
from them at the end. Generated cases are numbered GEN…, which is how the generator tells them
from real ones: it refuses to add to a database holding any other case unless forced.
Deterministic for a given seed and day.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from django.db import DatabaseError, connection, transaction
from django.db.models import Model
from django.utils import timezone
from tqdm import tqdm

from sizhi.cases.models import Case, CaseEvent, Category
from sizhi.cases.workflow import CaseAction, CaseStatus, Channel, Priority, Satisfaction, WarningLevel
from sizhi.demo import texts
from sizhi.demo.loader import CATEGORY_DEPARTMENT, DEPARTMENTS, VILLAGE_MATTERS
from sizhi.regions.demo import DEFAULT_SEED, DEMO_CITY_CODE, generate_demo_grids, load_demo_divisions
from sizhi.regions.models import Grid, Region, RegionLevel, VillageKind
from sizhi.regions.selectors import region_scope_q
from sizhi.units.models import HandlingUnit, UnitKind

GENERATED_PREFIX = "GEN"
DEFAULT_DAYS = 365
DEFAULT_BATCH = 50_000
# Above this many cases PostgreSQL gets the secondary indexes of the two tables dropped during the
# load and built once afterwards: much faster than maintaining them row by row.
REINDEX_FROM = 1_000_000

# Shares of the channels (per mille). The mailbox is there so that every dashboard proves it
# leaves secretary letters out.
CHANNEL_SHARE = {
    Channel.APP: 380, Channel.HOTLINE: 350, Channel.PATROL: 200, Channel.SENSOR: 40, Channel.OPEN311: 25,
    Channel.MAILBOX: 5,
}
# Reports per hour of the day (relative): quiet at night, peaks mid-morning and early evening.
HOUR_WEIGHT = (1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 13, 11, 8, 9, 11, 12, 12, 11, 10, 9, 7, 5, 3, 2)
WEEKEND_FACTOR = 0.7
COMMUNITY_WEIGHT = 2.0  # an urban community reports about twice as much as a rural village
# Ends other than closing: not accepted (不予受理) and merged into an open case (并案).
REJECTED_SHARE = 0.06
MERGED_SHARE = 0.02
# Cases that stall (hard cases, disputes): they stay open until long overdue.
STALLED_SHARE = 0.015
# Handling time from report to closing, log-normal: median about four days.
HANDLE_MEDIAN_HOURS = 96.0
HANDLE_SIGMA = 0.9
# Calendar days for the 办结时限 by priority (five working days for a normal case).
DUE_DAYS = {Priority.NORMAL: 7, Priority.URGENT: 3, Priority.EMERGENCY: 1}
PRIORITY_SHARE = {Priority.NORMAL: 0.9, Priority.URGENT: 0.08, Priority.EMERGENCY: 0.02}
RATED_SHARE = 0.65
# Ratings (satisfied, basically, unsatisfied) of cases closed in time and of late ones.
RATING_ON_TIME = (0.80, 0.15, 0.05)
RATING_LATE = (0.55, 0.25, 0.20)
OPEN_PATH = (
    CaseStatus.REPORTED, CaseStatus.ACCEPTED, CaseStatus.REGISTERED, CaseStatus.DISPATCHED, CaseStatus.HANDLING,
    CaseStatus.HANDLING, CaseStatus.HANDLING, CaseStatus.VERIFYING, CaseStatus.VERIFIED,
)
EVENT_PROFILES = ("full", "minimal")


class GenerateError(Exception):
    """The generator cannot run as asked (real cases in the way, a bad option)."""


@dataclass
class GenerateSummary:
    cases: int = 0
    events: int = 0
    seconds: float = 0.0
    rollup_seconds: float = 0.0
    regions: int = 0
    grids: int = 0
    units: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def cases_per_second(self) -> float:
        return self.cases / self.seconds if self.seconds else 0.0

    @property
    def rows_per_second(self) -> float:
        return (self.cases + self.events) / self.seconds if self.seconds else 0.0


def real_case_count() -> int:
    """Cases the generator did not make."""
    return Case.objects.exclude(number__startswith=GENERATED_PREFIX).count()


def generate(
    *,
    scale: int,
    seed: int = DEFAULT_SEED,
    days: int = DEFAULT_DAYS,
    batch: int = DEFAULT_BATCH,
    events: str = "full",
    force: bool = False,
    progress: bool = False,
    rollups: bool = True,
) -> GenerateSummary:
    if scale < 1:
        raise GenerateError("--scale 至少为 1")
    if not 1 <= days <= 3650:
        raise GenerateError("--days 应在 1 到 3650 之间")
    if not 100 <= batch <= 1_000_000:
        raise GenerateError("--batch 应在 100 到 1000000 之间")
    if events not in EVENT_PROFILES:
        raise GenerateError(f"--events 只能是 {' 或 '.join(EVENT_PROFILES)}")
    real = real_case_count()
    if real and not force:
        raise GenerateError(
            f"数据库中已有 {real} 件非生成的案件（可能是真实数据）。生成器只应在测试或压测数据库上运行；"
            "确认无误后加 --force 继续。"
        )
    started = time.perf_counter()
    city = _City.build(seed=seed, progress=progress)
    summary = GenerateSummary(regions=city.regions, grids=len(city.grid_ids), units=city.units)
    maker = _Maker(city, seed=seed, days=days, events=events)
    writer = _writer()
    big = connection.vendor == "postgresql" and scale >= REINDEX_FROM
    dropped = _drop_indexes() if big else []
    checks_off = _foreign_key_checks_off() if big else False
    bar = tqdm(total=scale, unit="件", desc="生成案件", disable=not progress)
    by_status: Counter[str] = Counter()
    try:
        done = 0
        while done < scale:
            n = min(batch, scale - done)
            with transaction.atomic():
                ids = writer.reserve(n)
                cases, case_events = maker.batch(ids, start=done)
                writer.write(Case, maker.case_columns, cases)
                writer.write(CaseEvent, maker.event_columns, case_events)
            by_status.update(row[maker.status_index] for row in cases)
            summary.events += len(case_events)
            done += n
            bar.update(n)
    finally:
        bar.close()
        if checks_off:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")
        if dropped:
            _restore_indexes(dropped, progress=progress)
    summary.cases = scale
    summary.by_status = dict(by_status)
    summary.seconds = time.perf_counter() - started
    if rollups:
        from sizhi.cases.evaluation_rollup import rebuild as rebuild_evaluation
        from sizhi.insight.rollups import rebuild_rollups

        t0 = time.perf_counter()
        rebuild_rollups()
        rebuild_evaluation(progress=progress)  # 联动考评's, from the events just COPied
        summary.rollup_seconds = time.perf_counter() - t0
    return summary


# --- the city ----------------------------------------------------------------------------------------


@dataclass
class _City:
    """What the cases are spread over, as arrays the batches index into."""

    regions: int
    units: int
    village_ids: np.ndarray        # Region pk per village
    village_codes: list[str]
    village_weights: np.ndarray    # probability per village
    village_names: list[str]
    village_is_community: np.ndarray
    grid_ids: np.ndarray           # grids of all villages, grouped by village
    grid_start: np.ndarray         # first grid index of each village
    grid_count: np.ndarray
    grid_box: np.ndarray           # min_lng, min_lat, max_lng, max_lat per grid
    committee: np.ndarray          # unit pk per village
    town_centre: np.ndarray        # unit pk of the village's town centre
    departments: dict[str, np.ndarray] = field(default_factory=dict)  # key -> unit pk per village

    @classmethod
    def build(cls, *, seed: int, progress: bool) -> _City:
        with transaction.atomic():
            city = Region.objects.filter(code=DEMO_CITY_CODE, level=RegionLevel.CITY).first()
            if city is None or not Region.objects.filter(region_scope_q(city), level=RegionLevel.VILLAGE).exists():
                load_demo_divisions(progress=progress)
                city = Region.objects.get(code=DEMO_CITY_CODE)
            if not Grid.objects.filter(region_scope_q(city, "region_code")).exists():
                generate_demo_grids(seed=seed, progress=progress)
            regions = list(Region.objects.filter(region_scope_q(city)).order_by("code"))
            units = _ensure_units(city, regions)
        by_code = {r.code: r for r in regions}
        villages = [r for r in regions if r.level == RegionLevel.VILLAGE]
        grids_by_village: dict[str, list[tuple[int, float, float, float, float]]] = {}
        for pk, code, a, b, c, d in Grid.objects.filter(region_scope_q(city, "region_code")).order_by(
            "region_code", "code"
        ).values_list("pk", "region_code", "min_lng", "min_lat", "max_lng", "max_lat"):
            grids_by_village.setdefault(code, []).append((pk, a, b, c, d))
        villages = [v for v in villages if v.code in grids_by_village]
        if not villages:
            raise GenerateError("示例城市没有网格，无法生成案件")
        grid_rows: list[tuple[int, float, float, float, float]] = []
        starts, counts = [], []
        for v in villages:
            rows = grids_by_village[v.code]
            starts.append(len(grid_rows))
            counts.append(len(rows))
            grid_rows.extend(rows)
        is_community = np.array([v.kind == VillageKind.COMMUNITY for v in villages])
        weights = np.where(is_community, COMMUNITY_WEIGHT, 1.0)

        def unit_of(code: str, name: str) -> int:
            return units[(code, name)]

        committee = np.array([unit_of(v.code, v.name) for v in villages])
        town_centre: list[int] = []
        for v in villages:
            town = by_code.get(v.code[:9] + "000")
            town_centre.append(unit_of(town.code, f"{town.name}综治中心") if town else committee[len(town_centre)])
        departments: dict[str, np.ndarray] = {}
        for key, name in DEPARTMENTS:
            per_village = []
            for v in villages:
                district = by_code[v.code[:6] + "000000"]
                per_village.append(unit_of(district.code, f"{district.name}{name}"))
            departments[key] = np.array(per_village)
        return cls(
            regions=len(regions), units=len(units),
            village_ids=np.array([v.pk for v in villages]), village_codes=[v.code for v in villages],
            village_weights=weights / weights.sum(), village_names=[_short(v.name) for v in villages],
            village_is_community=is_community,
            grid_ids=np.array([g[0] for g in grid_rows]), grid_start=np.array(starts), grid_count=np.array(counts),
            grid_box=np.array([g[1:] for g in grid_rows], dtype=float),
            committee=committee, town_centre=np.array(town_centre), departments=departments,
        )


def _short(name: str) -> str:
    for suffix in ("村民委员会", "居民委员会", "村委会", "居委会"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _ensure_units(city: Region, regions: Sequence[Region]) -> dict[tuple[str, str], int]:
    """The units `sizhi demo load` makes, with the same names, so either can run first."""
    wanted: list[HandlingUnit] = []
    for r in regions:
        if r.level == RegionLevel.CITY:
            names = [(f"{r.name}社会治理指挥中心", UnitKind.COMMAND_CENTRE)]
        elif r.level == RegionLevel.DISTRICT:
            names = [(f"{r.name}社会治理指挥中心", UnitKind.COMMAND_CENTRE)]
            names += [(f"{r.name}{name}", UnitKind.DEPARTMENT) for _key, name in DEPARTMENTS]
        elif r.level == RegionLevel.TOWN:
            names = [(f"{r.name}综治中心", UnitKind.COMMAND_CENTRE)]
        else:
            names = [(r.name, UnitKind.VILLAGE_COMMITTEE)]
        # bulk_create skips save(), which is what copies the region code.
        wanted += [HandlingUnit(name=n, kind=k, region=r, region_code=r.code) for n, k in names]
    existing = set(HandlingUnit.objects.filter(region_scope_q(city, "region_code")).values_list("region_id", "name"))
    HandlingUnit.objects.bulk_create([u for u in wanted if (u.region_id, u.name) not in existing], batch_size=1000)
    return {
        (code, name): pk
        for pk, code, name in HandlingUnit.objects.filter(region_scope_q(city, "region_code")).values_list(
            "pk", "region_code", "name"
        )
    }


# --- the cases ---------------------------------------------------------------------------------------


def _stories() -> dict[str, list[texts.Story]]:
    out: dict[str, list[texts.Story]] = {}
    for story in texts.STORIES:
        out.setdefault(story.category, []).append(story)
    return out


def _tracking_code(seed: int, pk: int) -> str:
    # Derived from the seed and the id: unique like the id, the same on every run with that seed.
    digest = hashlib.blake2b(f"{seed}:{pk}".encode(), digest_size=16).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class _Maker:
    """Turns a batch of reserved ids into case rows and event rows (tuples in column order)."""

    def __init__(self, city: _City, *, seed: int, days: int, events: str) -> None:
        self.city = city
        self.seed = seed
        self.full = events == "full"
        zone = timezone.get_default_timezone()
        self.zone = zone
        self.now = timezone.now()
        today = timezone.localtime(self.now, zone).date()
        first = today - dt.timedelta(days=days - 1)
        day_list = [first + dt.timedelta(days=i) for i in range(days)]
        self.day_midnight = np.array(
            [dt.datetime.combine(d, dt.time.min, tzinfo=zone).timestamp() for d in day_list]
        )
        day_weights = np.array([WEEKEND_FACTOR if d.weekday() >= 5 else 1.0 for d in day_list])
        self.day_p = day_weights / day_weights.sum()
        hours = np.array(HOUR_WEIGHT, dtype=float)
        self.hour_p = hours / hours.sum()
        self.now_ts = self.now.timestamp()

        categories = list(Category.objects.filter(parent__isnull=False, is_active=True).order_by("pk"))
        if not categories:
            raise GenerateError("没有可用的事件类别")
        rng = np.random.default_rng(seed)
        # A skewed mix: a few categories (roads, rubbish, noise…) carry most reports.
        ranks = rng.permutation(len(categories)) + 1
        weights = 1.0 / ranks ** 0.9
        self.categories = categories
        self.category_p = weights / weights.sum()
        stories = _stories()
        self.category_stories = [stories.get(c.code) or [] for c in categories]
        self.category_village_matter = np.array([c.code in VILLAGE_MATTERS for c in categories])
        self.category_department = [CATEGORY_DEPARTMENT.get(c.code) for c in categories]
        self.channels = list(CHANNEL_SHARE)
        share = np.array(list(CHANNEL_SHARE.values()), dtype=float)
        self.channel_p = share / share.sum()
        self.priorities = list(PRIORITY_SHARE)
        self.priority_p = np.array(list(PRIORITY_SHARE.values()))
        self.due_seconds = np.array([DUE_DAYS[p] * 86400.0 for p in self.priorities])

        mine = [
            "number", "tracking_code", "title", "description", "category_id", "channel", "status", "lat", "lng",
            "address", "grid_id", "region_id", "region_code", "assigned_unit_id", "rejection_kind", "satisfaction",
            "rated_at", "created_at", "updated_at", "dispatched_at", "closed_at", "version", "priority", "level",
            "due_at", "yellow_at", "warning",
        ]
        self.case_columns = ["id", *mine, *(c for c in self._columns(Case) if c not in mine)]
        self.status_index = self.case_columns.index("status")
        self.event_columns = [
            "case_id", "action", "from_status", "to_status", "unit_id", "actor_unit_id", "reason", "data",
            "is_public", "created_at",
        ]
        self.event_columns += [c for c in self._columns(CaseEvent) if c not in self.event_columns]
        self.event_defaults = self._defaults(CaseEvent, self.event_columns[10:])
        self.case_defaults = {
            c: v for c, v in self._defaults(Case, self.case_columns).items()
        }

    @staticmethod
    def _columns(model: type[Model]) -> list[str]:
        """Every concrete column but the primary key (other apps may add fields: those the
        generator does not set get the field's default)."""
        return [f.column for f in model._meta.concrete_fields if not f.primary_key]

    @staticmethod
    def _defaults(model: type[Model], columns: Sequence[str]) -> dict[str, Any]:
        by_column = {f.column: f for f in model._meta.concrete_fields}
        out: dict[str, Any] = {}
        for column in columns:
            f = by_column.get(column)
            if f is None or f.primary_key:
                continue
            value = f.get_default()
            if isinstance(value, dict | list):
                value = json.dumps(value)
            elif value is None and not f.null:
                value = ""
            out[column] = value
        return out

    def _moment(self, ts: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(ts, tz=dt.UTC)

    def batch(self, ids: Sequence[int], *, start: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        n = len(ids)
        city = self.city
        # One generator per batch, seeded by (seed, batch start): the same seed gives the same
        # cases whatever the batch size's effect on the order the batches are written in.
        rng = np.random.default_rng([self.seed, start])
        day = rng.choice(len(self.day_p), size=n, p=self.day_p)
        hour = rng.choice(24, size=n, p=self.hour_p)
        created = self.day_midnight[day] + hour * 3600.0 + rng.uniform(0, 3600, size=n)
        created = np.minimum(created, self.now_ts - rng.uniform(60, 3600, size=n))
        village = rng.choice(len(city.village_ids), size=n, p=city.village_weights)
        grid_index = city.grid_start[village] + (rng.random(n) * city.grid_count[village]).astype(int)
        box = city.grid_box[grid_index]
        lng = box[:, 0] + (box[:, 2] - box[:, 0]) * rng.uniform(0.2, 0.8, size=n)
        lat = box[:, 1] + (box[:, 3] - box[:, 1]) * rng.uniform(0.2, 0.8, size=n)
        category = rng.choice(len(self.categories), size=n, p=self.category_p)
        channel = rng.choice(len(self.channels), size=n, p=self.channel_p)
        # Hotline callers often give an address and no point: a dispatcher places the case.
        unlocated = (np.array(self.channels)[channel] == Channel.HOTLINE) & (rng.random(n) < 0.1)
        priority = rng.choice(len(self.priorities), size=n, p=self.priority_p)
        end = rng.random(n)
        handle = rng.lognormal(np.log(HANDLE_MEDIAN_HOURS * 3600.0), HANDLE_SIGMA, size=n)
        stalled = rng.random(n) < STALLED_SHARE
        handle = np.where(stalled, handle * 20, handle)
        dispatch_after = rng.uniform(0.2, 6, size=n) * 3600.0
        sign_after = rng.uniform(0.5, 20, size=n) * 3600.0
        rate_after = rng.uniform(2, 72, size=n) * 3600.0
        rated_draw = rng.random(n)
        rating_draw = rng.random(n)
        story_draw = rng.random(n)
        place_draw = rng.random(n)
        to_committee = rng.random(n) < 0.7

        cases: list[tuple[Any, ...]] = []
        case_events: list[tuple[Any, ...]] = []
        tail = [self.case_defaults[c] for c in self.case_columns[28:]]
        event_tail = [self.event_defaults[c] for c in self.event_columns[10:]]
        for i in range(n):
            pk = int(ids[i])
            v = int(village[i])
            c = int(category[i])
            ch = self.channels[int(channel[i])]
            t0 = float(created[i])
            created_at = self._moment(t0)
            due_ts = t0 + float(self.due_seconds[int(priority[i])])
            yellow_ts = t0 + 0.8 * (due_ts - t0)
            code = city.village_codes[v]
            if self.category_village_matter[c] and to_committee[i]:
                unit = int(city.committee[v])
            elif (department := self.category_department[c]) is not None:
                unit = int(city.departments[department][v])
            else:
                unit = int(city.town_centre[v])
            title, description = self._text(c, v, float(story_draw[i]), float(place_draw[i]))
            status: str
            closed_ts = rated_ts = dispatched_ts = None
            satisfaction = rejection = ""
            assigned: int | None = None
            events: list[tuple[Any, ...]] = [
                (pk, CaseAction.SUBMIT, "", CaseStatus.REPORTED, None, None, "", json.dumps({"channel": ch}), True,
                 created_at),
            ]
            e = float(end[i])
            finish_ts = t0 + float(handle[i])
            if e < REJECTED_SHARE:
                status = CaseStatus.REJECTED
                closed_ts = t0 + float(dispatch_after[i])
                rejection = "invalid"
            elif e < REJECTED_SHARE + MERGED_SHARE:
                status = CaseStatus.MERGED
                closed_ts = t0 + float(dispatch_after[i])
            elif finish_ts <= self.now_ts:
                status = CaseStatus.CLOSED
                closed_ts = finish_ts
            else:
                # Still open: how far it got follows the share of its handling time used.
                used = (self.now_ts - t0) / (finish_ts - t0)
                status = OPEN_PATH[min(len(OPEN_PATH) - 1, int(used * len(OPEN_PATH)))]
            if closed_ts is not None and closed_ts > self.now_ts:
                closed_ts = None
                status = CaseStatus.REPORTED
            dispatched = status in (CaseStatus.DISPATCHED, CaseStatus.HANDLING, CaseStatus.VERIFYING,
                                    CaseStatus.VERIFIED, CaseStatus.CLOSED)
            late = False
            if dispatched:
                dispatched_ts = min(t0 + float(dispatch_after[i]), self.now_ts)
                assigned = unit
                sign_ts = dispatched_ts + float(sign_after[i])
                stop = closed_ts if closed_ts is not None else self.now_ts
                late = stop >= due_ts
                if self.full:
                    d_at = self._moment(dispatched_ts)
                    data = json.dumps({
                        "unit": unit, "role": "lead", "sign_due_at": self._moment(dispatched_ts + 4 * 3600).isoformat(),
                        "due_at": self._moment(due_ts).isoformat(),
                    })
                    events.append((pk, CaseAction.DISPATCH, CaseStatus.REGISTERED, CaseStatus.DISPATCHED, unit,
                                   None, "", data, True, d_at))
                    if status != CaseStatus.DISPATCHED and sign_ts < stop:
                        events.append((pk, CaseAction.SIGN_FOR, CaseStatus.DISPATCHED, CaseStatus.HANDLING, unit,
                                       unit, "", "{}", True, self._moment(sign_ts)))
                    if late:
                        warned = json.dumps({"due_at": self._moment(due_ts).isoformat(), "unit": unit})
                        events.append((pk, CaseAction.WARN_RED, CaseStatus.HANDLING, CaseStatus.HANDLING, unit,
                                       None, "", warned, False, self._moment(due_ts)))
                    if status in (CaseStatus.VERIFYING, CaseStatus.VERIFIED, CaseStatus.CLOSED):
                        handled_ts = (closed_ts or self.now_ts) - min(0.1 * float(handle[i]), 24 * 3600.0)
                        handled_ts = max(handled_ts, sign_ts)
                        events.append((pk, CaseAction.HANDLE, CaseStatus.HANDLING, CaseStatus.VERIFYING, unit,
                                       unit, "", "{}", True, self._moment(handled_ts)))
            if status == CaseStatus.CLOSED and closed_ts is not None:
                events.append((pk, CaseAction.CLOSE, CaseStatus.VERIFIED, CaseStatus.CLOSED, unit, None, "", "{}",
                               True, self._moment(closed_ts)))
                if rated_draw[i] < RATED_SHARE and closed_ts + float(rate_after[i]) < self.now_ts:
                    rated_ts = closed_ts + float(rate_after[i])
                    mix = RATING_LATE if late else RATING_ON_TIME
                    r = float(rating_draw[i])
                    satisfaction = (
                        Satisfaction.SATISFIED if r < mix[0] else
                        Satisfaction.BASICALLY if r < mix[0] + mix[1] else Satisfaction.UNSATISFIED
                    )
                    if self.full:
                        events.append((pk, CaseAction.RATE, CaseStatus.CLOSED, CaseStatus.CLOSED, unit, None, "",
                                       json.dumps({"satisfaction": satisfaction}), True, self._moment(rated_ts)))
            elif status in (CaseStatus.REJECTED, CaseStatus.MERGED) and closed_ts is not None:
                action = CaseAction.REJECT if status == CaseStatus.REJECTED else CaseAction.MERGE
                events.append((pk, action, CaseStatus.REPORTED, status, None, None, "", "{}", True,
                               self._moment(closed_ts)))
            is_open = closed_ts is None
            warning = WarningLevel.NONE
            if dispatched:
                moment = self.now_ts if is_open else float(closed_ts or self.now_ts)
                warning = (WarningLevel.RED if moment >= due_ts else
                           WarningLevel.YELLOW if moment >= yellow_ts else WarningLevel.NONE)
            located = not unlocated[i]
            local_day = timezone.localtime(created_at, self.zone)
            last_ts = max(t0, rated_ts or 0.0, closed_ts or 0.0, dispatched_ts or 0.0)
            cases.append((
                pk,
                f"{GENERATED_PREFIX}{local_day:%Y%m%d}{pk:09d}",
                _tracking_code(self.seed, pk),
                title, description, self.categories[c].pk, ch, status,
                float(lat[i]) if located else None, float(lng[i]) if located else None,
                "" if located else f"{city.village_names[v]}附近",
                int(city.grid_ids[grid_index[i]]) if located else None,
                int(city.village_ids[v]), code, assigned, rejection, satisfaction,
                self._moment(rated_ts) if rated_ts else None,
                created_at, self._moment(last_ts),
                self._moment(dispatched_ts) if dispatched_ts else None,
                self._moment(closed_ts) if closed_ts else None,
                len(events) - 1, self.priorities[int(priority[i])], RegionLevel.TOWN,
                self._moment(due_ts) if dispatched else None,
                self._moment(yellow_ts) if dispatched else None,
                warning, *tail,
            ))
            case_events += [(*ev, *event_tail) for ev in events]
        return cases, case_events

    def _text(self, category: int, village: int, story_draw: float, place_draw: float) -> tuple[str, str]:
        stories = self.category_stories[category]
        name = self.city.village_names[village]
        if not stories:
            label = self.categories[category].name
            return f"{name}{label}问题", f"{name}有{label}方面的问题，请相关部门尽快处理。"
        story = stories[int(story_draw * len(stories))]
        places = texts.COMMUNITY_PLACES if self.city.village_is_community[village] else texts.VILLAGE_PLACES
        place = places[int(place_draw * len(places))]
        org = "社区" if self.city.village_is_community[village] else "村里"
        values = {"v": name, "p": place, "org": org}
        return story.title.format(**values)[:100], story.description.format(**values)[:4000]


# --- writing -----------------------------------------------------------------------------------------


class _Writer(Protocol):
    """What the generator needs from a database: case ids reserved ahead, and bulk row writes."""

    def reserve(self, n: int) -> list[int]: ...

    def write(self, model: type[Model], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None: ...


class _PostgresWriter(_Writer):
    """COPY in the binary-free text format through psycopg 3's `cursor.copy`."""

    def reserve(self, n: int) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [Case._meta.db_table, n]
            )
            return [row[0] for row in cursor.fetchall()]

    def write(self, model: type[Model], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        table = model._meta.db_table
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no copy()
            with raw.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)


class _SqliteWriter(_Writer):
    def reserve(self, n: int) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {Case._meta.db_table}")  # noqa: S608
            start = int(cursor.fetchone()[0]) + 1
        return list(range(start, start + n))

    def write(self, model: type[Model], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        table = model._meta.db_table
        if model is CaseEvent:
            columns = columns[:]  # events take the table's own ids
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        marks = ", ".join(["%s"] * len(columns))
        by_column = {f.column: f for f in model._meta.concrete_fields}
        dates = [
            (f := by_column.get(c)) is not None and f.get_internal_type() == "DateTimeField" for c in columns
        ]
        adapt = connection.ops.adapt_datetimefield_value
        prepared = [
            tuple(adapt(value) if is_date and value is not None else value
                  for is_date, value in zip(dates, row, strict=True))
            for row in rows
        ]
        with connection.cursor() as cursor:
            # Names come from the model's own metadata, values are parameters.
            sql = f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({marks})"  # noqa: S608
            cursor.executemany(sql, prepared)


def _writer() -> _Writer:
    return _PostgresWriter() if connection.vendor == "postgresql" else _SqliteWriter()


# --- indexes of a big load -----------------------------------------------------------------------------


def _drop_indexes() -> list[tuple[str, str]]:
    """The secondary indexes of cases and events that no constraint needs; built again afterwards."""
    tables = [Case._meta.db_table, CaseEvent._meta.db_table]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = ANY(%s) AND i.schemaname = current_schema()
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            """,
            [tables],
        )
        found = [(name, definition) for name, definition in cursor.fetchall()]
        for name, _definition in found:
            cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(name)}")
    return found


def _foreign_key_checks_off() -> bool:
    """A big load skips the row-by-row foreign-key triggers (every id written comes from the rows
    just read, so nothing dangles); this needs a superuser, and without one the checks stay on."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
    except DatabaseError:
        return False
    return True


def _restore_indexes(dropped: list[tuple[str, str]], *, progress: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _name, definition in tqdm(dropped, desc="重建索引", disable=not progress):
            cursor.execute(definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
        cursor.execute(f"ANALYZE {Case._meta.db_table}")
        cursor.execute(f"ANALYZE {CaseEvent._meta.db_table}")


def iter_generated() -> Iterator[Case]:
    return Case.objects.filter(number__startswith=GENERATED_PREFIX).iterator()
