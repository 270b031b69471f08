"""mySociety's servicerequestupdates: GET lists the public updates in a window, in
FixMyStreet's format; POST from a client records a public note and moves nothing."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.test import Client
from django.utils import timezone

from sizhi.cases import services as case_services
from sizhi.cases.models import Case, CaseEvent
from sizhi.cases.workflow import CaseAction, CaseStatus, Channel, Satisfaction
from sizhi.conftest import World
from sizhi.open311.tests.conftest import (
    BASE,
    UPDATES,
    ApiClient,
    Response,
    Schemas,
    assert_xml_response,
    close,
    error_of,
    json_body,
    reject,
    report,
    root_shape,
    unchanged_after,
)


def post_update(web: Client, fmt: str = "json", **data: str) -> Response:
    return web.post(f"{BASE}/servicerequestupdates.{fmt}", data)


def test_updates_list_status_changes_and_their_reasons(world: World, web: Client, schemas: Schemas) -> None:
    case = reject(world, report(world), reason="不属于受理范围的信息")

    body = json_body(web.get(f"{BASE}/servicerequestupdates.json"))

    schemas.validate_inline(body, UPDATES)
    event = CaseEvent.objects.get(case=case, action=CaseAction.REJECT)
    assert body == [
        {
            "update_id": str(event.pk),
            "service_request_id": case.number,
            "status": "closed",
            "updated_datetime": timezone.localtime(event.created_at).isoformat(timespec="seconds"),
            "description": "不属于受理范围的信息",
        }
    ]


def test_updates_leave_out_submissions_ratings_and_private_cases(world: World, web: Client) -> None:
    case = close(world, report(world))
    case_services.case_rate(case=case, actor=world.user("citizen"), satisfaction=Satisfaction.SATISFIED, comment="很好")
    letter = close(world, report(world, channel=Channel.MAILBOX))

    body = json_body(web.get(f"{BASE}/servicerequestupdates.json"))

    listed = {int(row["update_id"]) for row in body}
    published = CaseEvent.objects.filter(case=case).exclude(action__in=[CaseAction.SUBMIT, CaseAction.RATE])
    assert listed == set(published.values_list("pk", flat=True))
    assert len(listed) == 7  # accept, register, dispatch, sign_for, handle, verify_pass, close
    assert letter.number not in {row["service_request_id"] for row in body}


def test_updates_xml_is_fixmystreets_format(world: World, web: Client) -> None:
    reject(world, report(world))

    body = assert_xml_response(web.get(f"{BASE}/servicerequestupdates.xml"))

    assert root_shape(body) == {
        "service_requests_updates": {
            "request_update": {
                "update_id": {}, "service_request_id": {}, "status": {}, "updated_datetime": {}, "description": {}
            }
        }
    }


def test_updates_window_is_checked_like_requests(db: None, web: Client) -> None:
    code, _ = error_of(
        web.get(f"{BASE}/servicerequestupdates.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z"), 400
    )

    assert code == "date_window_too_long"


def test_updates_outside_the_window_are_not_listed(world: World, web: Client) -> None:
    reject(world, report(world))
    start = (timezone.now() + timedelta(days=1)).isoformat(timespec="seconds").replace("+", "%2B")

    assert json_body(web.get(f"{BASE}/servicerequestupdates.json?start_date={start}")) == []


def test_posted_update_becomes_a_public_note_and_moves_nothing(
    world: World, web: Client, api_client: ApiClient
) -> None:
    case = report(world)
    version = case.version

    body = json_body(
        post_update(
            web, api_key=api_client.key, service_request_id=case.number, update_id="fms-77", status="CLOSED",
            updated_datetime="2026-05-01T10:00:00+08:00", description="群众补充：塌陷范围扩大到人行道",
            media_url="https://img.example.org/u/77.jpg",
        )
    )

    note = CaseEvent.objects.get(case=case, action=CaseAction.NOTE)
    assert body == [{"update_id": str(note.pk)}]
    assert note.reason == "群众补充：塌陷范围扩大到人行道"
    assert note.actor == api_client.client.user
    assert note.is_public
    case.refresh_from_db()
    assert (case.status, case.version) == (CaseStatus.REPORTED, version)
    listed = json_body(web.get(f"{BASE}/servicerequestupdates.json"))
    assert listed[-1]["media_url"] == "https://img.example.org/u/77.jpg"
    assert json_body(web.get(f"{BASE}/requests/{case.number}.json"))[0]["status_notes"] == note.reason


def test_repeated_update_id_makes_one_note(world: World, web: Client, api_client: ApiClient) -> None:
    case = report(world)
    data = {
        "api_key": api_client.key, "service_request_id": case.number, "update_id": "u-1", "description": "补充说明内容"
    }

    first = json_body(post_update(web, **data))
    second = json_body(post_update(web, **data))

    assert first == second
    assert CaseEvent.objects.filter(case=case, action=CaseAction.NOTE).count() == 1


def test_posted_update_xml(world: World, web: Client, api_client: ApiClient) -> None:
    case = report(world)

    body = assert_xml_response(
        post_update(web, "xml", api_key=api_client.key, service_request_id=case.number, description="补充说明内容")
    )

    assert root_shape(body) == {"service_request_updates": {"request_update": {"update_id": {}}}}


def test_update_with_a_wrong_key_is_403(world: World, web: Client) -> None:
    case = report(world)

    response = unchanged_after(
        lambda: post_update(web, api_key="wrong", service_request_id=case.number, description="补充说明内容")
    )

    assert error_of(response, 403)[0] == "api_key_invalid"


def test_update_to_an_unknown_or_private_request_is_404(world: World, web: Client, api_client: ApiClient) -> None:
    letter = report(world, channel=Channel.MAILBOX)

    for number in ("LY2026000000000099", letter.number):
        response = unchanged_after(
            partial(post_update, web, api_key=api_client.key, service_request_id=number, description="补充说明内容")
        )
        assert error_of(response, 404)[0] == "not_found"


def test_bad_updates_are_400(world: World, web: Client, api_client: ApiClient) -> None:
    case = report(world)
    base = {"api_key": api_client.key, "service_request_id": case.number, "description": "补充说明内容"}

    for change, expected in [
        ({"description": ""}, "description_required"),
        ({"description": "字" * 2001}, "description_too_long"),
        ({"description": "补充\x00说明"}, "nul_byte"),
        ({"updated_datetime": "last tuesday"}, "date_invalid"),
        ({"media_url": "file:///etc/passwd"}, "media_url_invalid"),
        ({"service_request_id": ""}, "service_request_id_required"),
    ]:
        response = unchanged_after(partial(post_update, web, **{**base, **change}))
        assert error_of(response, 400)[0] == expected, change
    assert Case.objects.get(pk=case.pk).events.count() == 1
