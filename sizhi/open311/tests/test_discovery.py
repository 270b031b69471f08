"""Service discovery (Service_Discovery.md): XML and JSON, a production and a test endpoint
built from the request's host unless configured, both formats listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from sizhi.open311.tests.conftest import (
    BASE,
    DISCOVERY,
    Schemas,
    assert_same_shape,
    assert_xml_response,
    json_body,
    root_shape,
    spec_xml_example,
)


def test_discovery_json_lists_a_production_and_a_test_endpoint_on_this_host(
    db: None, web: Client, schemas: Schemas, settings: object
) -> None:
    settings.ALLOWED_HOSTS = ["open311.example.gov.cn"]  # type: ignore[attr-defined]

    body = json_body(web.get(f"{BASE}/discovery.json", HTTP_HOST="open311.example.gov.cn"))

    schemas.validate_inline(body, DISCOVERY)
    assert [e["type"] for e in body["endpoints"]] == ["production", "test"]
    for endpoint in body["endpoints"]:
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["url"] == "http://open311.example.gov.cn/open311/v2"
        assert endpoint["formats"] == ["text/xml", "application/json"]
        assert endpoint["changeset"] == body["changeset"]


def test_configured_endpoint_urls_win_over_the_host(db: None, web: Client, settings: object) -> None:
    settings.SIZHI_OPEN311_TEST_URL = "https://test.example.gov.cn/open311/v2/"  # type: ignore[attr-defined]

    body = json_body(web.get(f"{BASE}/discovery.json"))

    urls = {e["type"]: e["url"] for e in body["endpoints"]}
    assert urls == {"production": "http://testserver/open311/v2", "test": "https://test.example.gov.cn/open311/v2"}


def test_changeset_moves_when_a_service_definition_changes(db: None, web: Client) -> None:
    from sizhi.cases.models import CategoryAttribute

    before = json_body(web.get(f"{BASE}/discovery.json"))["changeset"]
    question = CategoryAttribute.objects.get(category__code="water-supply", code="households")
    question.description = "停水户数"
    question.save()

    after = json_body(web.get(f"{BASE}/discovery.json"))["changeset"]
    assert after >= before


@pytest.mark.parametrize("path", ["discovery.xml", ""])
def test_discovery_xml_has_the_shape_of_the_specs_example(
    db: None, web: Client, open311_data: Path, path: str
) -> None:
    # The endpoint's root answers with discovery too, as the spec recommends.
    ours = assert_xml_response(web.get(f"{BASE}/{path}"))

    theirs = spec_xml_example(open311_data, "Service_Discovery.md", "discovery")
    assert_same_shape(root_shape(ours), root_shape(theirs))
