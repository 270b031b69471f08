"""Bad input: each refusal has the spec's status (403 for the key, 404 for what does not exist,
400 for the rest), the errors > error > code, description body in the format asked, and leaves
the database as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from sizhi.conftest import World
from sizhi.open311.services import client_revoke
from sizhi.open311.tests.conftest import (
    BASE,
    ERRORS,
    ApiClient,
    Schemas,
    assert_same_shape,
    assert_xml_response,
    error_of,
    fixture_xml,
    json_body,
    post_request,
    root_shape,
    unchanged_after,
    valid_post,
)

FORMATS = pytest.mark.parametrize("fmt", ["json", "xml"])


def refused_post(web: Client, fmt: str, status: int, data: dict) -> tuple[str, str]:
    response = unchanged_after(lambda: post_request(web, fmt, **data))
    return error_of(response, status, fmt)


# --- the API key -------------------------------------------------------------------------------


@FORMATS
def test_wrong_api_key_is_403(world: World, web: Client, api_client: ApiClient, fmt: str) -> None:
    code, description = refused_post(web, fmt, 403, valid_post(world, "s311_not-a-real-key"))

    assert code == "api_key_invalid"
    assert "api_key" in description


@FORMATS
def test_missing_api_key_is_403(world: World, web: Client, api_client: ApiClient, fmt: str) -> None:
    code, _ = refused_post(web, fmt, 403, valid_post(world, api_client.key, api_key=None))

    assert code == "api_key_invalid"


def test_revoked_api_key_is_403(world: World, web: Client, api_client: ApiClient) -> None:
    client_revoke(client=api_client.client)

    code, _ = refused_post(web, "json", 403, valid_post(world, api_client.key))

    assert code == "api_key_invalid"


def test_wrong_key_is_refused_before_the_input_is_judged(world: World, web: Client, api_client: ApiClient) -> None:
    code, _ = refused_post(web, "json", 403, valid_post(world, "wrong", service_code="no-such-service"))

    assert code == "api_key_invalid"


def test_error_json_is_a_list_of_code_and_description(world: World, web: Client, schemas: Schemas) -> None:
    body = json_body(post_request(web, "json", **valid_post(world, "wrong")), 403)

    schemas.validate_inline(body, ERRORS)


def test_error_xml_has_the_shape_of_san_franciscos_not_found(world: World, web: Client, open311_data: Path) -> None:
    # SF's 403.xml is a bare <error> after an HTTP status line, unlike the spec's format; its
    # not-found response is the spec's errors > error > code, description, and that is ours.
    ours = assert_xml_response(post_request(web, "xml", **valid_post(world, "wrong")), 403)

    assert_same_shape(root_shape(ours), root_shape(fixture_xml(open311_data, "get_service_request_not_found.xml")))


# --- the request's content ---------------------------------------------------------------------


@FORMATS
@pytest.mark.parametrize("service_code", ["no-such-service", "roads"])
def test_unknown_service_code_is_400(
    world: World, web: Client, api_client: ApiClient, fmt: str, service_code: str
) -> None:
    code, description = refused_post(web, fmt, 400, valid_post(world, api_client.key, service_code=service_code))

    assert code == "service_code_unknown"
    assert service_code in description


def test_missing_service_code_is_400(world: World, web: Client, api_client: ApiClient) -> None:
    code, _ = refused_post(web, "json", 400, valid_post(world, api_client.key, service_code=None))

    assert code == "service_code_required"


@FORMATS
def test_missing_location_is_400(world: World, web: Client, api_client: ApiClient, fmt: str) -> None:
    code, _ = refused_post(web, fmt, 400, valid_post(world, api_client.key, lat=None, long=None))

    assert code == "location_required"


@pytest.mark.parametrize(
    ("lat", "long", "expected"),
    [
        ("34.605", None, "location_invalid"),
        ("north", "east", "location_invalid"),
        ("95", "112.4", "location_invalid"),
        ("39.9", "116.4", "location_outside"),
    ],
)
def test_bad_coordinates_are_400(
    world: World, web: Client, api_client: ApiClient, lat: str, long: str | None, expected: str
) -> None:
    code, _ = refused_post(web, "json", 400, valid_post(world, api_client.key, lat=lat, long=long))

    assert code == expected


@FORMATS
def test_5000_character_description_is_400(world: World, web: Client, api_client: ApiClient, fmt: str) -> None:
    code, _ = refused_post(web, fmt, 400, valid_post(world, api_client.key, description="路" * 5000))

    assert code == "description_too_long"


def test_4000_character_description_is_accepted(world: World, web: Client, api_client: ApiClient) -> None:
    response = post_request(web, **valid_post(world, api_client.key, description="路" * 4000))

    assert response.status_code == 200


@FORMATS
@pytest.mark.parametrize("field", ["description", "address_string", "service_code", "attribute[severity]", "email"])
def test_nul_bytes_anywhere_are_400(world: World, web: Client, api_client: ApiClient, fmt: str, field: str) -> None:
    data = valid_post(world, api_client.key)
    data[field] = f"{data.get(field, 'x')}\x00"

    code, _ = refused_post(web, fmt, 400, data)

    assert code == "nul_byte"


def test_nul_byte_in_a_parameter_name_is_400(world: World, web: Client, api_client: ApiClient) -> None:
    data = valid_post(world, api_client.key)
    data["attribute[sev\x00erity]"] = "minor"

    code, _ = refused_post(web, "json", 400, data)

    assert code == "nul_byte"


@FORMATS
def test_missing_required_attribute_is_400_naming_the_question(
    world: World, web: Client, api_client: ApiClient, fmt: str
) -> None:
    code, description = refused_post(web, fmt, 400, valid_post(world, api_client.key, **{"attribute[severity]": None}))

    assert code == "attribute_invalid"
    assert "损坏程度" in description


@pytest.mark.parametrize(
    ("service_code", "attributes", "named"),
    [
        ("roads-damage", {"attribute[severity]": "apocalyptic"}, "损坏程度"),
        ("roads-damage", {"attribute[severity]": ["minor", "severe"]}, "损坏程度"),
        ("roads-damage", {"attribute[severity]": "minor", "attribute[affected]": ["motor", "tank"]}, "影响到哪些通行"),
        ("water-supply", {"attribute[households]": "很多"}, "停水户数"),
        ("water-supply", {"attribute[outage-since]": "yesterday"}, "从什么时候开始停水"),
    ],
)
def test_wrong_attribute_answers_are_400(
    world: World, web: Client, api_client: ApiClient, service_code: str, attributes: dict, named: str
) -> None:
    data = valid_post(world, api_client.key, service_code=service_code, **{"attribute[severity]": None})
    data.update(attributes)

    code, description = refused_post(web, "json", 400, data)

    assert code == "attribute_invalid"
    assert named in description


@pytest.mark.parametrize(
    "url", ["ftp://example.org/a.jpg", "javascript:alert(1)", "not a url", "https://" + "a" * 500 + ".org"]
)
def test_media_url_must_be_http_or_https(world: World, web: Client, api_client: ApiClient, url: str) -> None:
    code, _ = refused_post(web, "json", 400, valid_post(world, api_client.key, media_url=url))

    assert code == "media_url_invalid"


@pytest.mark.parametrize("token", ["has space", "x" * 41, "含中文"])
def test_malformed_token_is_400(world: World, web: Client, api_client: ApiClient, token: str) -> None:
    code, _ = refused_post(web, "json", 400, valid_post(world, api_client.key, token=token))

    assert code == "token_invalid"


def test_overlong_account_id_is_400(world: World, web: Client, api_client: ApiClient) -> None:
    code, _ = refused_post(web, "json", 400, valid_post(world, api_client.key, account_id="a" * 65))

    assert code == "parameter_invalid"


# --- GET parameters ------------------------------------------------------------------------------


def refused_get(web: Client, query: str, fmt: str = "json") -> tuple[str, str]:
    response = unchanged_after(lambda: web.get(f"{BASE}/requests.{fmt}?{query}"))
    return error_of(response, 400, fmt)


@FORMATS
@pytest.mark.parametrize(
    "query",
    [
        "start_date=2026-01-01T00:00:00Z&end_date=2026-04-02T00:00:01Z",
        "start_date=2025-01-01T00:00:00%2B08:00&end_date=2026-01-01T00:00:00%2B08:00",
    ],
)
def test_date_window_over_90_days_is_400(db: None, web: Client, fmt: str, query: str) -> None:
    code, description = refused_get(web, query, fmt)

    assert code == "date_window_too_long"
    assert "90" in description


def test_a_window_of_exactly_90_days_is_allowed(db: None, web: Client) -> None:
    response = web.get(f"{BASE}/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-04-01T00:00:00Z")

    assert response.status_code == 200


@FORMATS
@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-01-01T00:00:00",  # no offset: the spec requires one
        "2026-01-01T25:00:00Z",
        "2026/01/01",
        "1767225600",
    ],
)
def test_malformed_dates_are_400(db: None, web: Client, fmt: str, value: str) -> None:
    code, description = refused_get(web, f"start_date={value}", fmt)

    assert code == "date_invalid"
    assert "start_date" in description


def test_end_before_start_is_400(db: None, web: Client) -> None:
    code, _ = refused_get(web, "start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z")

    assert code == "date_range_invalid"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=pending", "parameter_invalid"),
        ("page_size=0", "parameter_invalid"),
        ("page_size=1001", "parameter_invalid"),
        ("page=-1", "parameter_invalid"),
        ("extensions=maybe", "parameter_invalid"),
        ("service_code=no-such-service", "service_code_unknown"),
        ("description=%00", "nul_byte"),
    ],
)
def test_bad_query_parameters_are_400(db: None, web: Client, query: str, expected: str) -> None:
    code, _ = refused_get(web, query)

    assert code == expected


@FORMATS
def test_wrong_method_is_400_in_the_error_format(db: None, web: Client, fmt: str) -> None:
    code, _ = error_of(web.post(f"{BASE}/services.{fmt}", {}), 400, fmt)

    assert code == "method_not_allowed"


@FORMATS
@pytest.mark.parametrize("path", ["nothing-here", "requests/LY2026000000000001/extra"])
def test_unknown_resources_are_404_in_the_error_format(db: None, web: Client, fmt: str, path: str) -> None:
    code, _ = error_of(web.get(f"{BASE}/{path}.{fmt}"), 404, fmt)

    assert code == "not_found"
