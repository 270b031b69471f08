"""Writes to the region tree and the grid network.

Nothing else creates, changes or deletes a Region, Grid or GridWorker: views, the API, admin
actions, importers and the demo generator all come through here, so the rules (code structure,
valid boundaries, the grid-set version that keeps every process's spatial index fresh) hold
whoever writes.
"""

from __future__ import annotations

import math
import sys
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import shapely
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, Field, ProtectedError, QuerySet, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext as _
from tqdm import tqdm

from sizhi.regions import spatial
from sizhi.regions.models import (
    GRID_SET_VERSION_PK,
    LEVEL_PREFIX_LENGTH,
    PARENT_LEVEL,
    Employment,
    Grid,
    GridRole,
    GridSetVersion,
    GridWorker,
    Region,
    RegionLevel,
    VillageKind,
)

CODE_LENGTH = 12
GRID_CODE_MAX_LENGTH = 20
NAME_MAX_LENGTH = 100
# Rows per INSERT/UPDATE statement: below SQLite's bound-variable limit for every model here.
BULK_BATCH_SIZE = 500
# Digits of the province part; a city's own segment is the two digits after it.
PROVINCE_PREFIX_LENGTH = 2
LEVEL_ORDER = [RegionLevel.CITY, RegionLevel.DISTRICT, RegionLevel.TOWN, RegionLevel.VILLAGE]

T = TypeVar("T")


# --- Row-level reporting shared by the bulk writers and the importers ---------------------------


@dataclass(frozen=True)
class SourceRef:
    """Where a row came from, so that an operator can find it in the file they uploaded."""

    position: int
    unit: str = "line"  # "line": a 1-based CSV/JSON line; "feature": an index into `features`

    def __str__(self) -> str:
        if self.unit == "feature":
            return _("要素 features[%(index)d]") % {"index": self.position}
        return _("第 %(line)d 行") % {"line": self.position}


@dataclass(frozen=True)
class RowError:
    source: SourceRef
    message: str

    def __str__(self) -> str:
        return f"{self.source}：{self.message}"


class ImportRejected(ValidationError):
    """Some rows are bad; nothing was written. Carries every bad row, in file order."""

    def __init__(self, row_errors: Sequence[RowError]) -> None:
        self.row_errors = sorted(row_errors, key=lambda e: (e.source.unit, e.source.position))
        super().__init__([str(e) for e in self.row_errors], code="import_rejected")


@dataclass
class ImportCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


@dataclass
class ImportSummary:
    # Keyed by a RegionLevel value, "grid" or "center", in the order they were first counted.
    counts: dict[str, ImportCounts] = field(default_factory=dict)
    skipped: int = 0

    def of(self, key: str) -> ImportCounts:
        return self.counts.setdefault(key, ImportCounts())

    def lines(self) -> list[str]:
        labels: dict[str, str] = {level.value: str(level.label) for level in RegionLevel}
        labels["grid"] = _("网格")
        labels["center"] = _("区划中心点")
        out = []
        for key, c in self.counts.items():
            text = _("%(what)s：新增 %(created)d，更新 %(updated)d，未变 %(unchanged)d") % {
                "what": labels.get(key, key), "created": c.created, "updated": c.updated,
                "unchanged": c.unchanged,
            }
            if c.deleted:
                text += _("，删除 %(deleted)d") % {"deleted": c.deleted}
            out.append(text)
        if self.skipped:
            out.append(_("跳过 %(n)d 个无法对应的区划要素") % {"n": self.skipped})
        return out


def progress_iter(items: Iterable[T], *, enabled: bool, desc: str, total: int | None = None) -> Iterator[T]:
    # Progress goes to stderr so that the summary on stdout stays clean for scripts.
    empty = isinstance(items, Sized) and not len(items)
    yield from tqdm(items, desc=desc, total=total, disable=not enabled or empty, file=sys.stderr, unit="行")


def _messages(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


def _update_rows(objs: Sequence[Region] | Sequence[Grid], fields: Sequence[str]) -> None:
    """UPDATE … WHERE id = ? once per row through executemany.

    Django's bulk_update builds one CASE WHEN per field over the whole batch, whose cost grows
    with the batch squared: re-seeding the demo's 10,000 grids took 20 s that way, < 1 s this way.
    """
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    columns: list[Field[Any, Any]] = []
    for name in [*fields, "id"]:
        column = model._meta.get_field(name)
        assert isinstance(column, Field)
        columns.append(column)
    *set_fields, pk_field = columns
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in set_fields)
    # Table and column names come from the model, never from input.
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(pk_field.column)} = %s"  # noqa: S608
    params = [[f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns] for obj in objs]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


# --- Codes ---------------------------------------------------------------------------------------


def code_pad(raw: object) -> str:
    """A statistical code as the 12 digits the model stores: '410302' -> '410302000000'."""
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    if not text.isascii() or not text.isdigit() or not 2 <= len(text) <= CODE_LENGTH:
        raise ValidationError(
            _("区划代码“%(code)s”应为 2 到 12 位数字") % {"code": raw}, code="region_code_invalid"
        )
    return text.ljust(CODE_LENGTH, "0")


def region_prefix(code: str, level: str) -> str:
    return code[: LEVEL_PREFIX_LENGTH[RegionLevel(level)]]


def region_parent_code(code: str, level: str) -> str | None:
    """The parent's code follows from the child's: its significant digits, padded with zeros."""
    parent_level = PARENT_LEVEL.get(RegionLevel(level))
    if parent_level is None:
        return None
    return region_prefix(code, parent_level).ljust(CODE_LENGTH, "0")


def _level_label(level: str) -> str:
    return str(RegionLevel(level).label)


def region_code_check(code: str, level: str) -> None:
    """A code of this level has its own segment non-zero and only zeros after it."""
    if level not in RegionLevel.values:
        raise ValidationError(_("未知的区划层级“%(level)s”") % {"level": level}, code="region_level_invalid")
    if len(code) != CODE_LENGTH or not code.isascii() or not code.isdigit():
        raise ValidationError(_("区划代码“%(code)s”应为 12 位数字") % {"code": code}, code="region_code_invalid")
    length = LEVEL_PREFIX_LENGTH[RegionLevel(level)]
    parent_level = PARENT_LEVEL.get(RegionLevel(level))
    start = LEVEL_PREFIX_LENGTH[parent_level] if parent_level else PROVINCE_PREFIX_LENGTH
    if set(code[length:]) - {"0"}:
        raise ValidationError(
            _("代码 %(code)s 不是%(level)s代码：第 %(n)d 位之后应全为 0")
            % {"code": code, "level": _level_label(level), "n": length},
            code="region_code_level_mismatch",
        )
    if not set(code[start:length]) - {"0"}:
        raise ValidationError(
            _("代码 %(code)s 的%(level)s部分（第 %(a)d–%(b)d 位）全为 0")
            % {"code": code, "level": _level_label(level), "a": start + 1, "b": length},
            code="region_code_level_mismatch",
        )


def _name_check(name: object, *, what: str) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text:
        raise ValidationError(_("%(what)s名称不能为空") % {"what": what}, code="name_required")
    if len(text) > NAME_MAX_LENGTH:
        raise ValidationError(
            _("%(what)s名称不能超过 %(n)d 个字") % {"what": what, "n": NAME_MAX_LENGTH}, code="name_too_long"
        )
    return text


def _kind_check(kind: str, level: str) -> None:
    if level == RegionLevel.VILLAGE:
        if kind not in ("", *VillageKind.values):
            raise ValidationError(_("未知的村/社区类型“%(kind)s”") % {"kind": kind}, code="region_kind_invalid")
    elif kind:
        raise ValidationError(_("只有村/社区可以设置类型"), code="region_kind_invalid")


def _parent_check(code: str, level: str, parent_code: str | None, parent_level: str | None) -> None:
    expected = region_parent_code(code, level)
    if expected is None:
        if parent_code is not None:
            raise ValidationError(_("市级区划不能有上级"), code="region_parent_invalid")
        return
    if parent_code is None:
        raise ValidationError(_("缺少上级区划"), code="region_parent_required")
    if parent_code != expected:
        raise ValidationError(
            _("代码 %(code)s 不以上级 %(parent)s 的前缀开头")
            % {"code": code, "parent": parent_code},
            code="region_parent_mismatch",
        )
    if parent_level is not None and parent_level != PARENT_LEVEL[RegionLevel(level)]:
        raise ValidationError(
            _("上级 %(parent)s 是%(found)s，%(level)s的上级应是%(expected)s")
            % {
                "parent": parent_code, "found": _level_label(parent_level), "level": _level_label(level),
                "expected": _level_label(PARENT_LEVEL[RegionLevel(level)]),
            },
            code="region_parent_mismatch",
        )


def _center_check(lat: float | None, lng: float | None) -> None:
    if (lat is None) != (lng is None):
        raise ValidationError(_("中心点的纬度和经度须同时给出"), code="center_invalid")
    if lat is not None and lng is not None and not _coordinate_ok(lng, lat):
        raise ValidationError(
            _("中心点坐标超出范围（纬度 %(lat)s，经度 %(lng)s）") % {"lat": lat, "lng": lng},
            code="center_invalid",
        )


def _coordinate_ok(lng: float, lat: float) -> bool:
    return (
        math.isfinite(lng) and math.isfinite(lat) and -180.0 <= lng <= 180.0 and -90.0 <= lat <= 90.0
    )


# --- Boundaries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Boundary:
    """A checked grid boundary: the shapely geometry, its GeoJSON as stored, and its bbox."""

    geometry: shapely.Geometry
    geojson: dict[str, Any]
    bbox: tuple[float, float, float, float]  # min_lng, min_lat, max_lng, max_lat


def _boundary_error(message: str) -> ValidationError:
    return ValidationError(message, code="boundary_invalid")


def _where(polygon: int | None, ring: int | None) -> str:
    # Built only when there is an error to report: translating it for every ring of a
    # 10,000-grid import would cost more than checking the rings.
    part = _("第 %(n)d 个多边形") % {"n": polygon + 1} if polygon is not None else _("边界")
    if ring is None:
        return part
    return part + (_("外环") if ring == 0 else _("第 %(n)d 个内环") % {"n": ring})


def _ring(raw: object, polygon: int | None, ring: int) -> np.ndarray:
    # numpy rejects ragged and non-numeric rings in one step; strings would come back as
    # dtype '<U…' and are refused below rather than silently parsed.
    try:
        arr = np.asarray(raw)
    except (ValueError, TypeError):
        arr = np.empty((0,))
    if arr.ndim != 2 or arr.shape[1] not in (2, 3) or arr.dtype.kind not in "iuf":
        raise _boundary_error(_("%(where)s的坐标应为 [经度, 纬度] 数组") % {"where": _where(polygon, ring)})
    arr = arr[:, :2].astype(np.float64)
    if not np.isfinite(arr).all():
        raise _boundary_error(_("%(where)s含有非有限数值（NaN 或无穷大）") % {"where": _where(polygon, ring)})
    lng, lat = arr[:, 0], arr[:, 1]
    if (np.abs(lng) > 180).any() or (np.abs(lat) > 90).any():
        raise _boundary_error(
            _("%(where)s的坐标超出范围：经度应在 -180 到 180 之间，纬度应在 -90 到 90 之间"
              "（GeoJSON 顺序为 [经度, 纬度]）") % {"where": _where(polygon, ring)}
        )
    if len(arr) < 4:
        raise _boundary_error(_("%(where)s至少需要 4 个点（首尾相同）") % {"where": _where(polygon, ring)})
    if not (arr[0] == arr[-1]).all():
        raise _boundary_error(_("%(where)s未闭合：首点和末点应相同") % {"where": _where(polygon, ring)})
    return arr


def _polygon(raw: object, polygon: int | None) -> tuple[shapely.Polygon, list[list[list[float]]]]:
    if not isinstance(raw, list | tuple) or not raw:
        raise _boundary_error(_("%(where)s没有坐标环") % {"where": _where(polygon, None)})
    rings = [_ring(r, polygon, i) for i, r in enumerate(raw)]
    return shapely.Polygon(rings[0], rings[1:]), [r.tolist() for r in rings]


def boundary_parse(raw: object) -> Boundary:
    """Check a GeoJSON Polygon/MultiPolygon (WGS-84, [lng, lat]) and normalise it for storage."""
    if not isinstance(raw, Mapping) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        raise _boundary_error(_("边界必须是 GeoJSON 的 Polygon 或 MultiPolygon"))
    coordinates = raw.get("coordinates")
    if raw["type"] == "Polygon":
        geometry, coords = _polygon(coordinates, None)
        geojson: dict[str, Any] = {"type": "Polygon", "coordinates": coords}
    else:
        if not isinstance(coordinates, list | tuple) or not coordinates:
            raise _boundary_error(_("MultiPolygon 没有任何多边形"))
        parts = [_polygon(p, i) for i, p in enumerate(coordinates)]
        geometry = shapely.MultiPolygon([p for p, _c in parts])
        geojson = {"type": "MultiPolygon", "coordinates": [c for _p, c in parts]}
    # Validity first: a self-intersecting bow-tie has zero signed area and would be misreported.
    reason = shapely.is_valid_reason(geometry)
    if reason != "Valid Geometry":
        raise _boundary_error(_("边界不是有效的多边形（自相交、环重叠等）：%(reason)s") % {"reason": reason})
    if geometry.is_empty or geometry.area <= 0:
        raise _boundary_error(_("边界面积为零"))
    min_lng, min_lat, max_lng, max_lat = (float(v) for v in geometry.bounds)
    return Boundary(geometry=geometry, geojson=geojson, bbox=(min_lng, min_lat, max_lng, max_lat))


def _apply_boundary(grid: Grid, boundary: Boundary) -> None:
    grid.boundary = boundary.geojson
    grid.min_lng, grid.min_lat, grid.max_lng, grid.max_lat = boundary.bbox


# --- Grid-set version ----------------------------------------------------------------------------


def _grid_set_changed() -> None:
    """Move the grid-set version inside the caller's transaction.

    The local index is marked stale at once (so this thread sees its own writes) and again after
    commit (so a rebuild that ran in between, from the not-yet-committed state of another
    connection, is not kept). Other processes notice the new token within a second.
    """
    values = {"version": F("version") + 1, "token": uuid.uuid4()}
    if not GridSetVersion.objects.filter(pk=GRID_SET_VERSION_PK).update(**values):
        try:
            # A savepoint, so that losing a race with another creator leaves the outer transaction usable.
            with transaction.atomic():
                GridSetVersion.objects.create(pk=GRID_SET_VERSION_PK, version=1, token=uuid.uuid4())
        except IntegrityError:
            GridSetVersion.objects.filter(pk=GRID_SET_VERSION_PK).update(**values)
    spatial.invalidate_grid_index()
    transaction.on_commit(spatial.invalidate_grid_index)


# --- Regions -------------------------------------------------------------------------------------


def region_upsert(
    *,
    code: str,
    name: str,
    level: str,
    parent: Region | None = None,
    kind: str = "",
    center_lat: float | None = None,
    center_lng: float | None = None,
) -> tuple[Region, bool]:
    """Create or update the region with this code; returns (region, created).

    `parent` may be omitted below city level: it follows from the code. A centre of None keeps
    the stored one.
    """
    code = code_pad(code)
    region_code_check(code, level)
    name = _name_check(name, what=_level_label(level))
    _kind_check(kind, level)
    _center_check(center_lat, center_lng)
    with transaction.atomic():
        if parent is None and level != RegionLevel.CITY:
            parent = Region.objects.filter(code=region_parent_code(code, level)).first()
            if parent is None:
                raise ValidationError(
                    _("上级区划 %(code)s 不存在") % {"code": region_parent_code(code, level)},
                    code="region_parent_required",
                )
        _parent_check(code, level, parent.code if parent else None, parent.level if parent else None)
        if parent is not None and not code.startswith(parent.prefix):
            raise ValidationError(
                _("代码 %(code)s 不以上级 %(parent)s 的前缀开头") % {"code": code, "parent": parent.code},
                code="region_parent_mismatch",
            )
        region = Region.objects.select_for_update().filter(code=code).first()
        created = region is None
        if region is None:
            region = Region(code=code, level=level)
        elif region.level != level:
            raise ValidationError(
                _("代码 %(code)s 已作为%(level)s存在，不能改为其他层级")
                % {"code": code, "level": _level_label(region.level)},
                code="region_level_conflict",
            )
        region.prefix = region_prefix(code, level)
        region.name = name
        region.kind = kind
        region.parent = parent
        if center_lat is not None and center_lng is not None:
            region.center_lat, region.center_lng = center_lat, center_lng
        region.save()
    return region, created


@dataclass(frozen=True)
class RegionRow:
    """One region to import. An `implied` row is an ancestor named in a child's row (a town's
    name in the villages file): it is created when missing but never overwrites what exists."""

    source: SourceRef
    code: str
    name: str
    level: str
    parent_code: str | None
    kind: str = ""
    implied: bool = False


def _existing_regions(codes: Iterable[str]) -> dict[str, Region]:
    found: dict[str, Region] = {}
    unique = sorted(set(codes))
    for i in range(0, len(unique), BULK_BATCH_SIZE):
        for region in Region.objects.filter(code__in=unique[i : i + BULK_BATCH_SIZE]):
            found[region.code] = region
    return found


def region_rows_validate(rows: Sequence[RegionRow], *, progress: bool = False) -> list[RowError]:
    """Every problem in the rows, each with its source; reads the database but writes nothing."""
    errors: list[RowError] = []
    primary: dict[str, RegionRow] = {}
    implied: dict[str, RegionRow] = {}
    for row in rows:
        try:
            region_code_check(row.code, row.level)
            if not row.implied or row.name:
                _name_check(row.name, what=_level_label(row.level))
            _kind_check(row.kind, row.level)
            _parent_check(row.code, row.level, row.parent_code, None)
        except ValidationError as exc:
            errors.extend(RowError(row.source, m) for m in _messages(exc))
            continue
        if not row.implied:
            if row.code in primary:
                errors.append(RowError(row.source, _("代码 %(code)s 与%(first)s重复")
                                       % {"code": row.code, "first": primary[row.code].source}))
                continue
            primary[row.code] = row
        elif row.name:
            first = implied.get(row.code)
            if first is None or not first.name:
                implied[row.code] = row
            elif first.name != row.name:
                message = _("%(level)s %(code)s 的名称“%(name)s”与%(first)s的“%(other)s”不一致") % {
                    "level": _level_label(row.level), "code": row.code, "name": row.name,
                    "first": first.source, "other": first.name,
                }
                errors.append(RowError(row.source, message))
        else:
            implied.setdefault(row.code, row)
    existing = _existing_regions([r.code for r in rows] + [r.parent_code for r in rows if r.parent_code])
    in_file_level = {code: r.level for code, r in implied.items()} | {c: r.level for c, r in primary.items()}
    for row in progress_iter(rows, enabled=progress, desc=_("校验区划")):
        known = existing.get(row.code)
        if known is not None and known.level != row.level:
            errors.append(RowError(row.source, _("代码 %(code)s 已作为%(level)s存在")
                                   % {"code": row.code, "level": _level_label(known.level)}))
            continue
        if row.implied and not row.name and known is None and row.code not in primary:
            message = _("上级%(level)s %(code)s 不存在，文件中也没有它的名称；请先导入上级区划") % {
                "level": _level_label(row.level), "code": row.code,
            }
            errors.append(RowError(row.source, message))
            continue
        if row.parent_code is None:
            continue
        parent = existing.get(row.parent_code)
        parent_level = parent.level if parent is not None else in_file_level.get(row.parent_code)
        if parent_level is None:
            errors.append(RowError(row.source, _("上级区划 %(code)s 既不在数据库中，也不在文件中")
                                   % {"code": row.parent_code}))
        elif parent_level != PARENT_LEVEL[RegionLevel(row.level)]:
            errors.append(RowError(row.source, _("上级 %(parent)s 是%(found)s，不是%(expected)s")
                                   % {"parent": row.parent_code, "found": _level_label(parent_level),
                                      "expected": _level_label(PARENT_LEVEL[RegionLevel(row.level)])}))
    return errors


def regions_import(rows: Sequence[RegionRow], *, progress: bool = False) -> ImportSummary:
    """Upsert the rows by code in one transaction, parents before children; all or nothing.

    Re-importing the same rows changes nothing. Regions missing from the rows are kept: a file
    of one district must not delete the others.
    """
    summary = ImportSummary()
    for level in LEVEL_ORDER:
        if any(r.level == level for r in rows):
            summary.of(level)
    with transaction.atomic():
        errors = region_rows_validate(rows, progress=progress)
        if errors:
            raise ImportRejected(errors)
        # A primary row wins over an implied one for the same code; among implied, the first named.
        chosen: dict[str, RegionRow] = {}
        for row in rows:
            current = chosen.get(row.code)
            if current is None or (current.implied and not row.implied) or (
                current.implied and row.implied and not current.name and row.name
            ):
                chosen[row.code] = row
        existing = _existing_regions(chosen)
        parents = _existing_regions(r.parent_code for r in chosen.values() if r.parent_code)
        ids = {code: region.pk for code, region in (parents | existing).items()}
        for level in LEVEL_ORDER:
            level_rows = [r for r in chosen.values() if r.level == level]
            counts = summary.of(level) if level_rows else ImportCounts()
            to_create: list[Region] = []
            to_update: list[Region] = []
            for row in level_rows:
                parent_id = ids[row.parent_code] if row.parent_code else None
                region = existing.get(row.code)
                if region is None:
                    to_create.append(Region(
                        code=row.code, prefix=region_prefix(row.code, level), name=row.name, level=level,
                        kind=row.kind, parent_id=parent_id,
                    ))
                    continue
                new = (row.name, row.kind, parent_id, region_prefix(row.code, level))
                if row.implied or new == (region.name, region.kind, region.parent_id, region.prefix):
                    counts.unchanged += 1
                    continue
                region.name, region.kind, region.parent_id, region.prefix = new
                to_update.append(region)
            for region in Region.objects.bulk_create(to_create, batch_size=BULK_BATCH_SIZE):
                ids[region.code] = region.pk
            _update_rows(to_update, ["name", "kind", "parent", "prefix"])
            counts.created += len(to_create)
            counts.updated += len(to_update)
    return summary


@dataclass(frozen=True)
class CenterRow:
    source: SourceRef
    code: str
    lat: float
    lng: float


def center_rows_validate(rows: Sequence[CenterRow]) -> list[RowError]:
    errors: list[RowError] = []
    existing = _existing_regions(r.code for r in rows)
    for row in rows:
        try:
            _center_check(row.lat, row.lng)
        except ValidationError as exc:
            errors.extend(RowError(row.source, m) for m in _messages(exc))
        if row.code not in existing:
            errors.append(RowError(row.source, _("区划 %(code)s 不存在") % {"code": row.code}))
    return errors


def region_centers_set(rows: Sequence[CenterRow]) -> ImportCounts:
    """Set region centres in bulk (the point a map centres on, or a region label sits at)."""
    counts = ImportCounts()
    with transaction.atomic():
        errors = center_rows_validate(rows)
        if errors:
            raise ImportRejected(errors)
        existing = _existing_regions(r.code for r in rows)
        changed: dict[str, Region] = {}
        for row in rows:
            region = existing[row.code]
            if (region.center_lat, region.center_lng) == (row.lat, row.lng):
                if row.code not in changed:
                    counts.unchanged += 1
                continue
            region.center_lat, region.center_lng = row.lat, row.lng
            changed[row.code] = region
        _update_rows(list(changed.values()), ["center_lat", "center_lng"])
        counts.updated += len(changed)
    return counts


# --- Grids ---------------------------------------------------------------------------------------


def _grid_code_check(code: object, village: Region) -> str:
    text = code.strip() if isinstance(code, str) else ""
    if not text:
        raise ValidationError(_("网格编码不能为空"), code="grid_code_required")
    if len(text) > GRID_CODE_MAX_LENGTH:
        raise ValidationError(
            _("网格编码不能超过 %(n)d 个字符") % {"n": GRID_CODE_MAX_LENGTH}, code="grid_code_invalid"
        )
    # The national grid-code scheme (GB/T 30428.1) builds on the division code, which keeps a
    # grid's code telling which village it belongs to.
    if not text.startswith(village.code):
        raise ValidationError(
            _("网格编码 %(code)s 须以所属村/社区代码 %(village)s 开头") % {"code": text, "village": village.code},
            code="grid_code_invalid",
        )
    return text


def _village_check(village: Region) -> None:
    if village.level != RegionLevel.VILLAGE:
        raise ValidationError(
            _("网格只能建在村/社区下，%(name)s 是%(level)s")
            % {"name": village.name, "level": _level_label(village.level)},
            code="grid_village_invalid",
        )


def grid_create(*, village: Region, code: str, name: str, boundary: object) -> Grid:
    errors: dict[str, list[ValidationError]] = {}
    parsed: Boundary | None = None
    for field_name, check in (
        ("village", lambda: _village_check(village)),
        ("code", lambda: _grid_code_check(code, village)),
        ("name", lambda: _name_check(name, what=_("网格"))),
    ):
        try:
            check()
        except ValidationError as exc:
            errors.setdefault(field_name, []).append(exc)
    try:
        parsed = boundary_parse(boundary)
    except ValidationError as exc:
        errors.setdefault("boundary", []).append(exc)
    if errors or parsed is None:
        raise ValidationError(errors)  # type: ignore[arg-type]
    code, name = code.strip(), name.strip()
    with transaction.atomic():
        if Grid.objects.filter(code=code).exists():
            raise ValidationError({"code": ValidationError(
                _("网格编码 %(code)s 已存在") % {"code": code}, code="grid_code_taken")})
        grid = Grid(village=village, code=code, name=name, region_code=village.code)
        _apply_boundary(grid, parsed)
        grid.save()
        _grid_set_changed()
    return grid


def grid_update_boundary(*, grid: Grid, boundary: object) -> Grid:
    try:
        parsed = boundary_parse(boundary)
    except ValidationError as exc:
        raise ValidationError({"boundary": exc}) from exc
    with transaction.atomic():
        _apply_boundary(grid, parsed)
        grid.region_code = grid.village.code
        grid.save(update_fields=["boundary", "min_lng", "min_lat", "max_lng", "max_lat", "region_code", "updated_at"])
        _grid_set_changed()
    return grid


def grid_delete(*, grid: Grid) -> None:
    with transaction.atomic():
        try:
            grid.delete()
        except (ProtectedError, RestrictedError) as exc:
            raise ValidationError(
                _("网格 %(code)s 下仍有小区、住户、事件或人员等数据，不能删除") % {"code": grid.code},
                code="grid_in_use",
            ) from exc
        _grid_set_changed()


def grids_delete(*, grids: QuerySet[Grid]) -> int:
    """Delete many grids at once (e.g. the demo generator replacing its own earlier grids)."""
    with transaction.atomic():
        try:
            _total, per_model = grids.delete()
        except (ProtectedError, RestrictedError) as exc:
            raise ValidationError(
                _("部分网格下仍有小区、住户、事件或人员等数据，不能删除"), code="grid_in_use"
            ) from exc
        count = per_model.get(Grid._meta.label, 0)
        if count:
            _grid_set_changed()
    return count


@dataclass(frozen=True)
class GridRow:
    source: SourceRef
    code: str
    name: str
    village_code: str
    boundary: object  # raw GeoJSON geometry, checked by boundary_parse


@dataclass(frozen=True)
class _CheckedGrid:
    row: GridRow
    village: Region
    boundary: Boundary


def _grid_rows_check(
    rows: Sequence[GridRow], *, progress: bool
) -> tuple[list[RowError], list[_CheckedGrid]]:
    errors: list[RowError] = []
    checked: list[_CheckedGrid] = []
    villages = _existing_regions(r.village_code for r in rows)
    first_seen: dict[str, SourceRef] = {}
    for row in progress_iter(rows, enabled=progress, desc=_("校验网格")):
        row_errors: list[str] = []
        village = villages.get(row.village_code)
        code = row.code.strip()
        if village is None:
            row_errors.append(_("村/社区 %(code)s 不存在") % {"code": row.village_code})
        else:
            try:
                _village_check(village)
                _grid_code_check(code, village)
            except ValidationError as exc:
                row_errors.extend(_messages(exc))
        if code in first_seen:
            row_errors.append(_("网格编码 %(code)s 与%(first)s重复") % {"code": code, "first": first_seen[code]})
        else:
            first_seen[code] = row.source
        try:
            _name_check(row.name, what=_("网格"))
        except ValidationError as exc:
            row_errors.extend(_messages(exc))
        boundary: Boundary | None = None
        try:
            boundary = boundary_parse(row.boundary)
        except ValidationError as exc:
            row_errors.extend(_messages(exc))
        if row_errors or village is None or boundary is None:
            errors.extend(RowError(row.source, m) for m in row_errors)
        else:
            checked.append(_CheckedGrid(row=row, village=village, boundary=boundary))
    return errors, checked


def grid_rows_validate(rows: Sequence[GridRow], *, progress: bool = False) -> list[RowError]:
    return _grid_rows_check(rows, progress=progress)[0]


def grids_import(
    rows: Sequence[GridRow], *, centers: Sequence[CenterRow] = (), progress: bool = False
) -> ImportSummary:
    """Upsert grids by code (and optionally region centres) in one transaction; all or nothing."""
    summary = ImportSummary()
    with transaction.atomic():
        errors, checked = _grid_rows_check(rows, progress=progress)
        errors += center_rows_validate(centers)
        if errors:
            raise ImportRejected(errors)
        if rows:
            counts = summary.of("grid")
            existing: dict[str, Grid] = {}
            codes = [c.row.code.strip() for c in checked]
            for i in range(0, len(codes), BULK_BATCH_SIZE):
                existing.update((g.code, g) for g in Grid.objects.filter(code__in=codes[i : i + BULK_BATCH_SIZE]))
            to_create: list[Grid] = []
            to_update: list[Grid] = []
            for item in checked:
                code, name = item.row.code.strip(), item.row.name.strip()
                grid = existing.get(code)
                if grid is None:
                    grid = Grid(code=code, name=name, village=item.village, region_code=item.village.code)
                    _apply_boundary(grid, item.boundary)
                    to_create.append(grid)
                elif (grid.name, grid.village_id, grid.boundary) == (name, item.village.pk, item.boundary.geojson):
                    counts.unchanged += 1
                else:
                    grid.name, grid.village, grid.region_code = name, item.village, item.village.code
                    _apply_boundary(grid, item.boundary)
                    to_update.append(grid)
            Grid.objects.bulk_create(to_create, batch_size=BULK_BATCH_SIZE)
            now = timezone.now()
            for grid in to_update:
                grid.updated_at = now
            _update_rows(
                to_update,
                [
                    "name", "village", "region_code", "boundary",
                    "min_lng", "min_lat", "max_lng", "max_lat", "updated_at",
                ],
            )
            counts.created += len(to_create)
            counts.updated += len(to_update)
            if to_create or to_update:
                _grid_set_changed()
        if centers:
            summary.counts["center"] = region_centers_set(centers)
    return summary


# --- Grid workers --------------------------------------------------------------------------------


def grid_worker_assign(
    *, grid: Grid, user: AbstractBaseUser, role: str = GridRole.WORKER, employment: str = Employment.FULL_TIME
) -> GridWorker:
    """Post a person to a grid, or change their role there. A grid has at most one leader."""
    if role not in GridRole.values:
        raise ValidationError(_("未知的网格职务“%(role)s”") % {"role": role}, code="grid_role_invalid")
    if employment not in Employment.values:
        raise ValidationError(
            _("未知的专兼职类型“%(value)s”") % {"value": employment}, code="grid_employment_invalid"
        )
    if not user.is_active:
        raise ValidationError(_("该人员账号已停用，不能任命为网格员"), code="grid_worker_inactive")
    with transaction.atomic():
        # Locking the grid serialises concurrent appointments, so two leaders cannot slip in.
        Grid.objects.select_for_update().filter(pk=grid.pk).first()
        if role == GridRole.LEADER:
            other = GridWorker.objects.filter(grid=grid, role=GridRole.LEADER).exclude(user_id=user.pk).first()
            if other is not None:
                raise ValidationError(
                    _("网格 %(grid)s 已有网格长，请先调整原网格长的职务") % {"grid": grid.code},
                    code="grid_leader_taken",
                )
        worker, _created = GridWorker.objects.update_or_create(
            grid=grid, user_id=user.pk, defaults={"role": role, "employment": employment}
        )
    return worker


def grid_worker_remove(*, grid: Grid, user: AbstractBaseUser) -> bool:
    deleted, _per_model = GridWorker.objects.filter(grid=grid, user_id=user.pk).delete()
    return deleted > 0
