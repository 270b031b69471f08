"""Reads of the region tree and grids.

Scope filters use a code range instead of `startswith`: every code has 12 digits, so a subtree is
exactly the codes between prefix+000… and prefix+999…, which a plain B-tree index answers on both
SQLite and PostgreSQL (a LIKE 'prefix%' needs a special index or collation on each).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from sizhi.regions.models import Grid, Region

CODE_LENGTH = 12


def code_range(prefix: str) -> tuple[str, str]:
    """The first and last 12-digit code that start with `prefix`."""
    return prefix.ljust(CODE_LENGTH, "0"), prefix.ljust(CODE_LENGTH, "9")


def region_scope_q(region: Region, field: str = "code") -> Q:
    """Q for rows whose 12-digit code field lies in the region's subtree, e.g.
    `Case.objects.filter(region_scope_q(scope, "region__code"))`."""
    low, high = code_range(region.prefix)
    return Q(**{f"{field}__gte": low, f"{field}__lte": high})


def region_by_code(code: str) -> Region | None:
    """The region with this code; a short code ('410302') is read as its padded 12 digits."""
    text = code.strip() if isinstance(code, str) else ""
    if not text.isascii() or not text.isdigit() or len(text) > CODE_LENGTH:
        return None
    return Region.objects.filter(code=text.ljust(CODE_LENGTH, "0")).first()


def region_subtree(region: Region, *, include_self: bool = True) -> QuerySet[Region]:
    """The region and everything below it."""
    qs = Region.objects.filter(region_scope_q(region))
    return qs if include_self else qs.exclude(pk=region.pk)


def regions_children(region: Region) -> QuerySet[Region]:
    return Region.objects.filter(parent=region).order_by("code")


def region_ancestors(region: Region) -> list[Region]:
    """City first, the region itself excluded (for breadcrumbs); one query."""
    codes = [region.code[:n].ljust(CODE_LENGTH, "0") for n in (4, 6, 9) if n < len(region.prefix)]
    return list(Region.objects.filter(code__in=codes).order_by("code"))


def grid_list_for_region(region: Region) -> QuerySet[Grid]:
    """Every grid under the region (a village's own grids, or all of a district's)."""
    return Grid.objects.filter(region_scope_q(region, "region_code")).select_related("village").order_by("code")
