"""Writers of handling units and of the responsibility matrix."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from sizhi.cases.models import Category
from sizhi.cases.text import clean_text
from sizhi.regions.models import Region, RegionLevel
from sizhi.units.models import HandlingUnit, ResponsibilityRule, UnitKind

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


@transaction.atomic
def rule_delete(*, rule: ResponsibilityRule) -> None:
    """Remove one line of the matrix; cases already routed by it keep their unit."""
    ResponsibilityRule.objects.filter(pk=rule.pk).delete()


UNIT_NAME_MAX = 100


@transaction.atomic
def unit_save(
    *, unit: HandlingUnit | None = None, name: str, kind: str, region: Region, is_active: bool = True
) -> HandlingUnit:
    """Create a handling unit (`unit=None`) or change one. A deactivated unit keeps its members,
    cases and history; the matrix and dispatch lists stop offering it."""
    clean_name = clean_text(name)
    errors: dict[str, str] = {}
    if not clean_name:
        errors["name"] = _("请填写单位名称。")
    elif len(clean_name) > UNIT_NAME_MAX:
        errors["name"] = _("单位名称不能超过 %(n)d 个字。") % {"n": UNIT_NAME_MAX}
    if kind not in UnitKind.values:
        errors["kind"] = _("单位类型无效。")
    if not errors:
        same = HandlingUnit.objects.filter(region=region, name=clean_name)
        if unit is not None:
            same = same.exclude(pk=unit.pk)
        if same.exists():
            errors["name"] = _("该区划下已有同名单位。")
    if errors:
        raise ValidationError(errors)
    if unit is None:
        unit = HandlingUnit(name=clean_name, kind=kind, region=region, is_active=is_active)
    else:
        unit = HandlingUnit.objects.select_for_update().get(pk=unit.pk)
        unit.name, unit.kind, unit.region, unit.is_active = clean_name, kind, region, is_active
    try:
        with transaction.atomic():
            unit.save()
    except IntegrityError:
        # Another admin saved the same name in the same region a moment ago.
        raise ValidationError({"name": _("该区划下已有同名单位。")}) from None
    return unit
