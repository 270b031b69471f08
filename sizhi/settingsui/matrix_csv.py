"""The responsibility matrix as CSV: export for spreadsheets, import through
units.services.rules_import_csv.

Export: the service's columns, one rule a line, every cell spreadsheet-safe (a cell a spreadsheet
would run as a formula gets a leading apostrophe, OWASP's advice), with a BOM so Excel reads UTF-8.
Import: the file is checked here for what the service does not look at (lengths the columns can
hold, invisible characters, a region below the rule's level, the same rule twice, unknown unit
kinds), the apostrophes our export added are taken off again, then the service runs inside a
savepoint that is rolled back when either found a problem — one bad line imports nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from sizhi.regions.models import Region, RegionLevel
from sizhi.regions.selectors import region_by_code
from sizhi.units.models import ResponsibilityRule, UnitKind
from sizhi.units.services import CSV_COLUMNS, rules_import_csv

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_ROWS = 5000
UNIT_NAME_MAX = 100
MAX_ASSISTS = 20
LEVEL_ORDER = [RegionLevel.CITY, RegionLevel.DISTRICT, RegionLevel.TOWN, RegionLevel.VILLAGE]
_INVISIBLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]"
)
_REGION_CODE = re.compile(r"[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12}")
_LINE = re.compile(r"\d+")


def spreadsheet_safe(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def _unescape(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def rules_to_csv(rules: Iterable[ResponsibilityRule]) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    ordered = sorted(
        rules,
        key=lambda r: (r.category.code, LEVEL_ORDER.index(RegionLevel(r.level)), r.region.code if r.region else ""),
    )
    for rule in ordered:
        row = [
            rule.category.code, rule.level, rule.region.code if rule.region else "", rule.lead_unit_name,
            rule.lead_unit_kind, "|".join(rule.assist_unit_names or []),
        ]
        writer.writerow([spreadsheet_safe(str(cell)) for cell in row])
    return out.getvalue()


@dataclass
class ImportOutcome:
    saved: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class _Checked:
    text: str
    errors: list[tuple[int, str]] = field(default_factory=list)
    fatal: str = ""


def _line_problems(row: dict[str | None, object], regions: dict[str, Region | None]) -> tuple[list[str], tuple]:
    problems: list[str] = []
    if row.get(None):
        problems.append(_("列数多于表头"))
    cells = {k: v for k, v in row.items() if isinstance(k, str) and isinstance(v, str)}
    if any(_INVISIBLE.search(v.strip()) for v in cells.values()):
        problems.append(_("含有换行、制表符或不可见字符"))
    lead = (cells.get("lead_unit") or "").strip()
    kind = (cells.get("lead_kind") or "").strip()
    if len(lead) > UNIT_NAME_MAX:
        problems.append(_("主办单位名称超过 %(n)d 个字") % {"n": UNIT_NAME_MAX})
    if lead and kind and kind not in UnitKind.values:
        problems.append(_("主办单位类型“%(kind)s”无效") % {"kind": kind[:20]})
    assists = [a.strip() for a in (cells.get("assist_units") or "").split("|") if a.strip()]
    if any(len(a) > UNIT_NAME_MAX for a in assists):
        problems.append(_("协办单位名称超过 %(n)d 个字") % {"n": UNIT_NAME_MAX})
    if len(assists) > MAX_ASSISTS:
        problems.append(_("协办单位超过 %(n)d 个") % {"n": MAX_ASSISTS})
    level = (cells.get("level") or "").strip()
    code = (cells.get("region") or "").strip()
    if code and not _REGION_CODE.fullmatch(code):
        problems.append(_("区划代码应为 4、6、9 或 12 位数字"))
    elif code and level in RegionLevel.values:
        if code not in regions:
            regions[code] = region_by_code(code)
        region = regions[code]
        if region is not None and LEVEL_ORDER.index(RegionLevel(region.level)) > LEVEL_ORDER.index(RegionLevel(level)):
            problems.append(_("适用区域不能低于承办层级"))
    key = ((cells.get("category") or "").strip(), level, code.ljust(12, "0") if code else "")
    return problems, key


def _check(text: str) -> _Checked:
    if "\x00" in text:
        return _Checked(text, fatal=_("文件中含有空字符（NUL），请检查文件是否为 CSV 文本。"))
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        missing = [c for c in ("category", "level") if c not in (reader.fieldnames or [])]
    except csv.Error:
        missing = ["category", "level"]
    if missing:
        return _Checked(text, fatal=_("缺少列：%(cols)s（第 1 行应为表头：%(header)s）") % {
            "cols": ", ".join(missing), "header": ",".join(CSV_COLUMNS)})
    checked = _Checked(text)
    rewritten: list[dict[str, str]] = []
    changed = False
    seen: dict[tuple, int] = {}
    regions: dict[str, Region | None] = {}
    try:
        for line, row in enumerate(reader, start=2):  # numbered like units.services.rules_import_csv
            if line - 1 > MAX_ROWS:
                return _Checked(text, fatal=_("文件超过 %(n)d 行，请分批导入。") % {"n": MAX_ROWS})
            problems, key = _line_problems(row, regions)  # type: ignore[arg-type]
            if key in seen:
                problems.append(_("与第 %(line)d 行的类别、层级和区域重复") % {"line": seen[key]})
            else:
                seen[key] = line
            if problems:
                checked.errors.append((line, _("第 %(line)d 行：%(problems)s") % {
                    "line": line, "problems": "；".join(problems)}))
            clean = {k: _unescape(v) for k, v in row.items() if isinstance(k, str) and isinstance(v, str)}
            changed = changed or any(clean[k] != row[k] for k in clean)
            rewritten.append(clean)
    except csv.Error:
        return _Checked(text, fatal=_("CSV 格式错误（例如引号未闭合或单元格过长），请检查文件。"))
    if changed and reader.fieldnames:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(reader.fieldnames), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rewritten)
        checked.text = out.getvalue()
    return checked


def _line_of(message: str) -> int:
    match = _LINE.search(message)
    return int(match.group()) if match else 0


def import_rules(text: str) -> ImportOutcome:
    """Every line is checked (here and by the service) before anything is kept."""
    checked = _check(text)
    if checked.fatal:
        return ImportOutcome(errors=[checked.fatal])
    service_errors: list[str] = []
    saved = 0
    try:
        with transaction.atomic():
            result = rules_import_csv(checked.text)
            service_errors, saved = result.errors, result.saved
            if checked.errors:
                transaction.set_rollback(True)
    except (ValidationError, DatabaseError):
        # The checks above name the line; a service refusal they did not foresee still imports nothing.
        if not checked.errors:
            service_errors = [_("导入失败：有数据不符合要求，未导入任何规则。")]
    errors = sorted([*checked.errors, *((_line_of(m), m) for m in service_errors)], key=lambda e: e[0])
    if errors:
        return ImportOutcome(errors=[m for _line, m in errors])
    return ImportOutcome(saved=saved)
