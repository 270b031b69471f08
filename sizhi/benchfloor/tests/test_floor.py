from __future__ import annotations

import importlib

import pytest
from django.test import Client
from django.urls import NoReverseMatch, clear_url_caches, reverse

from sizhi.benchfloor.models import FloorReport
from sizhi.config import urls as root_urls

FIELDS = {"title": "井盖缺失", "description": "金业路路口井盖缺失，夜间很危险", "lat": "34.605", "lng": "112.405",
          "address": "金业路"}


@pytest.fixture
def floor_mounted(settings: object) -> object:
    settings.SIZHI_BENCH_FLOOR = True  # type: ignore[attr-defined]
    importlib.reload(root_urls)
    clear_url_caches()
    yield
    settings.SIZHI_BENCH_FLOOR = False  # type: ignore[attr-defined]
    importlib.reload(root_urls)
    clear_url_caches()


@pytest.mark.django_db
def test_floor_is_absent_by_default(client: Client) -> None:
    with pytest.raises(NoReverseMatch):
        reverse("benchfloor:reports")
    assert client.post("/bench/floor/reports", FIELDS).status_code == 404
    assert not FloorReport.objects.exists()


@pytest.mark.django_db
def test_floor_validates_and_inserts_one_row(client: Client, floor_mounted: object) -> None:
    response = client.post(reverse("benchfloor:reports"), FIELDS)
    assert response.status_code == 201
    row = FloorReport.objects.get(pk=response.json()["id"])
    assert (row.title, row.lat, row.lng) == ("井盖缺失", 34.605, 112.405)


@pytest.mark.django_db
def test_floor_refuses_bad_fields(client: Client, floor_mounted: object) -> None:
    response = client.post(reverse("benchfloor:reports"), {**FIELDS, "lat": "NaN", "description": ""})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"lat", "description"}
    assert not FloorReport.objects.exists()
