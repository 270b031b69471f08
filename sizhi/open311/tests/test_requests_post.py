"""POST requests: an integration with a key submits a report; it becomes a case through
cases.services.report_submit on the Open311 channel, synchronously, and the id comes back."""

from __future__ import annotations

from pathlib import Path

from django.test import Client

from sizhi.accounts.models import User
from sizhi.cases.models import Case, CaseEvent
from sizhi.cases.workflow import CaseAction, CaseStatus, Channel
from sizhi.conftest import World
from sizhi.open311.models import Open311Request
from sizhi.open311.tests.conftest import (
    BASE,
    DESCRIPTION,
    POST_RESPONSE,
    TOKEN_RESPONSE,
    ApiClient,
    Schemas,
    assert_same_shape,
    assert_xml_response,
    fixture_xml,
    json_body,
    post_request,
    root_shape,
    valid_post,
)


def test_post_creates_a_case_on_the_open311_channel(
    world: World, web: Client, api_client: ApiClient, schemas: Schemas
) -> None:
    body = json_body(post_request(web, **valid_post(world, api_client.key)))

    schemas.validate_inline(body, POST_RESPONSE)
    case = Case.objects.get()
    assert body == [{"service_request_id": case.number, "service_notice": None, "account_id": None}]
    assert case.channel == Channel.OPEN311
    assert case.status == CaseStatus.REPORTED
    assert case.category is not None and case.category.code == "roads-damage"
    assert case.grid == world.grid_a1
    assert case.description == DESCRIPTION
    assert case.attributes == {"severity": "severe"}
    assert case.reporter is None


def test_the_service_account_is_the_actor_of_the_submission(world: World, web: Client, api_client: ApiClient) -> None:
    post_request(web, **valid_post(world, api_client.key))

    event = CaseEvent.objects.get()
    assert event.action == CaseAction.SUBMIT
    assert event.actor == api_client.client.user
    link = Open311Request.objects.get()
    assert link.client == api_client.client


def test_post_xml_answers_with_the_shape_of_san_franciscos(
    world: World, web: Client, api_client: ApiClient, open311_data: Path
) -> None:
    ours = assert_xml_response(post_request(web, "xml", **valid_post(world, api_client.key, account_id="u-42")))

    assert_same_shape(root_shape(ours), root_shape(fixture_xml(open311_data, "post_service_request.xml")))
    assert b"<account_id>u-42</account_id>" in ours


def test_multivaluelist_answers_repeated_or_with_brackets(world: World, web: Client, api_client: ApiClient) -> None:
    repeated = valid_post(world, api_client.key)
    repeated["attribute[affected]"] = ["pedestrian", "motor"]
    post_request(web, **repeated)
    brackets = valid_post(world, api_client.key)
    brackets["attribute[affected][]"] = ["non-motor"]
    post_request(web, **brackets)
    single = valid_post(world, api_client.key, **{"attribute[affected]": "motor"})
    post_request(web, **single)

    answers = [c.attributes for c in Case.objects.order_by("id")]
    assert answers == [
        {"severity": "severe", "affected": ["motor", "pedestrian"]},
        {"severity": "severe", "affected": ["non-motor"]},
        {"severity": "severe", "affected": ["motor"]},
    ]


def test_attributes_the_service_does_not_define_are_left_out(world: World, web: Client, api_client: ApiClient) -> None:
    # FixMyStreet, for one, sends its own attributes (report URL, title) to every server.
    data = valid_post(world, api_client.key, **{"attribute[report_url]": "https://example.org/r/1"})

    json_body(post_request(web, **data))

    assert Case.objects.get().attributes == {"severity": "severe"}


def test_address_string_alone_is_a_location(world: World, web: Client, api_client: ApiClient) -> None:
    data = valid_post(world, api_client.key, lat=None, long=None, address_string="金业路 12 号门前")

    json_body(post_request(web, **data))

    case = Case.objects.get()
    assert (case.lat, case.lng, case.grid) == (None, None, None)
    assert case.address == "金业路 12 号门前"
    assert case.region == world.city


def test_address_id_alone_is_a_location_and_is_returned(world: World, web: Client, api_client: ApiClient) -> None:
    data = valid_post(world, api_client.key, lat=None, long=None, address_id="LY-ADDR-000123")

    number = json_body(post_request(web, **data))[0]["service_request_id"]

    assert "LY-ADDR-000123" in Case.objects.get().address
    detail = json_body(web.get(f"{BASE}/requests/{number}.json"))
    assert detail[0]["address_id"] == "LY-ADDR-000123"


def test_missing_description_is_replaced_by_the_service_name(world: World, web: Client, api_client: ApiClient) -> None:
    json_body(post_request(web, **valid_post(world, api_client.key, description=None)))
    json_body(post_request(web, **valid_post(world, api_client.key, description="有坑")))

    assert [c.description for c in Case.objects.order_by("id")] == [
        "道路破损塌陷（外部系统上报，未附文字描述）",
        "道路破损塌陷：有坑",
    ]


def test_media_url_is_kept_as_a_link_and_never_fetched(world: World, web: Client, api_client: ApiClient) -> None:
    url = "https://img.example.org/reports/1.jpg"

    number = json_body(post_request(web, **valid_post(world, api_client.key, media_url=url)))[0]["service_request_id"]

    assert Open311Request.objects.get().media_url == url
    assert json_body(web.get(f"{BASE}/requests/{number}.json"))[0]["media_url"] == url


def test_contact_details_and_device_id_are_accepted_and_not_kept(
    world: World, web: Client, api_client: ApiClient
) -> None:
    data = valid_post(
        world, api_client.key, email="wang@example.org", first_name="小明", last_name="王", phone="13912345678",
        device_id="DEVICE-XYZ-123", account_id="acct-7",
    )

    body = json_body(post_request(web, **data))

    assert body[0]["account_id"] == "acct-7"
    case = Case.objects.get()
    stored = repr(list(Case.objects.values())) + repr(list(Open311Request.objects.values()))
    stored += repr(list(CaseEvent.objects.values()))
    stored += repr(list(User.objects.values("username", "display_name", "email", "phone")))
    for secret in ("wang@example.org", "小明", "13912345678", "DEVICE-XYZ-123"):
        assert secret not in stored
    assert case.reporter is None


def test_repeating_a_post_with_the_same_token_returns_the_same_request(
    world: World, web: Client, api_client: ApiClient, schemas: Schemas
) -> None:
    data = valid_post(world, api_client.key, token="retry-5f1c")

    first = json_body(post_request(web, **data))
    second = json_body(post_request(web, **data))

    assert first == second
    assert Case.objects.count() == 1
    tokens = json_body(web.get(f"{BASE}/tokens/retry-5f1c.json"))
    schemas.validate_inline(tokens, TOKEN_RESPONSE)
    assert tokens == [{"service_request_id": first[0]["service_request_id"], "token": "retry-5f1c"}]


def test_the_same_token_from_two_clients_makes_two_requests(world: World, web: Client, api_client: ApiClient) -> None:
    from sizhi.open311.services import client_create

    _other, other_key = client_create(name="另一个接入方")

    a = json_body(post_request(web, **valid_post(world, api_client.key, token="t-1")))
    b = json_body(post_request(web, **valid_post(world, other_key, token="t-1")))

    assert a != b
    assert Case.objects.count() == 2


def test_api_key_in_the_query_string_is_accepted_too(world: World, web: Client, api_client: ApiClient) -> None:
    data = valid_post(world, api_client.key)
    key = data.pop("api_key")

    response = web.post(f"{BASE}/requests.json?api_key={key}", data)

    assert response.status_code == 200
    assert Case.objects.count() == 1
