"""Reads of handling units."""

from __future__ import annotations

from django.db.models import QuerySet

from sizhi.regions.models import Region
from sizhi.regions.selectors import region_scope_q
from sizhi.units.models import HandlingUnit


def units_in_region(region: Region) -> QuerySet[HandlingUnit]:
    """Active units located in the region or anywhere below it, the nearest level first."""
    return (
        HandlingUnit.objects.filter(region_scope_q(region, "region_code"), is_active=True)
        .select_related("region")
        .order_by("region_code", "kind", "name")
    )
