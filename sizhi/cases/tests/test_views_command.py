"""The command pages over HTTP: who may enter, what scope they see, the period picker's
validation, the figures' case lists, the .xlsx downloads (and formula injection), the summons
list and supervision orders issued and answered through the console."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from sizhi.cases import services
from sizhi.cases.exports import XLSX_CONTENT_TYPE, safe_text
from sizhi.cases.models import Case, SupervisionOrder, SupervisionStatus
from sizhi.cases.tests.test_evaluation import at, dispatch, end_of, ev, new_case, unit_history
from sizhi.cases.tests.test_services_transitions import advance, reported
from sizhi.cases.workflow import CaseAction, CaseStatus
from sizhi.conftest import World
from sizhi.units.models import HandlingUnit, UnitKind

A = CaseAction
MARCH: dict[str, str] = {"month": "2025-03"}


def as_user(client: Client, world: World, name: str) -> Client:
    client.force_login(world.user(name))
    return client


def rows(html: str, kind: str = "unit") -> set[str]:
    """The data-pk of every ranking row of a kind on the page."""
    return set(re.findall(rf'data-testid="rank-row" data-kind="{kind}" data-pk="(\d+)"', html))


def workbook(response: Any):
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_CONTENT_TYPE
    assert response["Content-Disposition"].startswith("attachment;")
    return load_workbook(io.BytesIO(response.content))


def sheet_rows(ws) -> list[tuple]:
    return [tuple(c.value for c in row) for row in ws.iter_rows()]


# --- access and scope ----------------------------------------------------------------------------


# The three administrator roles get 404 here instead: sizhi/authz/matrix.py (CONSOLE_PAGES).
@pytest.mark.parametrize("name", ["citizen", "citizen2"])
def test_only_case_staff_may_enter(world: World, client: Client, name: str) -> None:
    as_user(client, world, name)
    for url in (reverse("command:ranking"), reverse("command:supervision_list"), reverse("command:circular")):
        response = client.get(url)
        assert response.status_code == 403
        assert 'data-testid="console-forbidden"' in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(world: World, client: Client) -> None:
    response = client.get(reverse("command:ranking"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_ranking_shows_only_units_in_the_viewers_scope(world: World, client: Client) -> None:
    unit_history(world)
    as_user(client, world, "district_dispatcher")  # 老城区
    html = client.get(reverse("command:ranking"), MARCH).content.decode()
    district_a = {world.town_a_centre, world.district_a_centre, world.district_a_dept, world.village_a1_committee}
    assert rows(html) == {str(u.pk) for u in district_a}
    assert str(world.town_b_centre.pk) not in rows(html) and "王城路街道综治中心" not in html
    assert rows(html, "region") == {str(world.town_a.pk)}  # the towns of 老城区
    assert "69.93" in html  # 金业路社区居委会's score

    client.logout()
    as_user(client, world, "town_dispatcher_b")  # 王城路街道, in 西工区
    html = client.get(reverse("command:ranking"), MARCH).content.decode()
    assert rows(html) == {str(world.town_b_centre.pk)}
    assert "金业路社区居委会" not in html

    # Asking for another district's region is refused, not quietly widened.
    response = client.get(reverse("command:ranking"), {**MARCH, "region": str(world.district_a.pk)})
    assert response.status_code == 400
    assert 'data-testid="field-errors-region"' in response.content.decode()


def test_the_leader_sees_the_whole_city(world: World, client: Client) -> None:
    as_user(client, world, "leader")
    html = client.get(reverse("command:ranking"), MARCH).content.decode()
    assert str(world.town_b_centre.pk) in rows(html) and str(world.village_a1_committee.pk) in rows(html)
    assert rows(html, "region") == {str(world.district_a.pk), str(world.district_b.pk)}


def test_a_region_filter_narrows_the_units(world: World, client: Client) -> None:
    as_user(client, world, "leader")
    html = client.get(reverse("command:ranking"), {**MARCH, "region": str(world.town_a.pk)}).content.decode()
    assert rows(html) == {str(world.town_a_centre.pk), str(world.village_a1_committee.pk)}


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2025-13"},
        {"month": "March"},
        {"start": "2025-03-01"},
        {"start": "2025-03-10", "end": "2025-03-01"},
        {"start": "2024-01-01", "end": "2025-03-01"},
        {"start": "1900-01-01", "end": "1900-01-02"},
        {"start": "not-a-date", "end": "2025-03-01"},
        {"region": "abc"},
    ],
)
def test_a_bad_period_is_refused_with_a_message(world: World, client: Client, params: dict[str, str]) -> None:
    as_user(client, world, "district_dispatcher")
    for name in ("ranking", "ranking_xlsx", "summons"):
        response = client.get(reverse(f"command:{name}"), params)
        assert response.status_code == 400, (name, params)
        assert "errors" in response.content.decode()


def test_a_date_range_is_accepted(world: World, client: Client) -> None:
    unit_history(world)
    as_user(client, world, "town_dispatcher")
    response = client.get(reverse("command:ranking"), {"start": "2025-03-01", "end": "2025-03-31"})
    assert response.status_code == 200
    assert "69.93" in response.content.decode()  # the same days as the month


def test_the_ranking_page_draws_the_chart_from_local_echarts(world: World, client: Client) -> None:
    unit_history(world)
    as_user(client, world, "town_dispatcher")
    html = client.get(reverse("command:ranking"), MARCH).content.decode()
    assert '/static/vendor/echarts/dist/echarts.min.js' in html
    assert 'id="score-chart-data"' in html and "金业路社区居委会" in html
    # The console's own entry and the command sub-navigation both mark where we are.
    assert 'data-testid="nav-command" class="is-current"' in html
    assert 'data-testid="nav-command-ranking" class="is-current"' in html
    assert "http://" not in html and "https://" not in html


def test_the_ranking_page_reads_a_fixed_number_of_queries(world: World, client: Client) -> None:
    unit_history(world)
    as_user(client, world, "leader")
    client.get(reverse("command:ranking"), MARCH)  # warm the session and calendar caches
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("command:ranking"), MARCH)
    for n in range(5):
        HandlingUnit.objects.create(name=f"部门{n}", kind=UnitKind.DEPARTMENT, region=world.district_b)
        unit_history(world)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("command:ranking"), MARCH)
    assert len(many) == len(few)


# --- the cases behind a figure -------------------------------------------------------------------


def test_each_figure_links_to_the_cases_behind_it(world: World, client: Client) -> None:
    c = unit_history(world)
    as_user(client, world, "town_dispatcher")
    unit = world.village_a1_committee
    html = client.get(reverse("command:ranking"), MARCH).content.decode()
    link = reverse("command:figure_cases", args=["unit", unit.pk, "due"]) + "?month=2025-03"
    assert f'href="{link}"' in html

    response = client.get(link)
    assert response.status_code == 200
    page = response.content.decode()
    for name in ("c1", "c2", "c3", "c4", "c5", "c7"):
        assert f'data-case-id="{c[name].pk}"' in page
    assert f'data-case-id="{c["c6"].pk}"' not in page

    page = client.get(reverse("command:figure_cases", args=["unit", unit.pk, "overdue"]), MARCH).content.decode()
    assert page.count('data-testid="figure-case-row"') == 1 and f'data-case-id="{c["c2"].pk}"' in page

    region_page = client.get(reverse("command:figure_cases", args=["region", world.town_a.pk, "closed"]), MARCH)
    assert region_page.content.decode().count('data-testid="figure-case-row"') == 4


def test_a_figure_never_lists_a_case_outside_the_viewers_case_scope(world: World, client: Client) -> None:
    # U was dispatched a case that lies in 西工区 (a data error, or a city-wide unit): it counts
    # for U, but a 西关街道 dispatcher may not open it, so the list leaves it out.
    u = world.village_a1_committee
    elsewhere = Case.objects.create(
        number="EVX000001", tracking_code="evx-tracking-000001", title="外区案件", description="外区",
        region=world.village_b1, region_code=world.village_b1.code, status=CaseStatus.DISPATCHED,
    )
    dispatch(elsewhere, u, at(3, 9), sign_due=at(3, 15), due=end_of(10))
    as_user(client, world, "town_dispatcher")
    response = client.get(reverse("command:figure_cases", args=["unit", u.pk, "dispatched"]), MARCH)
    page = response.content.decode()
    assert 'data-testid="figure-count"' in page and "合计 1" in page
    assert "外区案件" not in page and 'data-testid="figure-case-row"' not in page


def test_figures_of_units_and_regions_outside_scope_are_not_found(world: World, client: Client) -> None:
    as_user(client, world, "town_dispatcher")
    url = reverse("command:figure_cases", args=["unit", world.town_b_centre.pk, "dispatched"])
    assert client.get(url, MARCH).status_code == 404
    url = reverse("command:figure_cases", args=["region", world.district_b.pk, "dispatched"])
    assert client.get(url, MARCH).status_code == 404
    url = reverse("command:figure_cases", args=["unit", world.village_a1_committee.pk, "no_such_metric"])
    assert client.get(url, MARCH).status_code == 404
    url = reverse("command:figure_cases", args=["team", world.village_a1_committee.pk, "dispatched"])
    assert client.get(url, MARCH).status_code == 404


def test_supervision_figures_list_the_orders(world: World, client: Client) -> None:
    u = world.village_a1_committee
    order = SupervisionOrder.objects.create(
        unit=u, issued_by=world.user("town_dispatcher"), issuer_level="town", reason="请加快办理",
        respond_by=dt.date(2025, 3, 12), created_at=at(10),
    )
    as_user(client, world, "town_dispatcher")
    url = reverse("command:figure_cases", args=["unit", u.pk, "supervision_open_overdue"])
    page = client.get(url, MARCH).content.decode()
    assert f'data-order-id="{order.pk}"' in page and "请加快办理" in page


# --- downloads -----------------------------------------------------------------------------------


def test_the_ranking_downloads_as_xlsx(world: World, client: Client) -> None:
    unit_history(world)
    as_user(client, world, "town_dispatcher")
    response = client.get(reverse("command:ranking_xlsx"), MARCH)
    wb = workbook(response)
    assert 'filename="ranking-2025-03-410302001000.xlsx"' in response["Content-Disposition"]
    assert wb.sheetnames[0] == "排名"
    table = sheet_rows(wb["排名"])
    header = table[0]
    assert header[:4] == ("排名", "名称", "所在区划", "得分")
    first = dict(zip(header, table[1], strict=True))
    assert first["名称"] == "金业路社区居委会" and first["排名"] == 1
    assert first["得分"] == pytest.approx(69.93)
    assert first["响应率"] == pytest.approx(0.75) and first["按期结案率"] == pytest.approx(0.6)
    second = dict(zip(header, table[2], strict=True))
    assert second["名称"] == "西关街道综治中心" and second["得分"] == "—" and second["响应率"] == "—"
    assert "王城路街道综治中心" not in {row[1] for row in table}


def test_the_circular_page_and_its_xlsx(world: World, client: Client, settings: Any) -> None:
    c = unit_history(world)
    settings.SIZHI_SUMMONS_RETURNS = 2
    SupervisionOrder.objects.create(
        unit=world.village_a1_committee, case=c["c2"], issued_by=world.user("town_dispatcher"),
        issuer_level="town", reason="超期督办", respond_by=dt.date(2025, 3, 14), created_at=at(12, 11),
    )
    as_user(client, world, "town_dispatcher")

    html = client.get(reverse("command:circular"), MARCH).content.decode()
    assert 'data-testid="figure-due">6<' in html
    assert 'data-testid="figure-on-time">60.0%<' in html
    assert f'data-case-id="{c["c2"].pk}"' in html  # red card in March
    assert "超期督办" in html
    assert 'data-testid="circular-summons"' in html and "金业路社区居委会" in html

    wb = workbook(client.get(reverse("command:circular_xlsx"), MARCH))
    assert wb.sheetnames == ["排名", "约谈名单", "超期案件", "督办"]
    assert sheet_rows(wb["约谈名单"])[1][:4] == ("金业路社区居委会", "金业路社区", 1, 2)
    overdue = sheet_rows(wb["超期案件"])
    assert len(overdue) == 2 and overdue[1][0] == c["c2"].number
    orders = sheet_rows(wb["督办"])
    assert orders[1][1:4] == ("金业路社区居委会", c["c2"].number, "超期督办")


def test_the_circular_takes_months_only(world: World, client: Client) -> None:
    as_user(client, world, "town_dispatcher")
    assert client.get(reverse("command:circular"), {"month": "2025-02"}).status_code == 200
    assert client.get(reverse("command:circular"), {"month": "2025-2"}).status_code == 400
    # A date range is no part of the monthly form: it falls back to the month picked.
    response = client.get(reverse("command:circular"), {"start": "2025-03-01", "end": "2025-03-02"})
    assert response.status_code == 200


def test_formula_injection_is_neutralised_in_every_download(world: World, client: Client) -> None:
    evil = HandlingUnit.objects.create(
        name='=HYPERLINK("http://evil.example","点我")', kind=UnitKind.DEPARTMENT, region=world.town_a
    )
    case = new_case(world)
    Case.objects.filter(pk=case.pk).update(title="+SUM(1,2)", region=world.town_a, region_code=world.town_a.code)
    dispatch(case, evil, at(3, 9), sign_due=at(3, 15), due=end_of(10))
    ev(case, evil, A.WARN_RED, at(11, 0, 5))
    ev(case, evil, A.RETURN, at(11, 9))
    as_user(client, world, "town_dispatcher")

    wb = workbook(client.get(reverse("command:ranking_xlsx"), MARCH))
    names = [cell for cell in wb["排名"]["B"]]
    injected = next(cell for cell in names if "HYPERLINK" in str(cell.value))
    assert injected.value == "'" + evil.name and injected.data_type == "s"

    wb = workbook(client.get(reverse("command:circular_xlsx"), MARCH))
    titles = [cell for cell in wb["超期案件"]["B"]][1:]
    assert [(t.value, t.data_type) for t in titles] == [("'+SUM(1,2)", "s")]
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_safe_text_prefixes_what_a_spreadsheet_would_run(text: str) -> None:
    assert safe_text(text) == "'" + text


def test_safe_text_leaves_ordinary_text_and_strips_control_characters() -> None:
    assert safe_text("金业路社区居委会") == "金业路社区居委会"
    assert safe_text("a\x00b\x1fc") == "abc"
    assert safe_text("5-3") == "5-3"


# --- summons -------------------------------------------------------------------------------------


def test_the_summons_page_follows_the_thresholds(world: World, client: Client, settings: Any) -> None:
    unit_history(world)  # 金业路社区居委会: 2 returns, 1 red card in March
    as_user(client, world, "town_dispatcher")
    html = client.get(reverse("command:summons"), MARCH).content.decode()
    assert 'data-testid="rank-empty"' in html and "达到 5 次" in html

    settings.SIZHI_SUMMONS_RETURNS = 2
    html = client.get(reverse("command:summons"), MARCH).content.decode()
    assert rows(html) == {str(world.village_a1_committee.pk)}


# --- supervision ---------------------------------------------------------------------------------


def dispatched_case(world: World) -> Case:
    case = advance(world, reported(world), CaseStatus.REGISTERED)
    services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
    return case


def tomorrow() -> str:
    return (timezone.localdate() + dt.timedelta(days=1)).isoformat()


def test_a_dispatcher_supervises_a_case_by_its_number_and_the_unit_answers(world: World, client: Client) -> None:
    case = dispatched_case(world)
    as_user(client, world, "town_dispatcher")
    form = client.get(reverse("command:supervision_new"), {"case": case.number}).content.decode()
    assert f'value="{case.number}"' in form
    # An <input type="date"> shows only an ISO date: the default answer-by day must be one.
    in_three_days = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    assert f'type="date" name="respond_by" value="{in_three_days}"' in form

    response = client.post(reverse("command:supervision_new"), {
        "case_number": case.number, "reason": "群众多次反映，请加快处置", "respond_by": tomorrow(),
    })
    assert response.status_code == 302 and response["Location"] == reverse("command:supervision_list")
    order = SupervisionOrder.objects.get()
    assert (order.case, order.unit) == (case, world.village_a1_committee)
    assert case.events.filter(action=A.SUPERVISE).exists()

    client.logout()
    as_user(client, world, "village_cadre")
    listing = client.get(reverse("command:supervision_list")).content.decode()
    assert f'data-testid="supervision-open-{order.pk}"' in listing and "回复" in listing
    url = reverse("command:supervision_respond", args=[order.pk])
    assert 'data-testid="supervision-respond-form"' in client.get(url).content.decode()
    response = client.post(url, {"response": "已安排今日修复"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == SupervisionStatus.ANSWERED and order.response == "已安排今日修复"

    response = client.post(url, {"response": "再次回复"})
    assert response.status_code == 400 and "该督办单已回复" in response.content.decode()


def test_a_leader_may_issue_but_not_answer(world: World, client: Client) -> None:
    as_user(client, world, "leader")
    response = client.post(reverse("command:supervision_new"), {
        "unit": world.village_a1_committee.pk, "reason": "请报告本月超期情况", "respond_by": tomorrow(),
    })
    assert response.status_code == 302
    order = SupervisionOrder.objects.get()
    assert order.case is None and order.issuer_level == "city"

    url = reverse("command:supervision_respond", args=[order.pk])
    page = client.get(url).content.decode()
    assert 'data-testid="supervision-respond-form"' not in page
    response = client.post(url, {"response": "代为回复"})
    assert response.status_code == 403 and "只有被督办单位的人员可以回复" in response.content.decode()
    order.refresh_from_db()
    assert order.status == SupervisionStatus.OPEN


def test_supervision_errors_come_back_as_messages(world: World, client: Client) -> None:
    case = dispatched_case(world)
    as_user(client, world, "town_dispatcher")
    url = reverse("command:supervision_new")

    past = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    response = client.post(url, {"case_number": case.number, "reason": "督办", "respond_by": past})
    assert response.status_code == 400 and "回复期限不能早于今天" in response.content.decode()

    response = client.post(url, {"case_number": "LY-NO-SUCH", "reason": "督办", "respond_by": tomorrow()})
    assert response.status_code == 400 and "未找到该案件" in response.content.decode()

    response = client.post(url, {"reason": "督办", "respond_by": tomorrow()})
    assert response.status_code == 400 and "请选择被督办单位" in response.content.decode()

    # A unit outside what this dispatcher may supervise is not even a valid choice.
    response = client.post(url, {"unit": world.town_b_centre.pk, "reason": "督办", "respond_by": tomorrow()})
    assert response.status_code == 400 and "不在您可督办的范围内" in response.content.decode()

    # The case's unit must be the unit supervised: the service says so, the page shows it.
    client.logout()
    as_user(client, world, "district_dispatcher")  # may supervise the town centre, but not about this case
    response = client.post(url, {
        "case_number": case.number, "unit": world.town_a_centre.pk, "reason": "督办", "respond_by": tomorrow(),
    })
    assert response.status_code == 400 and "只能督办案件当前的承办单位" in response.content.decode()
    assert not SupervisionOrder.objects.exists()


def test_a_unit_member_cannot_issue_and_another_district_sees_nothing(world: World, client: Client) -> None:
    case = dispatched_case(world)
    as_user(client, world, "village_cadre")
    html = client.get(reverse("command:supervision_list")).content.decode()
    assert 'data-testid="supervision-new"' not in html
    response = client.post(reverse("command:supervision_new"), {
        "case_number": case.number, "reason": "自己督办自己", "respond_by": tomorrow(),
    })
    assert response.status_code == 403 and not SupervisionOrder.objects.exists()

    client.logout()
    as_user(client, world, "town_dispatcher")
    client.post(reverse("command:supervision_new"), {
        "case_number": case.number, "reason": "督办", "respond_by": tomorrow(),
    })
    order = SupervisionOrder.objects.get()
    client.logout()
    as_user(client, world, "town_dispatcher_b")
    assert 'data-testid="supervision-row"' not in client.get(reverse("command:supervision_list")).content.decode()
    assert client.get(reverse("command:supervision_respond", args=[order.pk])).status_code == 404
