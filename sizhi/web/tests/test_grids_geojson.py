"""Grid outlines for the report map: the visible box only, boundary and name only, capped."""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.conftest import World
from sizhi.web import views

URL = reverse("web:grids_geojson")


def test_grids_in_the_box_come_back_as_geojson_with_name_only(world: World, client: Client) -> None:
    # A box around grids A1-1 and A1-2 (112.40–112.42, 34.60–34.61) but not B1-1 (112.50, 34.70).
    response = client.get(URL, {"bbox": "112.395,34.595,112.415,34.615"})

    assert response.status_code == 200
    data = response.json()
    assert data["type"] == "FeatureCollection"
    assert data["truncated"] is False
    assert len(data["features"]) == 2
    feature = data["features"][0]
    assert set(feature) == {"type", "geometry", "properties"}
    assert set(feature["properties"]) == {"name"}
    assert feature["geometry"] == world.grid_a1.boundary
    assert feature["properties"]["name"] == f"{world.village_a1.name} {world.grid_a1.name}"


def test_the_count_is_capped(world: World, client: Client) -> None:
    with mock.patch.object(views, "GRID_FEATURES_MAX", 2):
        data = client.get(URL, {"bbox": "112.3,34.5,112.6,34.8"}).json()

    assert len(data["features"]) == 2
    assert data["truncated"] is True


def test_a_box_too_large_to_draw_asks_to_zoom_in(world: World, client: Client) -> None:
    data = client.get(URL, {"bbox": "-180,-90,180,90"}).json()

    assert data["features"] == []
    assert data["truncated"] is True


def test_a_box_past_the_antimeridian_is_clamped(world: World, client: Client) -> None:
    response = client.get(URL, {"bbox": "179.9,0,180.3,0.1"})

    assert response.status_code == 200
    assert response.json()["features"] == []


@pytest.mark.parametrize(
    "bbox", [None, "", "1,2,3", "1,2,3,4,5", "a,b,c,d", "NaN,0,1,1", "0,0,inf,1", "1e999,0,1,1", "5,5,1,1", "1," * 500]
)
def test_a_bad_box_is_a_400(world: World, client: Client, bbox: str | None) -> None:
    response = client.get(URL, {} if bbox is None else {"bbox": bbox})

    assert response.status_code == 400
    assert response.json()["error"] == "bbox_invalid"
