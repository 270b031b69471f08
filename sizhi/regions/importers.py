"""Read division CSVs and GeoJSON files into rows for the bulk writers in `services`.

Every importer reads and checks the whole file first and reports every bad row with where it
is (CSV line or feature index); only a clean file is written, in one transaction.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from sizhi.regions.models import Region, RegionLevel, VillageKind
from sizhi.regions.services import (
    CODE_LENGTH,
    CenterRow,
    GridRow,
    ImportRejected,
    ImportSummary,
    RegionRow,
    RowError,
    SourceRef,
    center_rows_validate,
    code_pad,
    grid_rows_validate,
    grids_import,
    progress_iter,
    region_parent_code,
    region_rows_validate,
    regions_import,
)

# City names are not in the NBS district/town/village files; these are the ones the project
# knows. Any other city is named with --city-name, or must already exist.
KNOWN_CITY_NAMES = {"4103": "洛阳市"}

# The NBS "urban-rural classification" column of the village file, as the model's kind.
VILLAGE_TYPES = {
    "村委会": VillageKind.VILLAGE,
    "村民委员会": VillageKind.VILLAGE,
    "社区/居委会": VillageKind.COMMUNITY,
    "居委会": VillageKind.COMMUNITY,
    "社区": VillageKind.COMMUNITY,
    # 虚拟生活区 of forest farms and the like: neither a village committee nor a community.
    "other": "",
    "": "",
}
PROJECT_KINDS = {"": "", "village": VillageKind.VILLAGE, "community": VillageKind.COMMUNITY}


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets saved on Chinese-locale Windows write GBK; GB 18030 is its superset.
        return raw.decode("gb18030")


# --- Division CSVs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Format:
    name: str
    required: frozenset[str]
    parse: Callable[[Mapping[str, str], SourceRef, _Context], list[RegionRow]]


@dataclass
class _Context:
    city_name: str | None


def _cell(record: Mapping[str, str], key: str) -> str:
    return (record.get(key) or "").strip()


def _code(record: Mapping[str, str], key: str, *, digits: tuple[int, ...], what: str) -> str:
    raw = _cell(record, key)
    if len(raw) not in digits and len(raw) != CODE_LENGTH:
        raise ValidationError(
            _("%(what)s代码“%(code)s”位数不对（应为 %(digits)s 位或 12 位）")
            % {"what": what, "code": raw, "digits": "/".join(str(d) for d in digits)},
            code="region_code_invalid",
        )
    return code_pad(raw)


def _under(child: str, child_what: str, parent: str, parent_level: RegionLevel) -> None:
    expected = region_parent_code(child, _child_level(parent_level))
    if expected != parent:
        raise ValidationError(
            _("%(what)s代码 %(code)s 不在%(level)s %(parent)s 之下")
            % {"what": child_what, "code": child, "level": parent_level.label, "parent": parent},
            code="region_parent_mismatch",
        )


def _child_level(level: RegionLevel) -> RegionLevel:
    order = [RegionLevel.CITY, RegionLevel.DISTRICT, RegionLevel.TOWN, RegionLevel.VILLAGE]
    return order[order.index(level) + 1]


def _city_row(code: str, source: SourceRef, ctx: _Context) -> RegionRow:
    city_code = code[:4].ljust(CODE_LENGTH, "0")
    name = ctx.city_name or KNOWN_CITY_NAMES.get(code[:4], "")
    return RegionRow(source, city_code, name, RegionLevel.CITY, None, implied=True)


def _implied(source: SourceRef, code: str, name: str, level: RegionLevel) -> RegionRow:
    return RegionRow(source, code, name, level, region_parent_code(code, level), implied=True)


def _parse_project(record: Mapping[str, str], source: SourceRef, ctx: _Context) -> list[RegionRow]:
    level = _cell(record, "level")
    if level not in RegionLevel.values:
        raise ValidationError(
            _("层级“%(level)s”无效，应为 city、district、town 或 village") % {"level": level},
            code="region_level_invalid",
        )
    kind = _cell(record, "kind")
    if kind not in PROJECT_KINDS:
        raise ValidationError(
            _("类型“%(kind)s”无效，应为 village、community 或留空") % {"kind": kind}, code="region_kind_invalid"
        )
    code = code_pad(_cell(record, "code"))
    parent = _cell(record, "parent_code")
    parent_code = code_pad(parent) if parent else None
    return [RegionRow(source, code, _cell(record, "name"), level, parent_code, PROJECT_KINDS[kind])]


def _parse_districts(record: Mapping[str, str], source: SourceRef, ctx: _Context) -> list[RegionRow]:
    code = _code(record, "code", digits=(6,), what=_("区县"))
    city = _cell(record, "citycode")
    if city and not code.startswith(city):
        raise ValidationError(
            _("区县代码 %(code)s 与所属市代码 %(city)s 不符") % {"code": code, "city": city},
            code="region_parent_mismatch",
        )
    return [
        _city_row(code, source, ctx),
        RegionRow(source, code, _cell(record, "name"), RegionLevel.DISTRICT, region_parent_code(code, "district")),
    ]


def _parse_towns_2021(record: Mapping[str, str], source: SourceRef, ctx: _Context) -> list[RegionRow]:
    town = _code(record, "town_code", digits=(9,), what=_("乡镇"))
    district = _code(record, "district_code", digits=(6,), what=_("区县"))
    _under(town, _("乡镇"), district, RegionLevel.DISTRICT)
    return [
        _city_row(town, source, ctx),
        _implied(source, district, _cell(record, "district_name"), RegionLevel.DISTRICT),
        RegionRow(source, town, _cell(record, "town_name"), RegionLevel.TOWN, district),
    ]


def _parse_towns_2023(record: Mapping[str, str], source: SourceRef, ctx: _Context) -> list[RegionRow]:
    town = _code(record, "code", digits=(9,), what=_("乡镇"))
    district = _code(record, "areacode", digits=(6,), what=_("区县"))
    _under(town, _("乡镇"), district, RegionLevel.DISTRICT)
    # This format names no district: the district must exist or come from another file first.
    return [
        _city_row(town, source, ctx),
        _implied(source, district, "", RegionLevel.DISTRICT),
        RegionRow(source, town, _cell(record, "name"), RegionLevel.TOWN, district),
    ]


def _parse_villages(record: Mapping[str, str], source: SourceRef, ctx: _Context) -> list[RegionRow]:
    village = _code(record, "village_code", digits=(12,), what=_("村/社区"))
    town = _code(record, "town_code", digits=(9,), what=_("乡镇"))
    district = _code(record, "district_code", digits=(6,), what=_("区县"))
    _under(village, _("村/社区"), town, RegionLevel.TOWN)
    _under(town, _("乡镇"), district, RegionLevel.DISTRICT)
    kind_text = _cell(record, "type")
    if kind_text not in VILLAGE_TYPES:
        raise ValidationError(
            _("未知的村/社区类型“%(type)s”（应为 村委会、社区/居委会 或 other）") % {"type": kind_text},
            code="region_kind_invalid",
        )
    return [
        _city_row(village, source, ctx),
        _implied(source, district, _cell(record, "district_name"), RegionLevel.DISTRICT),
        _implied(source, town, _cell(record, "town_name"), RegionLevel.TOWN),
        RegionRow(source, village, _cell(record, "village_name"), RegionLevel.VILLAGE, town,
                  VILLAGE_TYPES[kind_text]),
    ]


# Most specific first: the first format whose columns are all present wins.
FORMATS = [
    _Format("project", frozenset({"code", "name", "level", "parent_code"}), _parse_project),
    _Format("villages", frozenset({"village_code", "village_name", "town_code", "town_name",
                                   "district_code", "district_name"}), _parse_villages),
    _Format("towns_2021", frozenset({"town_code", "town_name", "district_code", "district_name"}),
            _parse_towns_2021),
    _Format("towns_2023", frozenset({"code", "name", "areacode"}), _parse_towns_2023),
    _Format("districts", frozenset({"code", "name", "citycode"}), _parse_districts),
]


def _records(text: str) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            line = reader.line_num
            # Spreadsheets often save trailing empty columns; only real extra data is an error.
            while len(cells) > len(header) and not cells[-1].strip():
                cells.pop()
            if len(cells) != len(header):
                yield line, {"__error__": _("应有 %(n)d 列，实际 %(m)d 列") % {"n": len(header), "m": len(cells)}}
            else:
                yield line, dict(zip(header, cells, strict=True))

    return header, rows()


def parse_divisions(text: str, *, city_name: str | None = None, progress: bool = False) -> list[RegionRow]:
    """Parse a division CSV in any of the supported formats; raises ImportRejected listing
    every row that cannot be read."""
    header, records = _records(text)
    fmt = next((f for f in FORMATS if f.required <= set(header)), None)
    if fmt is None:
        raise ImportRejected([RowError(SourceRef(1), _(
            "无法识别的表头“%(header)s”。支持：code,name,level,parent_code,kind（项目格式）；"
            "code,name,cityCode（区县）；town_code,town_name,district_code,district_name（乡镇 2021）；"
            "code,name,areaCode（乡镇 2023）；village_code,village_name,town_code,town_name,"
            "district_code,district_name,type（村/社区）"
        ) % {"header": ",".join(header)})])
    ctx = _Context(city_name=city_name.strip() if city_name else None)
    rows: list[RegionRow] = []
    errors: list[RowError] = []
    for line, record in progress_iter(records, enabled=progress, desc=_("读取区划")):
        source = SourceRef(line)
        if "__error__" in record:
            errors.append(RowError(source, record["__error__"]))
            continue
        try:
            rows.extend(fmt.parse(record, source, ctx))
        except ValidationError as exc:
            errors.extend(RowError(source, str(m)) for m in exc.messages)
    if errors:
        # Report the rows that parsed but are wrong for other reasons too, in one go.
        raise ImportRejected(errors + region_rows_validate(rows))
    return rows


def import_divisions(text: str, *, city_name: str | None = None, progress: bool = False) -> ImportSummary:
    rows = parse_divisions(text, city_name=city_name, progress=progress)
    if not rows:
        raise ImportRejected([RowError(SourceRef(1), _("文件中没有任何数据行"))])
    return regions_import(rows, progress=progress)


def import_divisions_file(
    path: str | Path, *, city_name: str | None = None, progress: bool = False
) -> ImportSummary:
    """Import a division CSV (project format or the NBS-derived files); all or nothing."""
    return import_divisions(_read_text(Path(path)), city_name=city_name, progress=progress)


# --- GeoJSON ---------------------------------------------------------------------------------------

GRID_CODE_KEYS = ("grid_code", "code")
GRID_NAME_KEYS = ("grid_name", "name")
GRID_VILLAGE_KEYS = ("village_code", "region_code")


def _first(props: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = props.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _lnglat(value: object) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) >= 2:
        lng, lat = value[0], value[1]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lng, lat)):
            return float(lng), float(lat)
    return None


def _region_center(props: Mapping[str, Any], geometry: object) -> tuple[float, float] | None:
    """The centre a region feature gives: its `center` (the seat), else `centroid`, else a point
    guaranteed to lie inside its polygon."""
    for key in ("center", "centroid"):
        point = _lnglat(props.get(key))
        if point is not None:
            return point
    if isinstance(geometry, Mapping):
        try:
            shape = shapely.from_geojson(json.dumps(geometry))
        except (shapely.errors.GEOSException, TypeError, ValueError):
            return None
        if not shape.is_empty:
            rep = shape.representative_point()
            return float(rep.x), float(rep.y)
    return None


@dataclass
class GeoRows:
    grids: list[GridRow]
    centers: list[CenterRow]
    skipped: int
    errors: list[RowError]


def parse_geojson(
    text: str, *, skip_unknown_regions: bool = False, known_codes: set[str] | None = None, progress: bool = False
) -> GeoRows:
    """Split a FeatureCollection into grid rows and region-centre rows.

    A feature with an `adcode` property is a region boundary (its centre is imported); any other
    feature is a grid with `grid_code`/`code`, `grid_name`/`name` and `village_code`/`region_code`.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        message = _("不是有效的 JSON：%(msg)s") % {"msg": exc.msg}
        raise ImportRejected([RowError(SourceRef(exc.lineno), message)]) from exc
    if isinstance(data, Mapping) and data.get("type") == "Feature":
        data = {"type": "FeatureCollection", "features": [data]}
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection" or not isinstance(
        data.get("features"), list
    ):
        raise ImportRejected([RowError(SourceRef(1), _("文件应是 GeoJSON FeatureCollection"))])
    out = GeoRows(grids=[], centers=[], skipped=0, errors=[])
    features: list[Any] = data["features"]
    for index, feature in progress_iter(enumerate(features), enabled=progress, desc=_("读取要素"), total=len(features)):
        source = SourceRef(index, "feature")
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            out.errors.append(RowError(source, _("不是 GeoJSON Feature")))
            continue
        props = feature.get("properties") or {}
        if not isinstance(props, Mapping):
            out.errors.append(RowError(source, _("properties 应是对象")))
            continue
        geometry = feature.get("geometry")
        if "adcode" in props:
            try:
                code = code_pad(props["adcode"])
            except ValidationError as exc:
                out.errors.extend(RowError(source, str(m)) for m in exc.messages)
                continue
            if skip_unknown_regions and known_codes is not None and code not in known_codes:
                out.skipped += 1
                continue
            center = _region_center(props, geometry)
            if center is None:
                message = _("区划要素 %(code)s 既没有 center 也没有可用的几何") % {"code": code}
                out.errors.append(RowError(source, message))
                continue
            out.centers.append(CenterRow(source, code, lat=center[1], lng=center[0]))
            continue
        village = _first(props, GRID_VILLAGE_KEYS)
        missing = [k for k, v in (("grid_code", _first(props, GRID_CODE_KEYS)), ("village_code", village)) if not v]
        if missing:
            out.errors.append(RowError(source, _("缺少属性：%(keys)s") % {"keys": "、".join(missing)}))
            continue
        try:
            village = code_pad(village)
        except ValidationError as exc:
            out.errors.extend(RowError(source, str(m)) for m in exc.messages)
            continue
        out.grids.append(GridRow(
            source, code=_first(props, GRID_CODE_KEYS), name=_first(props, GRID_NAME_KEYS),
            village_code=village, boundary=geometry,
        ))
    return out


def import_geojson(text: str, *, skip_unknown_regions: bool = False, progress: bool = False) -> ImportSummary:
    known = set(Region.objects.values_list("code", flat=True)) if skip_unknown_regions else None
    rows = parse_geojson(text, skip_unknown_regions=skip_unknown_regions, known_codes=known, progress=progress)
    if rows.errors:
        # Check the readable features too, so that one run lists every problem.
        raise ImportRejected(rows.errors + grid_rows_validate(rows.grids) + center_rows_validate(rows.centers))
    if not rows.grids and not rows.centers:
        raise ImportRejected([RowError(SourceRef(1), _("文件中没有可导入的要素"))])
    summary = grids_import(rows.grids, centers=rows.centers, progress=progress)
    summary.skipped = rows.skipped
    return summary


def import_geojson_file(
    path: str | Path, *, skip_unknown_regions: bool = False, progress: bool = False
) -> ImportSummary:
    """Import grid polygons and/or region centres from a GeoJSON file; all or nothing."""
    return import_geojson(_read_text(Path(path)), skip_unknown_regions=skip_unknown_regions, progress=progress)
