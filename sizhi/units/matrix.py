"""Reading the responsibility matrix: which unit leads a case of a category in a place.

Specificity: a sub-category's rule beats its parent's; a rule limited to a region beats a
city-wide one, and a smaller region beats a larger one. A case starts at the lowest level
that has a rule whose unit exists in the case's area ("小事不出村").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from sizhi.cases.models import Category
from sizhi.regions.models import LEVEL_PREFIX_LENGTH, Region, RegionLevel
from sizhi.units.models import HandlingUnit, ResponsibilityRule

LEVELS_UPWARD: list[str] = [RegionLevel.VILLAGE, RegionLevel.TOWN, RegionLevel.DISTRICT, RegionLevel.CITY]


@dataclass(frozen=True)
class Resolution:
    rule: ResponsibilityRule
    level: str
    lead: HandlingUnit
    assists: list[HandlingUnit] = field(default_factory=list)


def ancestor_code(code: str, level: str) -> str:
    return code[: LEVEL_PREFIX_LENGTH[RegionLevel(level)]].ljust(12, "0")


def levels_above(level: str) -> list[str]:
    return LEVELS_UPWARD[LEVELS_UPWARD.index(RegionLevel(level)) + 1 :]


def _unit_in(region_code: str, *, name: str, kind: str) -> HandlingUnit | None:
    qs = HandlingUnit.objects.filter(region__code=region_code, is_active=True).select_related("region")
    qs = qs.filter(name=name) if name else qs.filter(kind=kind)
    return qs.order_by("name").first()


def _candidate_rules(category: Category, region_code: str, levels: list[str]) -> dict[str, list[ResponsibilityRule]]:
    """Every rule that could apply, for all the levels at once (one query), most specific first."""
    categories = [category.pk] + ([category.parent_id] if category.parent_id else [])
    ancestors = [ancestor_code(region_code, lv) for lv in LEVELS_UPWARD]
    rules = list(
        ResponsibilityRule.objects.filter(category_id__in=categories, level__in=levels, is_active=True)
        .filter(Q(region__isnull=True) | Q(region__code__in=ancestors))
        .select_related("region")
    )

    def specificity(rule: ResponsibilityRule) -> tuple[int, int]:
        return (int(rule.category_id == category.pk), len(rule.region.prefix) if rule.region else 0)

    by_level: dict[str, list[ResponsibilityRule]] = {}
    for rule in sorted(rules, key=specificity, reverse=True):
        by_level.setdefault(rule.level, []).append(rule)
    return by_level


def _resolve_with(rules: list[ResponsibilityRule], region_code: str, level: str) -> Resolution | None:
    """The first of `rules` whose lead unit exists in the case's area at `level`."""
    where = ancestor_code(region_code, level)
    for rule in rules:
        lead = _unit_in(where, name=rule.lead_unit_name, kind=rule.lead_unit_kind)
        if lead is None:
            continue
        assists = [u for n in rule.assist_unit_names if (u := _unit_in(where, name=n, kind="")) and u.pk != lead.pk]
        return Resolution(rule=rule, level=level, lead=lead, assists=assists)
    return None


def resolve(category: Category, region: Region, *, from_level: str | None = None) -> Resolution | None:
    """The lowest level (at or above `from_level` and the region's own level) whose rule names
    a unit in the case's area. A case placed only at the city has no village to go to."""
    start = region.level if from_level is None else max(
        region.level, from_level, key=lambda lv: LEVELS_UPWARD.index(RegionLevel(lv))
    )
    levels = [start, *levels_above(start)]
    # With no rule for the category (the usual case for most registrations) this is one query.
    rules = _candidate_rules(category, region.code, levels)
    for level in levels:
        found = _resolve_with(rules.get(level, []), region.code, level)
        if found is not None:
            return found
    return None
