"""一网统管 actions over the API: dispatch with assisting units and priority, escalation and
delegation, the assisting units' tasks, extensions, suspension, 并案, "me too" and public notes.
For each: the happy path, 404 out of scope (and for an object of another case), 403 without the
right, 400 for bad input (the transport's validation_error and the service's own codes), 409 from
the wrong status. Every answer is checked against the OpenAPI document by the client."""

from __future__ import annotations

import uuid

import pytest

from sizhi.accounts import throttle
from sizhi.api.tests.conftest import case_in, dispatched_with_assist, error_code, handling, reported
from sizhi.cases import linkage, services
from sizhi.cases.models import Assignment, Case, CaseEvent, CaseSupporter, ExtensionRequest
from sizhi.cases.workflow import AssignmentRole, CaseStatus, Channel
from sizhi.conftest import World, inside
from sizhi.regions.models import RegionLevel
from sizhi.workdays.calendar import add_working_days

pytestmark = pytest.mark.django_db
S = CaseStatus


def _assist(case: Case) -> Assignment:
    return case.assignments.get(role=AssignmentRole.ASSIST)


# --- dispatch with assisting units and priority ----------------------------------------------------


def test_dispatch_with_assisting_units_and_priority(world: World, as_user) -> None:
    case = case_in(world, S.REGISTERED)
    lead, assist = world.village_a1_committee.pk, world.district_a_dept.pk
    response = as_user("district_dispatcher").post(
        f"/cases/{case.pk}/dispatch",
        {"unit": lead, "assist_units": [assist, lead, assist], "priority": "urgent", "reason": "请协同处置"},
    )
    assert response.status_code == 200, response.content
    body = response.json()["case"]
    assert body["status"] == "dispatched" and body["priority"] == "urgent" and body["priority_label"] == "紧急"
    rows = {(a["unit"]["id"], a["role"], a["status"]) for a in body["assignments"]}
    assert rows == {(lead, "lead", "pending"), (assist, "assist", "pending")}  # the lead is not its own assist
    assert body["due_at"] is not None


def test_dispatch_without_the_new_fields_keeps_the_priority(world: World, as_user) -> None:
    case = case_in(world, S.REGISTERED)
    body = as_user("town_dispatcher").post(f"/cases/{case.pk}/dispatch", {"unit": world.village_a1_committee.pk})
    assert body.json()["case"]["priority"] == "normal"
    assert [a["role"] for a in body.json()["case"]["assignments"]] == ["lead"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"assist_units": [987654]}, "unit_not_found", "assist_units"),
        ({"assist_units": ["5"]}, "validation_error", "assist_units.0"),
        ({"assist_units": [True]}, "validation_error", "assist_units.0"),
        ({"assist_units": 5}, "validation_error", "assist_units"),
        ({"assist_units": list(range(1, 30))}, "validation_error", "assist_units"),
        ({"priority": "bogus"}, "validation_error", "priority"),
    ],
)
def test_dispatch_refuses_bad_assists_and_priorities(
    world: World, as_user, body: dict, code: str, field: str
) -> None:
    case = case_in(world, S.REGISTERED)
    response = as_user("town_dispatcher").post(
        f"/cases/{case.pk}/dispatch", {"unit": world.village_a1_committee.pk, **body}
    )
    assert response.status_code == 400
    assert error_code(response) == code
    assert field in response.json()["error"]["fields"]
    assert Case.objects.get(pk=case.pk).status == S.REGISTERED


def test_dispatch_to_an_assist_out_of_scope_is_the_services_answer(world: World, as_user) -> None:
    case = case_in(world, S.REGISTERED)
    body = {"unit": world.village_a1_committee.pk, "assist_units": [world.district_a_dept.pk]}
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/dispatch", body)
    assert response.status_code == 400
    assert error_code(response) == "dispatch_unit_out_of_scope"
    assert not Assignment.objects.filter(case=case).exists()


# --- escalation ----------------------------------------------------------------------------------


def test_escalate_moves_the_case_up(world: World, as_user) -> None:
    case = case_in(world, S.REGISTERED)
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/escalate", {"reason": "涉及多个街道"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["event"]["action"] == "escalate"
    assert body["case"]["level"] == "district" and body["case"]["status"] == "registered"
    # The town no longer manages it: delegation and dispatch are the district's now.
    assert "escalate" not in body["case"]["allowed_actions"]


def test_escalate_refusals(world: World, as_user) -> None:
    case = case_in(world, S.REGISTERED)
    assert as_user("town_dispatcher_b").post(f"/cases/{case.pk}/escalate", {"reason": "x"}).status_code == 404
    response = as_user("district_dispatcher").post(f"/cases/{case.pk}/escalate", {"reason": "越级"})
    assert response.status_code == 403 and error_code(response) == "case_permission_denied"
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/escalate", {})
    assert response.status_code == 400 and response.json()["error"]["fields"] == {"reason": "此项为必填项。"}
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/escalate", {"reason": " \u200b"})
    assert response.status_code == 400 and error_code(response) == "reason_required"
    Case.objects.filter(pk=case.pk).update(level=RegionLevel.CITY)
    response = as_user("city_dispatcher").post(f"/cases/{case.pk}/escalate", {"reason": "再上报"})
    assert response.status_code == 400 and error_code(response) == "case_escalate_top_level"
    reported_case = reported(world)
    response = as_user("town_dispatcher").post(f"/cases/{reported_case.pk}/escalate", {"reason": "x"})
    assert response.status_code == 409 and error_code(response) == "case_escalate_not_allowed"


# --- delegation ----------------------------------------------------------------------------------


def _escalated(world: World) -> Case:
    case = case_in(world, S.REGISTERED)
    linkage.case_escalate(case=case, actor=world.user("town_dispatcher"), reason="涉及多个街道")
    return case


def test_delegate_hands_the_case_down(world: World, as_user) -> None:
    case = _escalated(world)
    response = as_user("district_dispatcher").post(
        f"/cases/{case.pk}/delegate", {"level": "town", "reason": "请街道牵头办理"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["event"]["action"] == "delegate"
    assert response.json()["case"]["level"] == "town"


@pytest.mark.parametrize(
    ("user", "body", "status", "code"),
    [
        ("town_dispatcher_b", {"level": "town", "reason": "x"}, 404, "not_found"),
        ("town_dispatcher", {"level": "town", "reason": "x"}, 403, "case_permission_denied"),
        ("district_dispatcher", {"level": "village", "reason": "请村里办"}, 400, "case_delegate_level"),
        ("district_dispatcher", {"level": "district", "reason": "原地"}, 400, "case_delegate_level"),
        ("district_dispatcher", {"level": "county", "reason": "x"}, 400, "validation_error"),
        ("district_dispatcher", {"level": "town"}, 400, "validation_error"),
        ("district_dispatcher", {"level": "town", "reason": "  "}, 400, "reason_required"),
    ],
)
def test_delegate_refusals(world: World, as_user, user: str, body: dict, status: int, code: str) -> None:
    case = _escalated(world)
    response = as_user(user).post(f"/cases/{case.pk}/delegate", body)
    assert response.status_code == status
    assert error_code(response) == code
    assert Case.objects.get(pk=case.pk).level == RegionLevel.DISTRICT


def test_delegate_from_the_wrong_status_is_409(world: World, as_user) -> None:
    case = dispatched_with_assist(world)
    Case.objects.filter(pk=case.pk).update(level=RegionLevel.DISTRICT)
    response = as_user("district_dispatcher").post(f"/cases/{case.pk}/delegate", {"level": "town", "reason": "x"})
    assert response.status_code == 409 and error_code(response) == "case_delegate_not_allowed"


# --- assisting units -----------------------------------------------------------------------------


def test_the_assisting_unit_finishes_its_task(world: World, as_user) -> None:
    case = dispatched_with_assist(world)
    assist = _assist(case)
    response = as_user("department_handler").post(
        f"/cases/{case.pk}/assignments/{assist.pk}/finish", {"result": "已配合清理路面"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["event"]["action"] == "assist_finish"
    row = next(a for a in body["case"]["assignments"] if a["id"] == assist.pk)
    assert row["status"] == "done" and row["finished_at"] is not None and row["signed_at"] is not None
    assert Assignment.objects.get(pk=assist.pk).result == "已配合清理路面"


def test_finish_refusals(world: World, as_user) -> None:
    case = dispatched_with_assist(world)
    assist = _assist(case)
    lead = case.assignments.get(role=AssignmentRole.LEAD)
    other = dispatched_with_assist(world)
    path = f"/cases/{case.pk}/assignments/{assist.pk}/finish"
    assert as_user("town_dispatcher_b").post(path, {"result": "x"}).status_code == 404
    # An assignment of another case, through a case one may see: 404 as well.
    response = as_user("department_handler").post(
        f"/cases/{case.pk}/assignments/{_assist(other).pk}/finish", {"result": "x"}
    )
    assert response.status_code == 404
    response = as_user("village_cadre").post(path, {"result": "不是我们的"})
    assert response.status_code == 403 and error_code(response) == "case_permission_denied"
    response = as_user("department_handler").post(path, {})
    assert response.status_code == 400 and set(response.json()["error"]["fields"]) == {"result"}
    response = as_user("department_handler").post(path, {"result": "\x00"})
    assert response.status_code == 400 and error_code(response) == "reason_required"
    response = as_user("village_cadre").post(f"/cases/{case.pk}/assignments/{lead.pk}/finish", {"result": "x"})
    assert response.status_code == 400 and error_code(response) == "assignment_not_active"
    services.case_return(case=case, actor=world.user("village_cadre"), reason="应由城管处理")
    response = as_user("department_handler").post(path, {"result": "x"})
    assert response.status_code == 409 and error_code(response) == "case_assist_finish_not_allowed"


def test_a_dispatcher_waives_an_assisting_unit(world: World, as_user) -> None:
    case = dispatched_with_assist(world)
    assist = _assist(case)
    path = f"/cases/{case.pk}/assignments/{assist.pk}/waive"
    response = as_user("town_dispatcher").post(path, {"reason": "社区已能独立处置"})
    assert response.status_code == 200, response.content
    assert response.json()["event"]["action"] == "assist_waive"
    assert Assignment.objects.get(pk=assist.pk).status == "waived"
    again = as_user("town_dispatcher").post(path, {"reason": "再次"})
    assert again.status_code == 400 and error_code(again) == "assignment_not_active"


def test_waive_refusals(world: World, as_user) -> None:
    case = dispatched_with_assist(world)
    path = f"/cases/{case.pk}/assignments/{_assist(case).pk}/waive"
    assert as_user("town_dispatcher_b").post(path, {"reason": "x"}).status_code == 404
    missing = f"/cases/{case.pk}/assignments/987654/waive"
    assert as_user("town_dispatcher").post(missing, {"reason": "x"}).status_code == 404
    response = as_user("village_cadre").post(path, {"reason": "不需要"})
    assert response.status_code == 403 and error_code(response) == "case_permission_denied"
    response = as_user("town_dispatcher").post(path, {"reason": 5})
    assert response.status_code == 400 and error_code(response) == "validation_error"
    services.case_return(case=case, actor=world.user("village_cadre"), reason="应由城管处理")
    response = as_user("town_dispatcher").post(path, {"reason": "x"})
    assert response.status_code == 409 and error_code(response) == "case_assist_waive_not_allowed"


# --- extensions ----------------------------------------------------------------------------------


def test_extension_request_and_approval(world: World, as_user) -> None:
    case = handling(world)
    before = Case.objects.get(pk=case.pk).due_at
    response = as_user("village_cadre").post(f"/cases/{case.pk}/extensions", {"days": 3, "reason": "等待配件"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["extension"]["days"] == 3 and body["extension"]["status"] == "pending"
    assert [e["id"] for e in body["case"]["pending_extensions"]] == [body["extension"]["id"]]

    decided = as_user("town_dispatcher").post(
        f"/cases/{case.pk}/extensions/{body['extension']['id']}/decide", {"approve": True, "note": "同意"}
    )
    assert decided.status_code == 200, decided.content
    assert decided.json()["event"]["action"] == "extend_approve"
    assert decided.json()["case"]["pending_extensions"] == []
    assert before is not None and Case.objects.get(pk=case.pk).due_at == add_working_days(before, 3)


def test_extension_refusal_by_the_dispatcher(world: World, as_user) -> None:
    case = handling(world)
    extension = linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=2, reason="等待配件")
    response = as_user("town_dispatcher").post(
        f"/cases/{case.pk}/extensions/{extension.pk}/decide", {"approve": False, "note": "请按期完成"}
    )
    assert response.json()["event"]["action"] == "extend_reject"
    assert ExtensionRequest.objects.get(pk=extension.pk).status == "rejected"


@pytest.mark.parametrize(
    ("user", "body", "status", "code"),
    [
        ("town_dispatcher_b", {"days": 3, "reason": "x"}, 404, "not_found"),
        ("town_dispatcher", {"days": 3, "reason": "x"}, 403, "case_permission_denied"),
        ("village_cadre", {"days": 0, "reason": "x"}, 400, "extension_days_invalid"),
        ("village_cadre", {"days": 61, "reason": "x"}, 400, "extension_days_invalid"),
        ("village_cadre", {"days": "3", "reason": "x"}, 400, "validation_error"),
        ("village_cadre", {"days": 2**64, "reason": "x"}, 400, "validation_error"),
        ("village_cadre", {"days": 3}, 400, "validation_error"),
        ("village_cadre", {"days": 3, "reason": " "}, 400, "reason_required"),
    ],
)
def test_extension_request_refusals(world: World, as_user, user: str, body: dict, status: int, code: str) -> None:
    case = handling(world)
    response = as_user(user).post(f"/cases/{case.pk}/extensions", body)
    assert response.status_code == status
    assert error_code(response) == code
    assert not ExtensionRequest.objects.exists()


def test_one_pending_extension_at_a_time_and_only_while_handled(world: World, as_user) -> None:
    case = handling(world)
    client = as_user("village_cadre")
    assert client.post(f"/cases/{case.pk}/extensions", {"days": 3, "reason": "等待配件"}).status_code == 201
    again = client.post(f"/cases/{case.pk}/extensions", {"days": 2, "reason": "再申请"})
    assert again.status_code == 400 and error_code(again) == "extension_pending"
    closed = case_in(world, S.CLOSED)
    response = client.post(f"/cases/{closed.pk}/extensions", {"days": 2, "reason": "x"})
    assert response.status_code == 409 and error_code(response) == "case_extend_request_not_allowed"


def test_extension_decision_refusals(world: World, as_user) -> None:
    case = handling(world)
    extension = linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=2, reason="等待配件")
    other_case = handling(world)
    other = linkage.case_extend_request(case=other_case, actor=world.user("village_cadre"), days=2, reason="x")
    path = f"/cases/{case.pk}/extensions/{extension.pk}/decide"
    assert as_user("town_dispatcher_b").post(path, {"approve": True}).status_code == 404
    assert as_user("town_dispatcher").post(
        f"/cases/{case.pk}/extensions/{other.pk}/decide", {"approve": True}
    ).status_code == 404
    response = as_user("village_cadre").post(path, {"approve": True})
    assert response.status_code == 403 and error_code(response) == "case_permission_denied"
    for bad in ({"approve": "yes"}, {"approve": 1}, {}):
        response = as_user("town_dispatcher").post(path, bad)
        assert response.status_code == 400 and error_code(response) == "validation_error"
    assert as_user("town_dispatcher").post(path, {"approve": False}).status_code == 200
    response = as_user("town_dispatcher").post(path, {"approve": True})
    assert response.status_code == 400 and error_code(response) == "extension_already_decided"


def test_extension_decision_after_the_case_moved_on_is_409(world: World, as_user) -> None:
    case = handling(world)
    extension = linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=2, reason="x")
    services.case_return(case=case, actor=world.user("village_cadre"), reason="不属于本社区")
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/extensions/{extension.pk}/decide", {"approve": True})
    assert response.status_code == 409 and error_code(response) == "case_extend_approve_not_allowed"


# --- suspension ----------------------------------------------------------------------------------


def test_suspend_and_resume(world: World, as_user) -> None:
    case = handling(world)
    client = as_user("town_dispatcher")
    response = client.post(f"/cases/{case.pk}/suspend", {"reason": "等待司法鉴定结果"})
    assert response.status_code == 200, response.content
    assert response.json()["case"]["status"] == "suspended"
    assert "resume" in response.json()["case"]["allowed_actions"]
    response = client.post(f"/cases/{case.pk}/resume", {})
    assert response.status_code == 200
    assert response.json()["event"]["action"] == "resume"
    assert response.json()["case"]["status"] == "handling"


@pytest.mark.parametrize("action", ["suspend", "resume"])
def test_suspend_and_resume_refusals(world: World, as_user, action: str) -> None:
    case = handling(world)
    if action == "resume":
        linkage.case_suspend(case=case, actor=world.user("town_dispatcher"), reason="等待鉴定")
    path = f"/cases/{case.pk}/{action}"
    assert as_user("town_dispatcher_b").post(path, {"reason": "x"}).status_code == 404
    response = as_user("village_cadre").post(path, {"reason": "x"})
    assert response.status_code == 403 and error_code(response) == "case_permission_denied"
    response = as_user("town_dispatcher").post(path, {"reason": ["x"]})
    assert response.status_code == 400 and error_code(response) == "validation_error"
    wrong = case_in(world, S.DISPATCHED)  # neither being handled nor suspended
    response = as_user("town_dispatcher").post(f"/cases/{wrong.pk}/{action}", {"reason": "x"})
    assert response.status_code == 409 and error_code(response) == f"case_{action}_not_allowed"


def test_suspend_needs_a_reason(world: World, as_user) -> None:
    case = handling(world)
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/suspend", {"reason": ""})
    assert response.status_code == 400 and error_code(response) == "reason_required"
    assert as_user("town_dispatcher").post(f"/cases/{case.pk}/suspend", {}).status_code == 400


# --- 并案 -----------------------------------------------------------------------------------------


def test_merge_into_a_case_by_number(world: World, as_user) -> None:
    primary = reported(world)
    later = reported(world, reporter="citizen2")
    response = as_user("town_dispatcher").post(f"/cases/{later.pk}/merge", {"into": f" {primary.number} "})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["event"]["action"] == "merge" and body["case"]["status"] == "merged"
    assert as_user("town_dispatcher").get(f"/cases/{primary.pk}").json()["supporter_count"] == 1
    assert CaseSupporter.objects.get(case=primary).merged_case_id == later.pk


def test_merge_refusals(world: World, as_user) -> None:
    primary = reported(world)
    case = reported(world, reporter="citizen2")
    hidden = reported(world, grid=world.grid_b1)
    path = f"/cases/{case.pk}/merge"
    assert as_user("town_dispatcher_b").post(path, {"into": primary.number}).status_code == 404
    response = as_user("grid_worker").post(path, {"into": primary.number})
    assert response.status_code == 403 and error_code(response) == "case_permission_denied"
    # Out of scope and missing look alike.
    out = as_user("town_dispatcher").post(path, {"into": hidden.number})
    missing = as_user("town_dispatcher").post(path, {"into": "LY000"})
    assert out.status_code == missing.status_code == 400
    assert out.json() == missing.json() and error_code(out) == "merge_target_not_found"
    assert set(out.json()["error"]["fields"]) == {"into"}
    response = as_user("town_dispatcher").post(path, {"into": case.number})
    assert response.status_code == 400 and error_code(response) == "merge_into_self"
    assert as_user("town_dispatcher").post(path, {}).status_code == 400
    dispatched = case_in(world, S.DISPATCHED)
    response = as_user("town_dispatcher").post(f"/cases/{dispatched.pk}/merge", {"into": primary.number})
    assert response.status_code == 409 and error_code(response) == "case_merge_not_allowed"
    assert Case.objects.get(pk=case.pk).status == S.REPORTED


def test_merge_into_a_finished_case_is_refused(world: World, as_user) -> None:
    closed = case_in(world, S.CLOSED)
    case = reported(world, reporter="citizen2")
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/merge", {"into": closed.number})
    assert response.status_code == 400 and error_code(response) == "merge_target_closed"


# --- "me too" ------------------------------------------------------------------------------------


def test_a_resident_says_me_too(world: World, as_user) -> None:
    case = reported(world)
    response = as_user("citizen2").post(f"/cases/{case.pk}/support")
    assert response.status_code == 201, response.content
    assert response.json() == {"supporter_count": 1}
    # The reporter sees the count; the supporter is never named.
    assert as_user("citizen").get(f"/cases/{case.pk}").json()["supporter_count"] == 1
    event = CaseEvent.objects.get(case=case, action="support")
    assert event.actor is None


def test_support_refusals(world: World, as_user) -> None:
    case = reported(world)
    client = as_user("citizen2")
    assert client.post("/cases/987654/support").status_code == 404
    lat, lng = inside(world.grid_a1)
    letter = services.report_submit(
        reporter=world.user("citizen"), description="书记您好，反映一件事情", lat=lat, lng=lng, channel=Channel.MAILBOX
    )
    assert client.post(f"/cases/{letter.pk}/support").status_code == 404  # letters are never found
    response = as_user("audit_admin").post(f"/cases/{case.pk}/support")
    assert response.status_code == 403 and error_code(response) == "forbidden"
    response = as_user("citizen").post(f"/cases/{case.pk}/support")
    assert response.status_code == 400 and error_code(response) == "support_own_case"
    assert client.post(f"/cases/{case.pk}/support").status_code == 201
    response = client.post(f"/cases/{case.pk}/support")
    assert response.status_code == 400 and error_code(response) == "support_already"
    closed = case_in(world, S.CLOSED)
    response = client.post(f"/cases/{closed.pk}/support")
    assert response.status_code == 409 and error_code(response) == "case_support_not_allowed"
    assert as_user(None).post(f"/cases/{case.pk}/support").status_code == 401


def test_support_is_rate_limited_per_account(world: World, as_user, monkeypatch: pytest.MonkeyPatch) -> None:
    from sizhi.api.endpoints import linkage as endpoints

    monkeypatch.setattr(endpoints, "SUPPORTS_PER_USER", throttle.Limit("support-user", 1, 3600))
    first, second = reported(world), reported(world)
    client = as_user("citizen2")
    assert client.post(f"/cases/{first.pk}/support").status_code == 201
    response = client.post(f"/cases/{second.pk}/support")
    assert response.status_code == 429
    assert error_code(response) == "rate_limited" and response["Retry-After"] == "3600"
    assert not CaseSupporter.objects.filter(case=second).exists()
    # Another account has its own budget.
    assert as_user("town_dispatcher").post(f"/cases/{second.pk}/support").status_code == 201


# --- public notes --------------------------------------------------------------------------------


def test_staff_add_a_public_note(world: World, as_user) -> None:
    case = case_in(world, S.DISPATCHED)
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/notes", {"text": "已联系施工单位，明日到场"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["event"]["action"] == "note" and body["event"]["reason"] == "已联系施工单位，明日到场"
    assert body["case"]["status"] == "dispatched"
    public = as_user("citizen").get(f"/cases/{case.pk}").json()["timeline"]
    assert public[-1]["action"] == "note" and public[-1]["actor"] is None


def test_note_refusals(world: World, as_user) -> None:
    case = reported(world)
    path = f"/cases/{case.pk}/notes"
    assert as_user("town_dispatcher_b").post(path, {"text": "x"}).status_code == 404
    assert as_user("citizen2").post(path, {"text": "x"}).status_code == 404
    response = as_user("citizen").post(path, {"text": "我是反映人"})  # may see the case, is not staff
    assert response.status_code == 403 and error_code(response) == "forbidden"
    assert as_user("system_admin").post(path, {"text": "x"}).status_code == 403
    for body, code in [({}, "validation_error"), ({"text": " \x00 "}, "note_required"),
                       ({"text": "长" * 2001}, "note_too_long"), ({"text": 1}, "validation_error")]:
        response = as_user("town_dispatcher").post(path, body)
        assert response.status_code == 400 and error_code(response) == code
    assert not CaseEvent.objects.filter(case=case, action="note").exists()


def test_a_note_sent_twice_with_one_key_is_written_once(world: World, as_user) -> None:
    case = reported(world)
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    client = as_user("town_dispatcher")
    first = client.post(f"/cases/{case.pk}/notes", {"text": "已派人核实"}, headers=headers)
    second = client.post(f"/cases/{case.pk}/notes", {"text": "已派人核实"}, headers=headers)
    assert first.content == second.content and second["Idempotent-Replayed"] == "true"
    assert CaseEvent.objects.filter(case=case, action="note").count() == 1


# --- administrators and anonymous callers --------------------------------------------------------


NEW_CASE_ACTIONS = {
    "escalate": {"reason": "x"},
    "delegate": {"level": "town", "reason": "x"},
    "extensions": {"days": 3, "reason": "x"},
    "suspend": {"reason": "x"},
    "resume": {},
    "merge": {"into": "LY000"},
    "notes": {"text": "x"},
    "support": None,
}


@pytest.mark.parametrize("action", list(NEW_CASE_ACTIONS))
def test_new_actions_are_forbidden_to_administrators_and_need_a_sign_in(world: World, as_user, action: str) -> None:
    case = reported(world)
    body = NEW_CASE_ACTIONS[action]
    response = as_user("security_admin").post(f"/cases/{case.pk}/{action}", body)
    assert response.status_code == 403 and error_code(response) == "forbidden"
    assert as_user(None).post(f"/cases/{case.pk}/{action}", body).status_code == 401
    assert list(CaseEvent.objects.filter(case=case).values_list("action", flat=True)) == ["submit"]
