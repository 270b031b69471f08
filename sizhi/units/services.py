"""Writers of handling units and of the responsibility matrix."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from sizhi.cases.models import Category
from sizhi.regions.models import Region, RegionLevel
from sizhi.units.models import ResponsibilityRule, UnitKind

CSV_COLUMNS = ["category", "level", "region", "lead_unit", "lead_kind", "assist_units"]


@transaction.atomic
def rule_save(
    *,
    category: Category,
    level: str,
    region: Region | None = None,
    lead_unit_name: str = "",
    lead_unit_kind: str = "",
    assist_unit_names: Iterable[str] = (),
    is_active: bool = True,
) -> ResponsibilityRule:
    """Create or replace the rule for (category, level, region)."""
    lead_unit_name = lead_unit_name.strip()
    if level not in RegionLevel.values:
        raise ValidationError({"level": _("层级无效。")})
    if not lead_unit_name and lead_unit_kind not in UnitKind.values:
        raise ValidationError({"lead_unit_name": _("请填写主办单位名称或选择单位类型。")})
    if region is not None and _depth(region.level) > _depth(level):
        raise ValidationError({"region": _("适用区域不能低于承办层级。")})
    assists = [n.strip() for n in assist_unit_names if n.strip() and n.strip() != lead_unit_name]
    rule, _created = ResponsibilityRule.objects.update_or_create(
        category=category, level=level, region=region,
        defaults={
            "lead_unit_name": lead_unit_name, "lead_unit_kind": lead_unit_kind if not lead_unit_name else "",
            "assist_unit_names": list(dict.fromkeys(assists)), "is_active": is_active,
        },
    )
    return rule


def _depth(level: str) -> int:
    return [RegionLevel.CITY, RegionLevel.DISTRICT, RegionLevel.TOWN, RegionLevel.VILLAGE].index(RegionLevel(level))


@dataclass
class ImportResult:
    saved: int = 0
    errors: list[str] = field(default_factory=list)


def rules_import_csv(text: str) -> ImportResult:
    """Import matrix lines (columns: category, level, region, lead_unit, lead_kind,
    assist_units separated by "|"). Every line is checked first; one bad line imports nothing."""
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in ("category", "level") if c not in (reader.fieldnames or [])]
    if missing:
        result.errors.append(_("缺少列：%(cols)s") % {"cols": ", ".join(missing)})
        return result
    categories = {c.code: c for c in Category.objects.all()}
    regions: dict[str, Region] = {}
    parsed = []
    for line, row in enumerate(reader, start=2):
        code = (row.get("category") or "").strip()
        level = (row.get("level") or "").strip()
        region_code = (row.get("region") or "").strip()
        problems = []
        if code not in categories:
            problems.append(_("类别编码“%(code)s”不存在") % {"code": code})
        if level not in RegionLevel.values:
            problems.append(_("层级“%(level)s”无效（应为 city/district/town/village）") % {"level": level})
        region = None
        if region_code:
            region = regions.get(region_code) or Region.objects.filter(code=region_code.ljust(12, "0")).first()
            if region is None:
                problems.append(_("区划代码“%(code)s”不存在") % {"code": region_code})
            else:
                regions[region_code] = region
        lead = (row.get("lead_unit") or "").strip()
        kind = (row.get("lead_kind") or "").strip()
        if not lead and kind not in UnitKind.values:
            problems.append(_("缺少主办单位"))
        if problems:
            result.errors.append(_("第 %(line)d 行：%(problems)s") % {"line": line, "problems": "；".join(problems)})
            continue
        assists = [a for a in (row.get("assist_units") or "").split("|") if a.strip()]
        parsed.append((categories[code], level, region, lead, kind, assists))
    if result.errors:
        return result
    with transaction.atomic():
        for category, level, region, lead, kind, assists in parsed:
            rule_save(category=category, level=level, region=region, lead_unit_name=lead, lead_unit_kind=kind,
                      assist_unit_names=assists)
            result.saved += 1
    return result
