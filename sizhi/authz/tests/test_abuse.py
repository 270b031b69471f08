"""Abuse cases 2, 4 and 5 of SECURITY.md on every channel where they apply today: forged fields
on every write endpoint change nothing they name; markup typed by citizens stays text in staff
pages, JSON, spreadsheets and PDFs; sort and filter parameters are allow-listed, so SQL sent
through them is refused or ignored, quickly."""

from __future__ import annotations

import io
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from sizhi.cases import services
from sizhi.cases.models import Case, CaseEvent
from sizhi.cases.workflow import CaseAction, CaseStatus, Channel, WarningLevel
from sizhi.conftest import World, inside
from sizhi.open311.services import client_create
from sizhi.web.tests.factories import report_data

XSS_TITLE = '<svg onload=alert(1)>"><a href="javascript:alert(2)">点我</a>'
XSS_TEXT = "路口井盖缺失 <script>alert(3)</script> <img src=x onerror=alert(4)> 请处理"
XSS_ADDRESS = "javascript:alert(5)//<b>金业路</b>"
RAW_MARKUP = ("<svg onload", "<script>alert", "<img src=x", 'href="javascript:', "<b>金业路")


@pytest.fixture(autouse=True)
def _fresh_counters() -> Any:
    cache.clear()
    yield
    cache.clear()


def _forged(world: World) -> dict[str, str]:
    """Every field a mass-assignment attempt would try, pointing somewhere else."""
    return {
        "status": CaseStatus.CLOSED, "reporter": str(world.user("citizen2").pk),
        "reporter_id": str(world.user("citizen2").pk), "region": str(world.village_b1.pk),
        "region_code": world.village_b1.code, "grid": str(world.grid_b1.pk),
        "assigned_unit": str(world.district_a_dept.pk), "handler": str(world.user("department_handler").pk),
        "is_confidential": "true", "channel": Channel.MAILBOX, "number": "FORGED-1", "tracking_code": "A" * 22,
        "priority": "urgent", "level": "city", "warning": WarningLevel.RED, "version": "99",
        "created_at": "2000-01-01T00:00:00+08:00", "due_at": "2000-01-02T00:00:00+08:00",
        "satisfaction": "satisfied", "duplicate_of": "1", "needs_ruling": "true",
    }


def _assert_not_forged(world: World, case: Case, *, reporter: int | None, channel: str) -> None:
    assert case.status == CaseStatus.REPORTED
    assert case.reporter_id == reporter
    assert case.region_id == world.village_a1.pk and case.grid_id == world.grid_a1.pk
    assert case.assigned_unit_id is None and case.handler_id is None
    assert case.channel == channel
    assert case.number != "FORGED-1" and case.tracking_code != "A" * 22
    assert case.warning == WarningLevel.NONE and not case.needs_ruling and case.due_at is None
    assert case.satisfaction == "" and case.duplicate_of_id is None
    assert case.created_at.year > 2000
    assert getattr(case, "is_confidential", False) is False


# --- 2. mass assignment ---------------------------------------------------------------------------------


def test_mass_assignment_on_the_web_report_form(world: World, client: Client) -> None:
    client.force_login(world.user("citizen"))
    response = client.post("/report/", {**report_data(world), **_forged(world)})
    assert response.status_code == 302
    _assert_not_forged(world, Case.objects.get(), reporter=world.user("citizen").pk, channel=Channel.APP)


def test_mass_assignment_on_the_api_report(world: World, client: Client) -> None:
    client.force_login(world.user("citizen"))
    lat, lng = inside(world.grid_a1)
    data = {"description": "路口的井盖缺失了，晚上很危险", "lat": str(lat), "lng": str(lng), **_forged(world)}
    response = client.post("/api/v1/reports", data, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.content
    _assert_not_forged(world, Case.objects.get(), reporter=world.user("citizen").pk, channel=Channel.APP)


def test_mass_assignment_on_an_open311_post(world: World, client: Client) -> None:
    _client, key = client_create(name="伪造字段测试")
    lat, lng = inside(world.grid_a1)
    data = {"api_key": key, "service_code": "roads-damage", "lat": str(lat), "long": str(lng),
            "description": "路口的井盖缺失了，晚上很危险", "attribute[severity]": "severe", **_forged(world)}
    response = client.post("/open311/v2/requests.json", data)
    assert response.status_code == 200, response.content
    _assert_not_forged(world, Case.objects.get(), reporter=None, channel=Channel.OPEN311)


def test_an_open311_update_cannot_set_the_status(world: World, client: Client) -> None:
    _client, key = client_create(name="伪造字段测试")
    case = services.report_submit(reporter=None, description="路口的井盖缺失了，晚上很危险", address="金业路 1 号")
    response = client.post("/open311/v2/servicerequestupdates.json", {
        "api_key": key, "service_request_id": case.number, "status": "closed", "description": "已处理",
        "updated_datetime": "2026-01-01T00:00:00+08:00", "update_id": "u1", **_forged(world),
    })
    assert response.status_code == 200, response.content
    after = Case.objects.get(pk=case.pk)
    assert (after.status, after.region_id, after.assigned_unit_id) == (case.status, case.region_id, None)


def _reported(world: World) -> Case:
    lat, lng = inside(world.grid_a1)
    return services.report_submit(reporter=None, description="路口的井盖缺失了，晚上很危险", lat=lat, lng=lng)


def test_mass_assignment_on_a_console_action(world: World, client: Client) -> None:
    case = _reported(world)
    client.force_login(world.user("town_dispatcher"))
    response = client.post(reverse("cases:act", args=[case.pk, "accept"]), {"reason": "受理", **_forged(world)})
    assert response.status_code in (200, 302)
    after = Case.objects.get(pk=case.pk)
    assert after.status == CaseStatus.ACCEPTED  # what the action does, and nothing of the forged fields
    assert (after.region_id, after.assigned_unit_id, after.handler_id, after.reporter_id) == (
        case.region_id, None, None, None)
    assert after.channel == case.channel and after.number == case.number


def test_mass_assignment_on_an_api_action(world: World, client: Client) -> None:
    case = _reported(world)
    client.force_login(world.user("town_dispatcher"))
    forged: dict[str, Any] = {**_forged(world), "version": 99}
    response = client.post(f"/api/v1/cases/{case.pk}/accept", forged, content_type="application/json")
    assert response.status_code in (200, 400, 422), response.content
    after = Case.objects.get(pk=case.pk)
    assert after.status in (CaseStatus.REPORTED, CaseStatus.ACCEPTED)
    assert (after.region_id, after.assigned_unit_id, after.handler_id, after.reporter_id) == (
        case.region_id, None, None, None)
    assert after.channel == case.channel and after.warning == WarningLevel.NONE


# --- 4. stored XSS in staff pages, JSON, exports and PDFs ---------------------------------------------------


@pytest.fixture
def hostile(world: World) -> Case:
    lat, lng = inside(world.grid_a1)
    case = services.report_submit(
        reporter=world.user("citizen"), title=XSS_TITLE, description=XSS_TEXT, address=XSS_ADDRESS, lat=lat, lng=lng,
    )
    # A red card this month, so that the monthly circular lists it.
    CaseEvent.objects.create(case=case, action=CaseAction.DISPATCH, from_status=CaseStatus.REGISTERED,
                             to_status=CaseStatus.DISPATCHED, unit=world.village_a1_committee)
    CaseEvent.objects.create(case=case, action=CaseAction.WARN_RED, from_status=CaseStatus.DISPATCHED,
                             to_status=CaseStatus.DISPATCHED, unit=world.village_a1_committee)
    return case


@pytest.mark.parametrize("page", ["cases:queue", "cases:list", "cases:detail", "insight:cases", "command:circular"])
def test_markup_typed_by_citizens_is_text_in_staff_pages(world: World, client: Client, hostile: Case,
                                                         page: str) -> None:
    client.force_login(world.user("town_dispatcher"))
    url = reverse(page, args=[hostile.pk]) if page == "cases:detail" else reverse(page)
    body = client.get(url).content.decode()
    for raw in RAW_MARKUP:
        assert raw not in body, (page, raw)
    if page in ("cases:list", "cases:detail", "insight:cases"):
        assert "&lt;svg onload=alert(1)&gt;" in body


def test_markup_is_text_in_the_dashboards_json(world: World, client: Client, hostile: Case) -> None:
    client.force_login(world.user("town_dispatcher"))
    response = client.get(reverse("insight:data"), {"latest": "1"})
    assert response["Content-Type"].startswith("application/json")
    latest = response.json()["latest"]
    assert latest[0]["title"] == XSS_TITLE  # data, for the page to put in as text (textContent)


def test_markup_and_formulas_stay_text_in_the_circular_export(world: World, client: Client, hostile: Case) -> None:
    Case.objects.filter(pk=hostile.pk).update(title="=HYPERLINK(\"http://evil.example\",\"点我\")")
    client.force_login(world.user("town_dispatcher"))
    response = client.get(reverse("command:circular_xlsx"))
    book = load_workbook(io.BytesIO(response.content))
    texts = [str(v) for ws in book.worksheets for r in ws.iter_rows(values_only=True) for v in r if v is not None]
    assert "'=HYPERLINK(\"http://evil.example\",\"点我\")" in texts
    assert not any(t.startswith(("=", "+", "-", "@", "\t", "\r")) for t in texts)


def test_markup_in_a_briefing_pdf_makes_no_link(world: World, hostile: Case) -> None:
    from sizhi.insight import briefings
    from sizhi.insight.models import BriefingPeriod

    period = briefings.period_for(BriefingPeriod.DAILY)
    yesterday_noon = period.start_at + timedelta(hours=12)
    Case.objects.filter(pk=hostile.pk).update(
        created_at=yesterday_noon, due_at=yesterday_noon, warning=WarningLevel.RED, status=CaseStatus.HANDLING,
        assigned_unit=world.district_a_dept,
        title='<a href="javascript:alert(1)">点我</a><font color="red">红</font>',
    )
    briefing = briefings.generate(world.town_a, BriefingPeriod.DAILY, period)
    listed = [v for t in briefings.tables(briefing) for row in t.rows for v in row]
    assert any("javascript:alert(1)" in str(v) for v in listed)  # the title is in the briefing
    pdf = briefings.briefing_pdf(briefing)
    assert pdf.startswith(b"%PDF")
    # Escaped markup is text: an unescaped <a href> would have become a link annotation.
    assert b"/URI" not in pdf and b"javascript" not in pdf


# --- 5. SQL through sort and filter parameters ---------------------------------------------------------------

INJECTIONS = ["pg_sleep(5)", "created_at; SELECT pg_sleep(5)--", "-id,(SELECT 1)", "number' OR '1'='1",
              "randomblob(1000000000)", "__class__"]


@pytest.mark.parametrize("value", INJECTIONS)
def test_api_ordering_is_allow_listed(world: World, client: Client, value: str) -> None:
    _reported(world)
    client.force_login(world.user("town_dispatcher"))
    started = time.monotonic()
    response = client.get("/api/v1/cases", {"ordering": value})
    assert time.monotonic() - started < 2
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ordering_invalid"


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("page", ["cases:list", "insight:cases"])
def test_console_ordering_and_filters_fall_back_to_the_allow_list(world: World, client: Client, value: str,
                                                                 page: str) -> None:
    case = _reported(world)
    client.force_login(world.user("town_dispatcher"))
    started = time.monotonic()
    response = client.get(reverse(page), {"ordering": value, "status": value, "warning": value, "category": value,
                                          "region": value, "period": value, "channel": value})
    assert time.monotonic() - started < 2
    assert response.status_code in (200, 400)
    if response.status_code == 200 and page == "cases:list":
        assert reverse("cases:detail", args=[case.pk]) in response.content.decode()


@pytest.mark.parametrize("params", [
    {"status": "reported' OR '1'='1"}, {"category": "1 OR 1=1"}, {"created_from": "2026-01-01'; DROP TABLE x;--"},
    {"created_to": "pg_sleep(5)"}, {"q": "%' OR 1=1 --"}, {"page": "1; SELECT pg_sleep(5)"},
])
def test_api_filters_are_typed_and_search_is_a_plain_string(world: World, client: Client,
                                                           params: dict[str, str]) -> None:
    _reported(world)
    client.force_login(world.user("grid_worker_b"))  # sees none of these cases
    started = time.monotonic()
    response = client.get("/api/v1/cases", params)
    assert time.monotonic() - started < 2
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert response.json()["results"] == []  # a "1=1" never widens the scope


# --- 12. workflow abuse: reopening does not reset the clock -------------------------------------------------


def test_reopen_and_dispatch_again_keep_the_original_deadline(world: World) -> None:
    u = world.user
    case = _reported(world)
    services.case_accept(case=case, actor=u("town_dispatcher"))
    services.case_register(case=case, actor=u("town_dispatcher"), category=world.category)
    services.case_dispatch(case=case, actor=u("town_dispatcher"), unit=world.village_a1_committee)
    first_due = Case.objects.get(pk=case.pk).due_at
    assert first_due is not None
    services.case_sign_for(case=case, actor=u("village_cadre"))
    services.case_handle(case=case, actor=u("village_cadre"), result="已补装井盖")
    services.case_verify(case=case, actor=u("grid_worker"), passed=True)
    services.case_close(case=case, actor=u("town_dispatcher"))
    services.case_rate(case=case, actor=None, satisfaction="unsatisfied", tracking_code=case.tracking_code)
    services.case_reopen(case=case, actor=None, reason="井盖又丢了", tracking_code=case.tracking_code)
    services.case_dispatch(case=case, actor=u("town_dispatcher"), unit=world.village_a1_committee)
    assert Case.objects.get(pk=case.pk).due_at == first_due
