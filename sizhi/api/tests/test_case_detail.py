"""The case detail's 一网统管 fields (priority, level, deadline, warning, returns, ruling, repeat,
supporters, the units' assignments, pending extensions, the call-back), who sees which of them,
and `allowed_actions` as cases.permissions.available_actions answers it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from sizhi.api.tests.conftest import case_in, dispatched_with_assist, handling, reported
from sizhi.cases import linkage, merging, permissions, services
from sizhi.cases.models import Case
from sizhi.cases.workflow import CaseStatus
from sizhi.conftest import World

pytestmark = pytest.mark.django_db
S = CaseStatus
STAFF_ONLY = ("warning", "warning_label", "return_count", "needs_ruling", "callback")


def test_staff_see_the_linkage_fields(world: World, as_user) -> None:
    case = dispatched_with_assist(world)
    merging.case_support(case=case, user=world.user("citizen2"))
    body = as_user("town_dispatcher").get(f"/cases/{case.pk}").json()
    case.refresh_from_db()
    assert (body["priority"], body["priority_label"]) == ("normal", "一般")
    assert (body["level"], body["level_label"]) == ("town", "乡镇/街道")
    assert body["due_at"] is not None and body["due_at"].startswith(timezone.localtime(case.due_at).date().isoformat())
    assert (body["warning"], body["return_count"], body["needs_ruling"]) == ("none", 0, False)
    assert body["supporter_count"] == 1 and body["repeat_of"] is None and body["callback"] is None
    assert body["pending_extensions"] == []
    rows = {a["role"]: a for a in body["assignments"]}
    assert set(rows) == {"lead", "assist"}
    lead = rows["lead"]
    assert lead["unit"] == {"id": world.village_a1_committee.pk, "name": world.village_a1_committee.name}
    assert (lead["status"], lead["status_label"], lead["role_label"]) == ("pending", "待签收", "主办")
    assert set(lead) == {
        "id", "unit", "role", "role_label", "status", "status_label", "sign_due_at", "signed_at", "due_at",
        "finished_at",
    }
    assert lead["sign_due_at"] and lead["due_at"] and lead["signed_at"] is None and lead["finished_at"] is None


def test_the_assisting_unit_sees_them_too(world: World, as_user) -> None:
    case = dispatched_with_assist(world)
    body = as_user("department_handler").get(f"/cases/{case.pk}").json()
    assert len(body["assignments"]) == 2 and body["warning"] == "none"


def test_returns_and_the_ruling(world: World, as_user, settings: Any) -> None:
    settings.SIZHI_RETURNS_BEFORE_RULING = 1
    case = case_in(world, S.DISPATCHED)
    services.case_return(case=case, actor=world.user("village_cadre"), reason="不属于本社区")
    body = as_user("district_dispatcher").get(f"/cases/{case.pk}").json()
    assert (body["return_count"], body["needs_ruling"], body["level"]) == (1, True, "district")
    assert [a["status"] for a in body["assignments"]] == ["returned"]


def test_pending_extensions_are_listed_for_staff(world: World, as_user) -> None:
    case = handling(world)
    extension = linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=4, reason="等待配件")
    body = as_user("town_dispatcher").get(f"/cases/{case.pk}").json()
    assert body["pending_extensions"] == [{
        "id": extension.pk, "days": 4, "reason": "等待配件", "status": "pending", "status_label": "待审批",
        "requested_by": "village_cadre", "created_at": body["pending_extensions"][0]["created_at"],
    }]
    linkage.case_extend_decide(request=extension, actor=world.user("town_dispatcher"), approve=False)
    assert as_user("town_dispatcher").get(f"/cases/{case.pk}").json()["pending_extensions"] == []


def test_the_reporter_sees_the_public_fields_only(world: World, as_user) -> None:
    case = handling(world)
    linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=4, reason="等待配件")
    body = as_user("citizen").get(f"/cases/{case.pk}").json()
    assert body["priority"] == "normal" and body["level"] == "town" and body["due_at"] is not None
    assert all(body[name] is None for name in STAFF_ONLY)
    assert body["assignments"] == [] and body["pending_extensions"] == []
    assert body["supporter_count"] == 0


def test_repeat_of_is_shown_only_when_the_earlier_case_is_visible(world: World, as_user) -> None:
    first = case_in(world, S.REGISTERED)  # citizen, grid A1-1, registered in world.category
    again = reported(world)  # the same reporter again: a repeat
    assert again.repeat_of_id == first.pk
    assert as_user("citizen").get(f"/cases/{again.pk}").json()["repeat_of"] == first.number
    assert as_user("town_dispatcher").get(f"/cases/{again.pk}").json()["repeat_of"] == first.number
    # Another resident's report of the same place and category: linked, but not theirs to see.
    other = case_in(world, S.REGISTERED, reporter="citizen2")
    Case.objects.filter(pk=other.pk).update(repeat_of=first)
    assert as_user("citizen2").get(f"/cases/{other.pk}").json()["repeat_of"] is None
    assert as_user("town_dispatcher").get(f"/cases/{other.pk}").json()["repeat_of"] == first.number


# --- allowed_actions -----------------------------------------------------------------------------


def test_allowed_actions_are_the_permissions_modules_answer(world: World, as_user, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    case = handling(world)
    seen: list[tuple[str, int]] = []

    def answer(user: Any, target: Case) -> list[str]:
        seen.append((user.username, target.pk))
        return ["suspend", "something_new"]

    monkeypatch.setattr(permissions, "available_actions", answer)
    body = as_user("town_dispatcher").get(f"/cases/{case.pk}").json()
    assert body["allowed_actions"] == ["suspend", "something_new"]
    assert seen == [("town_dispatcher", case.pk)]


def test_allowed_actions_follow_role_status_and_state(world: World, as_user) -> None:
    case = handling(world)
    assert set(as_user("town_dispatcher").get(f"/cases/{case.pk}").json()["allowed_actions"]) == {"suspend"}
    assert set(as_user("village_cadre").get(f"/cases/{case.pk}").json()["allowed_actions"]) == {
        "return", "handle", "escalate", "extend_request",
    }
    closed = case_in(world, S.CLOSED)
    citizen = as_user("citizen")
    assert citizen.get(f"/cases/{closed.pk}").json()["allowed_actions"] == ["rate"]
    services.case_rate(case=closed, actor=world.user("citizen"), satisfaction="unsatisfied")
    # Rated once: no second rating, but reopening within the window.
    assert citizen.get(f"/cases/{closed.pk}").json()["allowed_actions"] == ["reopen"]
    Case.objects.filter(pk=closed.pk).update(closed_at=timezone.now() - timedelta(days=365))
    assert citizen.get(f"/cases/{closed.pk}").json()["allowed_actions"] == []


def test_every_action_answer_carries_the_new_fields(world: World, as_user) -> None:
    case = case_in(world, S.REGISTERED)
    body = as_user("town_dispatcher").post(f"/cases/{case.pk}/escalate", {"reason": "涉及多个街道"}).json()
    for name in ("priority", "level", "due_at", "repeat_of", "supporter_count", "assignments", "pending_extensions"):
        assert name in body["case"]
