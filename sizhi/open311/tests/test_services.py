"""GET services and GET services/{code}: categories as services, their further questions as
the service definition; JSON against the schemas, XML against San Francisco's responses."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from sizhi.cases.models import Category
from sizhi.open311.tests.conftest import (
    BASE,
    Schemas,
    assert_same_shape,
    assert_xml_response,
    error_of,
    fixture_xml,
    json_body,
    root_shape,
    spec_xml_example,
)


def services_by_code(web: Client) -> dict[str, dict]:
    return {s["service_code"]: s for s in json_body(web.get(f"{BASE}/services.json"))}


def test_services_json_validates_and_lists_leaf_categories(db: None, web: Client, schemas: Schemas) -> None:
    body = json_body(web.get(f"{BASE}/services.json"))

    schemas.validate(body, "services.json")
    codes = {s["service_code"] for s in body}
    assert "roads-damage" in codes
    assert "roads" not in codes  # a group, not a service
    assert len(codes) == Category.objects.filter(parent__isnull=False).count()


def test_service_fields_come_from_the_category_and_its_questions(db: None, web: Client) -> None:
    services = services_by_code(web)

    assert services["roads-damage"] == {
        "service_code": "roads-damage",
        "service_name": "道路破损塌陷",
        "description": "道路桥梁 · 道路破损塌陷",
        "metadata": True,
        "type": "realtime",
        "keywords": "道路桥梁, 道路破损塌陷",
        "group": "道路桥梁",
    }
    assert services["water-supply"]["keywords"] == "供水排水, 饮水安全, 停水"
    assert services["roads-bridge"]["metadata"] is False


def test_inactive_categories_are_not_offered(db: None, web: Client) -> None:
    Category.objects.filter(code="roads-bridge").update(is_active=False)
    Category.objects.filter(code="water").update(is_active=False)

    codes = set(services_by_code(web))

    assert "roads-bridge" not in codes
    assert "water-supply" not in codes


def test_services_xml_has_the_shape_of_san_franciscos(db: None, web: Client, open311_data: Path) -> None:
    ours = assert_xml_response(web.get(f"{BASE}/services.xml"))

    assert_same_shape(root_shape(ours), root_shape(fixture_xml(open311_data, "services.xml")))


def test_service_definition_json_validates(db: None, web: Client, schemas: Schemas) -> None:
    body = json_body(web.get(f"{BASE}/services/roads-damage.json"))

    schemas.validate(body, "service-definition.json")
    assert body["service_code"] == "roads-damage"
    assert [(a["order"], a["code"], a["datatype"], a["required"], a["variable"]) for a in body["attributes"]] == [
        (1, "severity", "singlevaluelist", True, True),
        (2, "affected", "multivaluelist", False, True),
    ]
    assert body["attributes"][0]["description"] == "损坏程度"
    assert body["attributes"][0]["values"][2] == {"key": "severe", "name": "严重：塌陷、已影响通行"}


def test_a_notice_is_published_as_a_non_variable_attribute(db: None, web: Client, schemas: Schemas) -> None:
    body = json_body(web.get(f"{BASE}/services/security-fire.json"))

    schemas.validate(body, "service-definition.json")
    assert body["attributes"][0]["variable"] is False
    assert body["attributes"][0]["values"] == []


def test_service_without_questions_has_an_empty_definition(db: None, web: Client, schemas: Schemas) -> None:
    body = json_body(web.get(f"{BASE}/services/roads-bridge.json"))

    schemas.validate(body, "service-definition.json")
    assert body == {"service_code": "roads-bridge", "attributes": []}


def test_service_definition_xml_has_the_shape_of_the_specs_example(
    db: None, web: Client, open311_data: Path
) -> None:
    ours = assert_xml_response(web.get(f"{BASE}/services/roads-damage.xml"))

    theirs = spec_xml_example(open311_data, "GeoReport_v2_index.md", "service_definition")
    assert_same_shape(root_shape(ours), root_shape(theirs))


def test_service_definition_xml_matches_san_francisco_but_for_the_attributes_wrapper(
    db: None, web: Client, open311_data: Path
) -> None:
    # San Francisco's response puts <attribute> straight under <service_definition>; the spec's
    # table and example wrap them in <attributes>, and so do we (the JSON "attributes" list is
    # the Spark mapping of that wrapper). Everything below the wrapper must match SF exactly.
    ours = root_shape(assert_xml_response(web.get(f"{BASE}/services/roads-damage.xml")))
    theirs = root_shape(fixture_xml(open311_data, "service_definition.xml"))

    sf = theirs["service_definition"]
    theirs_wrapped = {
        "service_definition": {"service_code": sf["service_code"], "attributes": {"attribute": sf["attribute"]}}
    }
    assert_same_shape(ours, theirs_wrapped)


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("code", ["no-such-service", "roads"])
def test_unknown_service_definition_is_404(db: None, web: Client, fmt: str, code: str) -> None:
    error_code, description = error_of(web.get(f"{BASE}/services/{code}.{fmt}"), 404, fmt)

    assert error_code == "not_found"
    assert code in description
