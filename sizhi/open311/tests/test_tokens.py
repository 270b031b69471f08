"""GET tokens/{token}: our requests are realtime, so a token is either the tracking code a
reporter holds or the retry token a client sent with its POST."""

from __future__ import annotations

from pathlib import Path

from django.test import Client

from sizhi.conftest import World
from sizhi.open311.tests.conftest import (
    BASE,
    TOKEN_RESPONSE,
    ApiClient,
    Schemas,
    assert_same_shape,
    assert_xml_response,
    error_of,
    fixture_xml,
    json_body,
    post_request,
    report,
    root_shape,
    valid_post,
)


def test_tracking_code_resolves_to_the_request(world: World, web: Client, schemas: Schemas) -> None:
    case = report(world)

    body = json_body(web.get(f"{BASE}/tokens/{case.tracking_code}.json"))

    schemas.validate_inline(body, TOKEN_RESPONSE)
    assert body == [{"service_request_id": case.number, "token": case.tracking_code}]


def test_client_token_resolves_to_the_request(world: World, web: Client, api_client: ApiClient) -> None:
    number = json_body(post_request(web, **valid_post(world, api_client.key, token="abc.123")))[0]["service_request_id"]

    assert json_body(web.get(f"{BASE}/tokens/abc.123.json")) == [{"service_request_id": number, "token": "abc.123"}]


def test_token_xml_has_the_shape_of_san_franciscos(world: World, web: Client, open311_data: Path) -> None:
    case = report(world)

    ours = assert_xml_response(web.get(f"{BASE}/tokens/{case.tracking_code}.xml"))

    assert_same_shape(root_shape(ours), root_shape(fixture_xml(open311_data, "request_id_from_token.xml")))


def test_unknown_token_is_404(db: None, web: Client) -> None:
    code, _ = error_of(web.get(f"{BASE}/tokens/AAAAAAAAAAAAAAAAAAAAAA.xml"), 404, "xml")

    assert code == "not_found"
