"""Small region trees and shapes for the regions tests, built through the services."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sizhi.regions.models import Region, RegionLevel, VillageKind
from sizhi.regions.services import region_upsert

# /work/main/sizhi/regions/tests/factories.py -> /work/shared/data/luoyang
LUOYANG_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "luoyang"


def luoyang_file(name: str) -> Path:
    path = LUOYANG_DATA / name
    if not path.exists():
        pytest.skip(f"shared Luoyang data not found at {path} (needs the checkout's sibling shared/ folder)")
    return path


def square(lng: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]],
    }


def square_with_hole(lng: float, lat: float, size: float = 0.03) -> dict[str, Any]:
    third = size / 3
    hole = [[lng + third, lat + third], [lng + third, lat + 2 * third], [lng + 2 * third, lat + 2 * third],
            [lng + 2 * third, lat + third], [lng + third, lat + third]]
    outer = square(lng, lat, size)["coordinates"][0]
    return {"type": "Polygon", "coordinates": [outer, hole]}


@dataclass
class Tree:
    city: Region
    district: Region
    town: Region
    village: Region
    community: Region
    other_district: Region
    other_town: Region
    other_village: Region


def make_tree() -> Tree:
    city, _ = region_upsert(code="410300000000", name="洛阳市", level=RegionLevel.CITY)
    district, _ = region_upsert(code="410302", name="老城区", level=RegionLevel.DISTRICT, parent=city)
    town, _ = region_upsert(code="410302001", name="西关街道", level=RegionLevel.TOWN, parent=district)
    village, _ = region_upsert(code="410302001201", name="某某村", level=RegionLevel.VILLAGE, parent=town,
                               kind=VillageKind.VILLAGE)
    community, _ = region_upsert(code="410302001001", name="金业路社区", level=RegionLevel.VILLAGE, parent=town,
                                 kind=VillageKind.COMMUNITY)
    other_district, _ = region_upsert(code="410303", name="西工区", level=RegionLevel.DISTRICT)
    other_town, _ = region_upsert(code="410303001", name="王城路街道", level=RegionLevel.TOWN)
    other_village, _ = region_upsert(code="410303001001", name="唐宫路社区", level=RegionLevel.VILLAGE,
                                     kind=VillageKind.COMMUNITY)
    return Tree(city, district, town, village, community, other_district, other_town, other_village)
