"""一网统管 in the staff console, over HTTP: dispatch with assisting units and a priority, the
承办单位 panel and its 协办完成/免除协办 forms, escalation and delegation between the levels'
queues, extension requests and their approval, suspension, deadlines and warnings in lists and on
the detail page, and the linkage events on the timeline."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sizhi.cases import linkage, services
from sizhi.cases.models import Assignment, Case, ExtensionRequest
from sizhi.cases.workflow import (
    AssignmentRole,
    AssignmentStatus,
    CaseAction,
    CaseStatus,
    Priority,
    WarningLevel,
)
from sizhi.conftest import World, inside
from sizhi.regions.models import RegionLevel
from sizhi.units.services import rule_save
from sizhi.workdays.calendar import add_working_days, add_working_hours

A = CaseAction
S = CaseStatus
SH = ZoneInfo("Asia/Shanghai")


# --- helpers -------------------------------------------------------------------------------------


def submit(world: World, *, grid=None, description: str = "金业路路口井盖缺失，夜间很危险") -> Case:
    lat, lng = inside(grid or world.grid_a1)
    return services.report_submit(reporter=None, description=description, lat=lat, lng=lng, is_anonymous=True)


def registered(world: World, **kwargs) -> Case:
    case = submit(world, **kwargs)
    services.case_accept(case=case, actor=world.user("town_dispatcher"))
    services.case_register(case=case, actor=world.user("town_dispatcher"), category=world.category)
    assert case.status == S.REGISTERED
    return case


def handling(world: World) -> Case:
    case = registered(world)
    services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
    services.case_sign_for(case=case, actor=world.user("village_cadre"))
    return case


def login(client: Client, world: World, who: str) -> Client:
    client.force_login(world.user(who))
    return client


def page(client: Client, case: Case) -> str:
    response = client.get(reverse("cases:detail", args=[case.pk]))
    assert response.status_code == 200
    return response.content.decode()


def act(client: Client, case: Case, action: str, data: dict | None = None):
    return client.post(reverse("cases:act", args=[case.pk, action]), data or {})


def assignment_act(client: Client, case: Case, assignment: Assignment | int, verb: str, data: dict | None = None):
    aid = assignment if isinstance(assignment, int) else assignment.pk
    return client.post(reverse("cases:assignment_act", args=[case.pk, aid, verb]), data or {})


def extension_act(client: Client, case: Case, extension: ExtensionRequest | int, verb: str, data: dict | None = None):
    rid = extension if isinstance(extension, int) else extension.pk
    return client.post(reverse("cases:extension_act", args=[case.pk, rid, verb]), data or {})


def queue_numbers(client: Client) -> str:
    response = client.get(reverse("cases:queue"))
    assert response.status_code == 200
    return response.content.decode()


def error_code(html: str) -> str | None:
    found = re.search(r'data-testid="action-error" data-error-code="([^"]+)"', html)
    return found.group(1) if found else None


def unchanged(case: Case) -> bool:
    before = (case.status, case.version, case.events.count())
    fresh = Case.objects.get(pk=case.pk)
    return (fresh.status, fresh.version, fresh.events.count()) == before


@contextmanager
def frozen(moment: dt.datetime) -> Iterator[None]:
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


# --- dispatch with assisting units -------------------------------------------------------------


def test_dispatch_form_offers_assisting_units_from_the_same_list_and_a_priority(world: World, client: Client) -> None:
    case = registered(world)
    login(client, world, "district_dispatcher")
    response = client.get(reverse("cases:detail", args=[case.pk]))
    form = response.context["panels"]["dispatch"]
    lead = set(form.fields["unit"].queryset.values_list("pk", flat=True))
    assists = set(form.fields["assist_units"].queryset.values_list("pk", flat=True))
    assert lead == assists == {
        world.district_a_centre.pk, world.district_a_dept.pk, world.town_a_centre.pk, world.village_a1_committee.pk,
    }
    html = response.content.decode()
    for hook in (
        'id="id_dispatch_unit"', 'id="id_dispatch_assist_units"', 'data-testid="dispatch-assist_units"',
        'id="id_dispatch_priority"', 'data-testid="dispatch-priority"', 'id="id_dispatch_reason"',
    ):
        assert hook in html, hook
    assert re.search(r'<select name="assist_units"[^>]*multiple', html)
    assert '<option value="normal" selected>一般</option>' in html


def test_dispatch_with_an_assist_blocks_handling_until_the_assist_finishes(world: World, client: Client) -> None:
    case = registered(world)
    login(client, world, "district_dispatcher")
    response = act(client, case, A.DISPATCH, {
        "unit": world.village_a1_committee.pk, "assist_units": [world.district_a_dept.pk],
        "priority": Priority.URGENT, "reason": "请社区主办，城管局协办",
    })
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.DISPATCHED and case.priority == Priority.URGENT
    lead = case.assignments.get(role=AssignmentRole.LEAD)
    assist = case.assignments.get(role=AssignmentRole.ASSIST)
    assert (lead.unit, assist.unit) == (world.village_a1_committee, world.district_a_dept)

    html = page(client, case)
    panel = html[html.index('data-testid="assignments"'):]
    assert panel.count('data-testid="assignment"') == 2
    assert "金业路社区居委会" in panel and "老城区城市管理局" in panel and "主办" in panel and "协办" in panel
    assert 'data-testid="field-priority" data-priority="urgent">紧急<' in html
    # The dispatcher may waive the assist but is not a member of the assisting unit.
    assert f'id="action-form-assist_waive-{assist.pk}"' in html
    assert f'id="action-form-assist_finish-{assist.pk}"' not in html

    # The assisting unit finds the case in its queue.
    login(client, world, "department_handler")
    assert case.number in queue_numbers(client)

    login(client, world, "village_cadre")
    assert act(client, case, A.SIGN_FOR).status_code == 302
    html = page(client, case)
    assert f'id="action-form-assist_finish-{assist.pk}"' not in html  # another unit's task
    response = act(client, case, A.HANDLE, {"result": "已补装井盖"})
    assert response.status_code == 400
    html = response.content.decode()
    assert error_code(html) == "assists_pending"
    assert "协办单位尚未完成：老城区城市管理局" in html
    assert "已补装井盖" in html  # what was typed comes back
    assert assignment_act(client, case, assist, "finish", {"result": "不是我们的"}).status_code == 403
    case.refresh_from_db()
    assert case.status == S.HANDLING

    login(client, world, "department_handler")
    html = page(client, case)
    assert f'id="action-form-assist_finish-{assist.pk}"' in html
    assert f'id="id_assist_finish_{assist.pk}_result"' in html
    assert f'id="action-form-assist_waive-{assist.pk}"' not in html
    response = assignment_act(client, case, assist, "finish", {"result": " "})
    assert response.status_code == 400
    assert f'data-testid="action-form-assist_finish-{assist.pk}"' in response.content.decode()
    assert 'data-testid="assist_finish-error-result"' in response.content.decode()
    response = assignment_act(client, case, assist, "finish", {"result": "已配合清理渣土"})
    assert response.status_code == 302 and response["Location"] == reverse("cases:detail", args=[case.pk])
    assist.refresh_from_db()
    assert assist.status == AssignmentStatus.DONE and assist.result == "已配合清理渣土"
    html = page(client, case)
    assert "协办任务已完成。" in html
    assert case.number not in queue_numbers(client)  # nothing left for the assisting unit
    assert f'id="action-form-assist_finish-{assist.pk}"' not in html
    event = html[html.index('data-action="assist_finish"'):]
    assert "协办单位：老城区城市管理局" in event[: event.index("</li>")]

    login(client, world, "village_cadre")
    assert act(client, case, A.HANDLE, {"result": "已补装井盖"}).status_code == 302
    case.refresh_from_db()
    assert case.status == S.VERIFYING


def test_a_dispatcher_waives_an_assist_and_the_lead_may_finish(world: World, client: Client) -> None:
    case = registered(world)
    login(client, world, "town_dispatcher")
    response = act(client, case, A.DISPATCH, {
        "unit": world.village_a1_committee.pk, "assist_units": [world.town_a_centre.pk, world.village_a1_committee.pk],
    })
    assert response.status_code == 302
    assist = case.assignments.get(role=AssignmentRole.ASSIST)  # the lead is never its own assist
    assert assist.unit == world.town_a_centre
    case.refresh_from_db()
    services.case_sign_for(case=case, actor=world.user("village_cadre"))

    login(client, world, "village_cadre")
    assert assignment_act(client, case, assist, "waive", {"reason": "不需要"}).status_code == 403

    login(client, world, "town_dispatcher")
    response = assignment_act(client, case, assist, "waive", {"reason": ""})
    assert response.status_code == 400
    assert 'data-testid="assist_waive-error-reason"' in response.content.decode()
    assert Assignment.objects.get(pk=assist.pk).status == AssignmentStatus.PENDING
    assert assignment_act(client, case, assist, "waive", {"reason": "社区已能独立处置"}).status_code == 302
    assert Assignment.objects.get(pk=assist.pk).status == AssignmentStatus.WAIVED
    # A second waiver of the same task is refused by the service, shown on the page.
    response = assignment_act(client, case, assist, "waive", {"reason": "再次免除"})
    assert response.status_code == 400
    assert error_code(response.content.decode()) == "assignment_not_active"

    login(client, world, "village_cadre")
    assert act(client, case, A.HANDLE, {"result": "已补装井盖"}).status_code == 302


def test_the_lead_assignment_has_no_assist_forms(world: World, client: Client) -> None:
    case = handling(world)
    lead = case.assignments.get()
    login(client, world, "town_dispatcher")
    html = page(client, case)
    assert 'data-testid="assignment-actions"' not in html
    assert 'data-role="lead" data-status="signed"' in html
    response = assignment_act(client, case, lead, "waive", {"reason": "免除主办"})
    assert response.status_code == 400
    assert error_code(response.content.decode()) == "assignment_not_active"
    assert Assignment.objects.get(pk=lead.pk).status == AssignmentStatus.SIGNED


# --- escalate and delegate -----------------------------------------------------------------------


def test_escalation_moves_the_case_from_the_town_queue_to_the_district_queue(world: World, client: Client) -> None:
    case = registered(world)
    login(client, world, "district_dispatcher")
    assert case.number not in queue_numbers(client)
    assert 'data-testid="action-form-escalate"' not in page(client, case)  # the town manages it

    login(client, world, "town_dispatcher")
    assert case.number in queue_numbers(client)
    html = page(client, case)
    assert 'id="action-form-escalate"' in html and 'id="id_escalate_reason"' in html
    assert "将上报至区/县指挥中心。" in html
    assert 'action-form-delegate' not in html  # nothing below the town for a village's case
    response = act(client, case, A.ESCALATE, {"reason": ""})
    assert response.status_code == 400 and unchanged(case)
    response = act(client, case, A.ESCALATE, {"reason": "涉及多个街道，超出街道权限"})
    assert response.status_code == 302

    case.refresh_from_db()
    assert (case.status, case.level) == (S.REGISTERED, RegionLevel.DISTRICT)
    assert case.number not in queue_numbers(client)
    html = page(client, case)
    assert 'data-testid="field-level" data-level="district">区/县<' in html
    event = html[html.index('data-action="escalate"'):]
    assert "由乡镇/街道上报至区/县" in event[: event.index("</li>")]

    login(client, world, "district_dispatcher")
    assert case.number in queue_numbers(client)
    login(client, world, "city_dispatcher")
    assert case.number not in queue_numbers(client)


def test_a_unit_escalates_a_case_it_is_handling(world: World, client: Client) -> None:
    case = handling(world)
    login(client, world, "village_cadre")
    assert act(client, case, A.ESCALATE, {"reason": "需要大型机械"}).status_code == 302
    case.refresh_from_db()
    assert (case.status, case.level, case.assigned_unit) == (S.REGISTERED, RegionLevel.DISTRICT, None)
    assert case.assignments.get().status == AssignmentStatus.ESCALATED
    html = page(client, case)
    assert 'data-status="escalated"' in html and "已上报" in html


def test_delegation_sends_the_case_back_down_to_the_town_queue(world: World, client: Client) -> None:
    case = registered(world)
    linkage.case_escalate(case=case, actor=world.user("town_dispatcher"), reason="涉及多个街道")

    login(client, world, "district_dispatcher")
    response = client.get(reverse("cases:detail", args=[case.pk]))
    choices = list(response.context["panels"]["delegate"].fields["level"].choices)
    assert choices == [(RegionLevel.TOWN, "乡镇/街道")]  # never below the town for a village's case
    html = response.content.decode()
    assert 'id="id_delegate_level"' in html and 'data-testid="delegate-reason"' in html

    response = act(client, case, A.DELEGATE, {"level": RegionLevel.VILLAGE, "reason": "请村里办"})
    assert response.status_code == 400
    assert 'data-testid="delegate-error-level"' in response.content.decode()
    assert unchanged(case)
    assert act(client, case, A.DELEGATE, {"level": RegionLevel.TOWN, "reason": ""}).status_code == 400

    response = act(client, case, A.DELEGATE, {"level": RegionLevel.TOWN, "reason": "请街道牵头办理"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.level) == (S.REGISTERED, RegionLevel.TOWN)
    assert case.number not in queue_numbers(client)
    html = page(client, case)
    event = html[html.index('data-action="delegate"'):]
    assert "由区/县下派至乡镇/街道" in event[: event.index("</li>")]

    login(client, world, "town_dispatcher")
    assert case.number in queue_numbers(client)


def test_escalation_is_not_offered_at_the_top_level(world: World, client: Client) -> None:
    case = registered(world)
    Case.objects.filter(pk=case.pk).update(level=RegionLevel.CITY)
    login(client, world, "city_dispatcher")
    html = page(client, case)
    assert "action-form-escalate" not in html
    assert 'id="action-form-delegate"' in html
    response = client.get(reverse("cases:detail", args=[case.pk]))
    choices = [value for value, _label in response.context["panels"]["delegate"].fields["level"].choices]
    assert choices == [RegionLevel.DISTRICT, RegionLevel.TOWN]
    # A forged POST reaches the service, which refuses it with its own code.
    response = act(client, case, A.ESCALATE, {"reason": "再上报"})
    assert response.status_code == 400
    assert error_code(response.content.decode()) == "case_escalate_top_level"


# --- extensions ----------------------------------------------------------------------------------


def test_extension_request_and_approval_move_the_deadline(world: World, client: Client) -> None:
    case = handling(world)
    before = case.due_at
    assert before is not None

    login(client, world, "village_cadre")
    html = page(client, case)
    assert 'id="id_extend_request_days"' in html and 'data-testid="extend_request-reason"' in html
    for days in ("0", "61", "三"):
        response = act(client, case, A.EXTEND_REQUEST, {"days": days, "reason": "等待配件"})
        assert response.status_code == 400
        assert 'data-testid="extend_request-error-days"' in response.content.decode()
    assert act(client, case, A.EXTEND_REQUEST, {"days": "3", "reason": ""}).status_code == 400
    assert not ExtensionRequest.objects.exists()

    response = act(client, case, A.EXTEND_REQUEST, {"days": "3", "reason": "等待井盖配件到货"})
    assert response.status_code == 302
    extension = ExtensionRequest.objects.get(case=case)
    html = page(client, case)
    assert "延期申请已提交，等待调度员审批。" in html
    panel = html[html.index('data-testid="extensions"'):]
    assert 'data-status="pending"' in panel and "延期 3 个工作日" in panel and "等待井盖配件到货" in panel
    assert "action-form-extend_decide" not in html  # the unit does not decide its own request
    response = act(client, case, A.EXTEND_REQUEST, {"days": "2", "reason": "再申请"})
    assert response.status_code == 400
    assert error_code(response.content.decode()) == "extension_pending"
    assert extension_act(client, case, extension, "approve").status_code == 403

    login(client, world, "town_dispatcher")
    html = page(client, case)
    assert f'id="action-form-extend_decide-{extension.pk}"' in html
    assert f'id="id_extend_decide_{extension.pk}_note"' in html
    assert f'data-testid="action-submit-extend_approve-{extension.pk}"' in html
    assert f'data-testid="action-submit-extend_reject-{extension.pk}"' in html
    response = extension_act(client, case, extension, "approve", {"note": "同意延期"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.due_at == add_working_days(before, 3)
    extension.refresh_from_db()
    assert (extension.status, extension.decision_note) == ("approved", "同意延期")
    html = page(client, case)
    assert "已批准延期。" in html
    assert "action-form-extend_decide" not in html
    assert f'data-testid="field-due-at">{case.due_at.astimezone(SH):%Y-%m-%d %H:%M}<' in html
    event = html[html.index('data-action="extend_approve"'):]
    assert "批准延期 3 个工作日" in event[: event.index("</li>")]

    # Deciding again is refused by the service.
    response = extension_act(client, case, extension, "reject")
    assert response.status_code == 400
    assert error_code(response.content.decode()) == "extension_already_decided"


def test_a_refused_extension_leaves_the_deadline(world: World, client: Client) -> None:
    case = handling(world)
    before = case.due_at
    extension = linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=5, reason="人手不足")
    login(client, world, "town_dispatcher")
    assert extension_act(client, case, extension, "reject", {"note": "请加派人手"}).status_code == 302
    case.refresh_from_db()
    assert case.due_at == before
    assert ExtensionRequest.objects.get(pk=extension.pk).status == "rejected"
    html = page(client, case)
    assert "已驳回延期申请。" in html
    assert "请加派人手" in html
    event = html[html.index('data-action="extend_reject"'):]
    assert "驳回延期 5 个工作日的申请" in event[: event.index("</li>")]


# --- suspend and resume --------------------------------------------------------------------------


def test_suspension_stops_the_clock_and_resumption_restarts_it(world: World, client: Client) -> None:
    with frozen(dt.datetime(2026, 11, 23, 10, tzinfo=SH)):  # Monday
        case = handling(world)
    due = case.due_at
    login(client, world, "village_cadre")
    assert "action-form-suspend" not in page(client, case)  # the dispatcher decides
    assert act(client, case, A.SUSPEND, {"reason": "等待鉴定"}).status_code == 403

    login(client, world, "town_dispatcher")
    assert act(client, case, A.SUSPEND, {"reason": ""}).status_code == 400
    with frozen(dt.datetime(2026, 11, 24, 9, tzinfo=SH)):  # Tuesday 09:00
        response = act(client, case, A.SUSPEND, {"reason": "等待司法鉴定结果"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.SUSPENDED
    html = page(client, case)
    assert 'id="action-form-resume"' in html and 'id="id_resume_reason"' in html
    assert "计时暂停" in html and 'data-testid="field-suspended"' in html

    login(client, world, "village_cadre")
    html = page(client, case)
    assert "action-form-handle" not in html
    assert act(client, case, A.HANDLE, {"result": "已修复"}).status_code == 409

    login(client, world, "town_dispatcher")
    with frozen(dt.datetime(2026, 11, 25, 9, tzinfo=SH)):  # Wednesday 09:00: 7 office hours later
        response = act(client, case, A.RESUME)
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.HANDLING and case.suspended_at is None
    assert due is not None and case.due_at == add_working_hours(due, 7)
    html = page(client, case)
    event = html[html.index('data-action="resume"'):]
    assert "缓办 7 工作小时，各项时限相应顺延" in event[: event.index("</li>")]


# --- deadlines, warnings, ruling -----------------------------------------------------------------


def test_deadline_column_shows_remaining_and_overdue_working_hours(world: World, client: Client) -> None:
    now = dt.datetime(2026, 11, 25, 10, tzinfo=SH)  # Wednesday 10:00
    with frozen(now - dt.timedelta(days=2)):
        soon, late = handling(world), handling(world)
    Case.objects.filter(pk=soon.pk).update(due_at=add_working_hours(now, 10))
    # Tuesday 16:00 → Wednesday 10:00 is 2 + 1.5 office hours.
    Case.objects.filter(pk=late.pk).update(due_at=dt.datetime(2026, 11, 24, 16, tzinfo=SH), warning=WarningLevel.RED)
    waiting = submit(world)
    login(client, world, "town_dispatcher")
    with frozen(now):
        html = client.get(reverse("cases:list")).content.decode()

    def row(case: Case) -> str:
        start = html.index(f'data-case-number="{case.number}"')
        return html[start: html.index("</tr>", start)]

    assert 'data-testid="case-time-left">剩余 10 工作小时<' in row(soon)
    assert 'data-warning="none"' in row(soon) and 'data-testid="case-warning"' not in row(soon)
    late_row = row(late)
    assert "超期 4 工作小时" in late_row and "is-overdue" in late_row
    assert 'data-testid="case-warning" data-warning="red"' in late_row and "红牌" in late_row
    assert 'data-testid="case-deadline" data-warning="none"><span class="muted">—</span>' in row(waiting)

    with frozen(now):
        detail = page(client, late)
    assert 'data-testid="field-time-left">超期 4 工作小时<' in detail
    assert "2026-11-24 16:00" in detail


def test_list_filters_by_warning(world: World, client: Client) -> None:
    red, yellow, calm = handling(world), handling(world), handling(world)
    Case.objects.filter(pk=red.pk).update(warning=WarningLevel.RED)
    Case.objects.filter(pk=yellow.pk).update(warning=WarningLevel.YELLOW)
    login(client, world, "town_dispatcher")

    def listed(**params: str) -> set[str]:
        html = client.get(reverse("cases:list"), params).content.decode()
        return set(re.findall(r'data-case-number="([^"]+)"', html))

    assert listed(warning="red") == {red.number}
    assert listed(warning="yellow") == {yellow.number}
    assert listed(warning="none") == {calm.number}
    assert listed(warning="purple") == listed() == {red.number, yellow.number, calm.number}
    html = client.get(reverse("cases:list"), {"warning": "yellow"}).content.decode()
    assert 'id="id_filter_warning"' in html and '<option value="yellow" selected>' in html
    assert 'data-testid="case-warning" data-warning="yellow"' in html and "黄牌" in html


def test_returns_up_to_a_ruling_show_the_count_and_the_badge(world: World, client: Client, settings) -> None:
    settings.SIZHI_RETURNS_BEFORE_RULING = 2
    case = registered(world)
    login(client, world, "town_dispatcher")
    html = page(client, case)
    assert 'data-testid="field-returns">0<' in html and 'data-testid="case-needs-ruling"' not in html
    for unit, member in [(world.village_a1_committee, "village_cadre"), (world.town_a_centre, "town_dispatcher")]:
        services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=unit)
        login(client, world, member)
        assert act(client, case, A.RETURN, {"reason": "不属于本单位职责"}).status_code == 302
        case.refresh_from_db()
    assert (case.return_count, case.needs_ruling, case.level) == (2, True, RegionLevel.DISTRICT)

    login(client, world, "district_dispatcher")
    assert case.number in queue_numbers(client)
    html = page(client, case)
    assert 'data-testid="case-needs-ruling"' in html and "待裁定" in html
    assert 'data-testid="field-returns">2 <span class="badge badge-ruling">' in html
    returns = [m.start() for m in re.finditer('data-action="return"', html)]
    last = html[returns[-1]:]
    assert "退回次数已达上限，提请指挥中心裁定" in last[: last.index("</li>")]
    login(client, world, "town_dispatcher")
    assert case.number not in queue_numbers(client)


# --- timeline ------------------------------------------------------------------------------------


def test_timeline_shows_system_dispatch_assists_and_local_deadlines(world: World, client: Client) -> None:
    rule_save(category=world.category, level=RegionLevel.VILLAGE, lead_unit_name="金业路社区居委会")
    case = submit(world)
    services.case_accept(case=case, actor=world.user("town_dispatcher"))
    with frozen(dt.datetime(2026, 11, 27, 2, tzinfo=dt.UTC)):  # Friday 10:00 in Shanghai
        services.case_register(case=case, actor=world.user("town_dispatcher"), category=world.category)
    case.refresh_from_db()
    assert case.status == S.DISPATCHED
    services.case_return(case=case, actor=world.user("village_cadre"), reason="需要协同")
    with frozen(dt.datetime(2026, 11, 30, 2, tzinfo=dt.UTC)):  # Monday 10:00 in Shanghai
        services.case_dispatch(
            case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee,
            assist_units=[world.town_a_centre],
        )
    login(client, world, "town_dispatcher")
    html = page(client, case)
    items = [html[m.start(): html.index("</li>", m.start())] for m in re.finditer('data-action="dispatch"', html)]
    auto, manual = items
    assert 'data-testid="timeline-actor">系统' in auto
    assert "按权责清单自动派遣" in auto and "派遣至：金业路社区居委会" in auto
    assert "办理时限 2026-12-04 23:59" in auto  # five working days, Asia/Shanghai
    assert "派遣至：金业路社区居委会；协办：西关街道综治中心" in manual
    assert "签收时限 2026-11-30 16:30" in manual  # four office hours from Monday 10:00
    assert 'data-testid="timeline-actor">town_dispatcher' in manual

    Case.objects.filter(pk=case.pk).update(due_at=dt.datetime(2026, 1, 5, 18, tzinfo=SH))
    from sizhi.cases.deadlines import sweep_warnings

    assert sweep_warnings().red == 1
    html = page(client, case)
    red = html[html.index('data-action="warn_red"'):]
    red = red[: red.index("</li>")]
    assert 'data-testid="timeline-actor">系统' in red and "办结时限 2026-01-05 18:00" in red


# --- scope and endpoints -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["town_dispatcher_b", "grid_worker_b"])
def test_new_endpoints_answer_404_outside_scope(world: World, client: Client, who: str) -> None:
    case = handling(world)
    extension = linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=2, reason="等待配件")
    assignment = case.assignments.get()
    login(client, world, who)
    for verb in ("finish", "waive"):
        assert assignment_act(client, case, assignment, verb, {"result": "x", "reason": "x"}).status_code == 404
    for verb in ("approve", "reject"):
        assert extension_act(client, case, extension, verb).status_code == 404
    for action in (A.ESCALATE, A.EXTEND_REQUEST, A.SUSPEND):
        assert act(client, case, action, {"reason": "x", "days": "2"}).status_code == 404
    assert unchanged(case)
    assert ExtensionRequest.objects.get(pk=extension.pk).status == "pending"


def test_objects_must_belong_to_the_case_and_verbs_are_allow_listed(world: World, client: Client) -> None:
    case = handling(world)
    other = handling(world)
    extension = linkage.case_extend_request(case=other, actor=world.user("village_cadre"), days=2, reason="等待配件")
    foreign = other.assignments.get()
    login(client, world, "town_dispatcher")
    assert assignment_act(client, case, foreign, "waive", {"reason": "x"}).status_code == 404
    assert extension_act(client, case, extension, "approve").status_code == 404
    own = case.assignments.get()
    for verb in ("delete", "sign", "approve", "FINISH"):
        assert assignment_act(client, case, own, verb, {"reason": "x"}).status_code == 404
    assert extension_act(client, other, extension, "waive").status_code == 404
    assert assignment_act(client, case, 10**30, "waive").status_code == 404
    assert extension_act(client, case, 10**30, "approve").status_code == 404
    assert client.get(reverse("cases:assignment_act", args=[case.pk, own.pk, "waive"])).status_code == 405
    assert client.get(reverse("cases:extension_act", args=[other.pk, extension.pk, "approve"])).status_code == 405
    assert unchanged(case) and unchanged(other)
    assert ExtensionRequest.objects.get(pk=extension.pk).status == "pending"


def test_new_endpoints_refuse_citizens_and_send_visitors_to_log_in(world: World, client: Client) -> None:
    case = handling(world)
    extension = linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=2, reason="等待配件")
    urls = [
        reverse("cases:assignment_act", args=[case.pk, case.assignments.get().pk, "waive"]),
        reverse("cases:extension_act", args=[case.pk, extension.pk, "approve"]),
    ]
    for url in urls:
        response = client.post(url, {"reason": "x"})
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    login(client, world, "citizen")
    for url in urls:
        assert client.post(url, {"reason": "x"}).status_code == 403
    assert unchanged(case)


def test_an_extension_decision_after_the_case_moved_on_is_refused_with_409(world: World, client: Client) -> None:
    case = handling(world)
    extension = linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=2, reason="等待配件")
    services.case_handle(case=case, actor=world.user("village_cadre"), result="已修复")
    login(client, world, "town_dispatcher")
    assert "action-form-extend_decide" not in page(client, case)
    response = extension_act(client, case, extension, "approve")
    assert response.status_code == 409
    assert error_code(response.content.decode()) == "case_extend_approve_not_allowed"


# --- query counts --------------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("who", ["town_dispatcher", "department_handler", "district_dispatcher"])
def test_list_and_queue_query_counts_stay_bounded_with_assists_and_deadlines(
    world: World, client: Client, django_assert_max_num_queries, who: str
) -> None:
    def make(i: int) -> None:
        case = registered(world, description=f"第{i}件：垃圾未清运")
        if i % 3 == 0:
            linkage.case_escalate(case=case, actor=world.user("town_dispatcher"), reason="上报")
        if i % 2:
            services.case_dispatch(
                case=case, actor=world.user("district_dispatcher"), unit=world.village_a1_committee,
                assist_units=[world.district_a_dept, world.town_a_centre],
            )
        if i % 5 == 0:
            Case.objects.filter(pk=case.pk).update(warning=WarningLevel.YELLOW)

    # The first rows have every kind the pages show: escalated and yellow, dispatched with assists.
    make(0)
    make(1)
    login(client, world, who)
    urls = [reverse("cases:list"), reverse("cases:list") + "?warning=yellow", reverse("cases:queue")]
    with_one = {url: _queries(client, url) for url in urls}
    for i in range(2, 26):
        make(i)
    for url, count in with_one.items():
        with django_assert_max_num_queries(count):
            assert client.get(url).status_code == 200
    queue = client.get(reverse("cases:queue")).content.decode()
    numbers = re.findall(r'data-case-number="([^"]+)"', queue)
    assert len(numbers) == len(set(numbers))  # a case with two assisting units is listed once


def test_detail_query_count_does_not_grow_with_assignments_and_extensions(
    world: World, client: Client, django_assert_max_num_queries
) -> None:
    case = registered(world)
    services.case_dispatch(
        case=case, actor=world.user("district_dispatcher"), unit=world.village_a1_committee,
        assist_units=[world.district_a_dept],
    )
    login(client, world, "district_dispatcher")
    url = reverse("cases:detail", args=[case.pk])
    count = _queries(client, url)
    for _ in range(3):
        services.case_return(case=case, actor=world.user("village_cadre"), reason="退回")
        case.refresh_from_db()
        services.case_dispatch(
            case=case, actor=world.user("district_dispatcher"), unit=world.village_a1_committee,
            assist_units=[world.district_a_dept, world.town_a_centre],
        )
        case.refresh_from_db()
    services.case_sign_for(case=case, actor=world.user("village_cadre"))
    request = linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=2, reason="等待")
    linkage.case_extend_decide(request=request, actor=world.user("district_dispatcher"), approve=False)
    case.refresh_from_db()
    linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=3, reason="再等待")
    # More assignments, events and requests; the page reads each kind once, and the assist
    # forms check memberships that are loaded once per request.
    with django_assert_max_num_queries(count):
        response = client.get(url)
    html = response.content.decode()
    assert html.count('data-testid="assignment"') == 11
    assert html.count('data-testid="extension"') == 2
