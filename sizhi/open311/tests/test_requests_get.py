"""GET requests and GET requests/{id}: public cases only, the spec's filters and window, states
mapped to open/closed, times with their offset, and nothing that identifies a reporter."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from sizhi.cases import services as case_services
from sizhi.cases.models import Case
from sizhi.cases.workflow import Channel, Satisfaction
from sizhi.conftest import World
from sizhi.open311 import selectors
from sizhi.open311.tests.conftest import (
    BASE,
    ApiClient,
    Schemas,
    assert_same_shape,
    assert_xml_response,
    close,
    error_of,
    fixture_xml,
    json_body,
    post_request,
    reject,
    report,
    root_shape,
    valid_post,
)


def listed(web: Client, query: str = "") -> list[dict]:
    return json_body(web.get(f"{BASE}/requests.json?{query}"))


def ids(rows: list[dict]) -> list[str]:
    return [r["service_request_id"] for r in rows]


def age(case: Case, days: int) -> Case:
    Case.objects.filter(pk=case.pk).update(created_at=timezone.now() - timedelta(days=days))
    case.refresh_from_db()
    return case


# --- format ------------------------------------------------------------------------------------


def test_requests_json_validates_for_every_state(world: World, web: Client, schemas: Schemas) -> None:
    report(world)
    close(world, report(world))
    reject(world, report(world))
    report(world, category=None, description="没有选类别的上报内容")

    body = listed(web)

    schemas.validate(body, "requests.json")
    assert len(body) == 4
    for row in body:
        schemas.validate(row, "request.json")


def test_requests_xml_has_the_shape_of_san_franciscos(
    world: World, web: Client, api_client: ApiClient, open311_data: Path
) -> None:
    # one request submitted with a media link, so every element SF shows has a value to carry
    post_request(web, **valid_post(world, api_client.key, media_url="https://img.example.org/1.jpg"))
    close(world, report(world))

    ours = assert_xml_response(web.get(f"{BASE}/requests.xml"))

    assert_same_shape(root_shape(ours), root_shape(fixture_xml(open311_data, "service_requests.xml")))


def test_media_url_is_the_only_element_that_may_be_missing(world: World, web: Client, open311_data: Path) -> None:
    report(world)

    ours = assert_xml_response(web.get(f"{BASE}/requests.xml"))

    assert_same_shape(
        root_shape(ours), root_shape(fixture_xml(open311_data, "service_requests.xml")), may_omit={"media_url"}
    )


def test_empty_list_xml_has_the_shape_of_san_franciscos(db: None, web: Client, open311_data: Path) -> None:
    ours = assert_xml_response(web.get(f"{BASE}/requests.xml"))

    assert_same_shape(root_shape(ours), root_shape(fixture_xml(open311_data, "service_requests_empty.xml")))
    assert listed(web) == []


def test_single_request_xml_has_the_shape_of_san_franciscos(
    world: World, web: Client, api_client: ApiClient, open311_data: Path
) -> None:
    body = json_body(post_request(web, **valid_post(world, api_client.key, media_url="https://img.example.org/1.jpg")))
    number = body[0]["service_request_id"]

    ours = assert_xml_response(web.get(f"{BASE}/requests/{number}.xml"))

    assert_same_shape(root_shape(ours), root_shape(fixture_xml(open311_data, "get_service_request.xml")))


def test_single_request_json_is_a_list_of_one(world: World, web: Client, schemas: Schemas) -> None:
    case = report(world)

    body = json_body(web.get(f"{BASE}/requests/{case.number}.json"))

    schemas.validate(body, "requests.json")
    assert ids(body) == [case.number]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_request_is_404(db: None, web: Client, open311_data: Path, fmt: str) -> None:
    response = web.get(f"{BASE}/requests/LY2026000000000099.{fmt}")

    code, description = error_of(response, 404, fmt)
    assert code == "not_found"
    assert "LY2026000000000099" in description
    if fmt == "xml":
        theirs = fixture_xml(open311_data, "get_service_request_not_found.xml")
        assert_same_shape(root_shape(response.content), root_shape(theirs))


# --- what a request says -------------------------------------------------------------------------


def test_fields_of_a_new_report(world: World, web: Client) -> None:
    case = report(world)

    row = listed(web)[0]

    local = timezone.localtime(case.created_at)
    assert row["service_request_id"] == case.number
    assert row["status"] == "open"
    assert row["status_notes"] is None
    assert (row["service_code"], row["service_name"]) == ("roads-damage", "道路破损塌陷")
    assert row["requested_datetime"] == local.isoformat(timespec="seconds")
    assert row["requested_datetime"].endswith("+08:00")
    assert row["updated_datetime"].endswith("+08:00")
    due = case.due_at
    assert row["expected_datetime"] == (timezone.localtime(due).isoformat(timespec="seconds") if due else None)
    assert row["agency_responsible"] is None
    assert row["address"] == "金业路社区，西关街道，老城区，洛阳市"
    assert (row["lat"], row["long"]) == (case.lat, case.lng)
    assert "media_url" not in row


def test_closed_case_is_closed_with_its_closing_time_and_agency(world: World, web: Client) -> None:
    case = close(world, report(world))

    row = listed(web)[0]

    case.refresh_from_db()
    assert row["status"] == "closed"
    assert row["updated_datetime"] == timezone.localtime(case.closed_at).isoformat(timespec="seconds")
    assert row["agency_responsible"] == "金业路社区居委会"
    assert row["status_notes"] == "已办结"


def test_rejected_case_is_closed_with_the_reason_as_status_notes(world: World, web: Client) -> None:
    reject(world, report(world), reason="经现场核实，该处路面完好")

    row = listed(web)[0]

    assert row["status"] == "closed"
    assert row["status_notes"] == "经现场核实，该处路面完好"


def test_every_state_before_closure_is_open(world: World, web: Client) -> None:
    case = report(world)
    u = world.user
    case_services.case_accept(case=case, actor=u("town_dispatcher"))
    case_services.case_register(case=case, actor=u("town_dispatcher"))
    case_services.case_dispatch(case=case, actor=u("town_dispatcher"), unit=world.village_a1_committee)

    assert listed(web)[0]["status"] == "open"


def test_status_notes_ignore_internal_events_and_the_reporters_words(world: World, web: Client) -> None:
    case = close(world, report(world))
    case_services.case_rate(
        case=case, actor=world.user("citizen"), satisfaction=Satisfaction.UNSATISFIED, comment="我是3号楼王大妈，没修好"
    )
    case_services.case_reopen(case=case, actor=world.user("citizen"), reason="王大妈：路面又塌了")

    row = listed(web, "extensions=true")[0]

    assert row["status"] == "open"
    assert row["status_notes"] is None
    text = str(row)
    assert "王大妈" not in text


def test_expected_datetime_comes_from_a_deadline_when_the_case_has_one(world: World, web: Client) -> None:
    from sizhi.open311.api import request_row

    case = selectors.request_by_id(report(world).number)
    assert case is not None
    due = timezone.now() + timedelta(days=3)
    case.due_at = due

    row = request_row(case)

    assert row["expected_datetime"] == due


def test_no_reporter_identity_or_tracking_code_is_ever_shown(world: World, web: Client) -> None:
    citizen = world.user("citizen")
    case = close(world, report(world))
    anonymous = report(world, reporter=None, is_anonymous=True)

    bodies = [
        web.get(f"{BASE}/requests.json?extensions=true").content,
        web.get(f"{BASE}/requests.xml?extensions=true").content,
        web.get(f"{BASE}/requests/{case.number}.json?extensions=true").content,
        web.get(f"{BASE}/servicerequestupdates.json").content,
    ]

    for body in bodies:
        text = body.decode()
        secrets = (citizen.username, citizen.display_name, citizen.phone, case.tracking_code, anonymous.tracking_code)
        for secret in secrets:
            assert secret and secret not in text
        for staff in ("town_dispatcher", "village_cadre", "grid_worker"):
            assert staff not in text


# --- which requests ------------------------------------------------------------------------------


def test_mailbox_cases_are_never_shown(world: World, web: Client) -> None:
    letter = report(world, channel=Channel.MAILBOX)
    public = report(world, channel=Channel.HOTLINE)

    assert ids(listed(web)) == [public.number]
    assert ids(listed(web, f"service_request_id={letter.number},{public.number}")) == [public.number]
    error_of(web.get(f"{BASE}/requests/{letter.number}.json"), 404)
    error_of(web.get(f"{BASE}/tokens/{letter.tracking_code}.json"), 404)


def test_default_window_is_the_last_90_days(world: World, web: Client) -> None:
    recent = report(world)
    old = age(report(world), 91)

    assert ids(listed(web)) == [recent.number]
    assert old.number not in ids(listed(web))


def test_start_and_end_date_select_by_requested_time(world: World, web: Client) -> None:
    old = age(report(world), 120)
    report(world)
    start = (timezone.localtime(old.created_at) - timedelta(days=1)).isoformat(timespec="seconds")
    end = (timezone.localtime(old.created_at) + timedelta(days=1)).isoformat(timespec="seconds")

    rows = listed(web, f"start_date={start.replace('+', '%2B')}&end_date={end.replace('+', '%2B')}")

    assert ids(rows) == [old.number]


def test_an_unencoded_plus_in_the_offset_is_understood(world: World, web: Client) -> None:
    case = report(world)
    start = (timezone.localtime(case.created_at) - timedelta(hours=1)).isoformat(timespec="seconds")

    # "+08:00" sent raw arrives as " 08:00"
    assert ids(listed(web, f"start_date={start}")) == [case.number]


def test_start_date_alone_covers_90_days_from_it(world: World, web: Client) -> None:
    old = age(report(world), 100)
    report(world)
    start = (timezone.localtime(old.created_at) - timedelta(hours=1)).isoformat(timespec="seconds")

    assert ids(listed(web, f"start_date={start.replace('+', '%2B')}")) == [old.number]


def test_service_request_id_overrides_every_other_filter(world: World, web: Client) -> None:
    old_closed = close(world, age(report(world), 200))
    other = report(world, category="water-supply")

    rows = listed(
        web, f"service_request_id={old_closed.number},{other.number}&status=open&service_code=roads-bridge"
        "&start_date=2020-01-01T00:00:00Z&end_date=2020-01-02T00:00:00Z",
    )

    assert sorted(ids(rows)) == sorted([old_closed.number, other.number])


def test_status_filter(world: World, web: Client) -> None:
    open_case = report(world)
    closed_case = close(world, report(world))
    rejected = reject(world, report(world))

    assert ids(listed(web, "status=open")) == [open_case.number]
    assert set(ids(listed(web, "status=closed"))) == {closed_case.number, rejected.number}
    assert len(listed(web, "status=open,closed")) == 3


def test_service_code_filter_takes_a_comma_list(world: World, web: Client) -> None:
    road = report(world, category="roads-damage")
    water = report(world, category="water-supply")
    report(world, category="roads-bridge")

    assert set(ids(listed(web, "service_code=roads-damage,water-supply"))) == {road.number, water.number}


def test_empty_optional_parameters_are_as_if_not_sent(world: World, web: Client) -> None:
    report(world)

    assert listed(web, "service_code=&status=&start_date=&end_date=&service_request_id=&page=") == listed(web)


def test_newest_first_in_pages(world: World, web: Client) -> None:
    made = [report(world) for _ in range(5)]
    newest_first = [c.number for c in reversed(made)]

    assert ids(listed(web, "page_size=2")) == newest_first[:2]
    assert ids(listed(web, "page_size=2&page=2")) == newest_first[2:4]
    assert ids(listed(web, "page_size=2&page=3")) == newest_first[4:]
    assert listed(web, "page_size=2&page=4") == []


def test_at_most_1000_by_default(world: World, web: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # The cap is one constant; lowered here so that the test does not create a thousand cases.
    monkeypatch.setattr(selectors, "MAX_RESULTS", 3)
    for _ in range(4):
        report(world)

    assert len(listed(web)) == 3


def test_extensions_add_the_public_timeline_as_notes(world: World, web: Client) -> None:
    case = close(world, report(world))

    row = json_body(web.get(f"{BASE}/requests/{case.number}.json?extensions=true"))[0]

    notes = row["extended_attributes"]["notes"]
    assert [n["action"] for n in notes] == [
        "submit", "accept", "register", "dispatch", "sign_for", "handle", "verify_pass", "close"
    ]
    assert notes[0]["description"] is None
    assert notes[3]["description"] == "请尽快处置"
    assert notes[-1]["status"] == "closed"
    assert all(n["datetime"].endswith("+08:00") for n in notes)
    assert "extended_attributes" not in listed(web)[0]


def test_extensions_xml_nests_notes(world: World, web: Client) -> None:
    case = report(world)

    body = assert_xml_response(web.get(f"{BASE}/requests/{case.number}.xml?extensions=true"))

    shape = root_shape(body)["service_requests"]["request"]["extended_attributes"]
    assert set(shape["notes"]["note"]) == {"datetime", "status", "action", "action_name", "description"}


def test_list_queries_do_not_grow_with_the_number_of_requests(
    world: World, web: Client, django_assert_max_num_queries: object
) -> None:
    for _ in range(6):
        close(world, report(world))

    with django_assert_max_num_queries(4):  # type: ignore[operator]
        rows = listed(web, "extensions=true")

    assert len(rows) == 6
