"""The PyPI `georeport` client (a third party's reading of the spec) against a live server,
for every GET it implements, in JSON and in XML."""

from __future__ import annotations

import pytest
from georeport import GeoReport

from sizhi.cases.models import Case
from sizhi.conftest import build_world
from sizhi.open311.tests.conftest import close, report

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def cases(live_server: object) -> list[Case]:
    world = build_world()
    return [close(world, report(world)), report(world, category="water-supply")]


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_client_reads_every_get_resource(live_server: object, cases: list[Case], output_format: str) -> None:
    client = GeoReport(f"{live_server.url}/open311/v2", output_format=output_format)  # type: ignore[attr-defined]
    closed_case, open_case = cases

    services = client.get_service_list()
    assert {s["service_code"] for s in services} >= {"roads-damage", "water-supply"}

    definition = client.get_service_definition("roads-damage")
    assert definition["service_code"] == "roads-damage"
    attributes = definition["attributes"]
    # xmltodict gives {"attribute": [...]} where the JSON has the list itself
    attribute_list = attributes if output_format == "json" else attributes["attribute"]
    assert [a["code"] for a in attribute_list] == ["severity", "affected"]

    listed = client.get_service_requests(status="open")
    rows = listed if isinstance(listed, list) else [listed]
    assert [r["service_request_id"] for r in rows] == [open_case.number]

    both = client.get_service_requests(service_request_id=f"{closed_case.number},{open_case.number}")
    assert {r["service_request_id"] for r in both} == {closed_case.number, open_case.number}

    one = client.get_service_request(closed_case.number)
    assert one["service_request_id"] == closed_case.number
    assert one["status"] == "closed"
    assert one["agency_responsible"] == "金业路社区居委会"
