"""Idempotency-Key on every POST: a replay of the same request gets the first answer and does
nothing again; the same key on a different request is 422; failures are not stored; records
older than a day are purged."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from sizhi.api.models import IdempotencyRecord
from sizhi.api.tasks import purge_idempotency_records
from sizhi.api.tests.conftest import ApiClient, case_in, reported, token_for
from sizhi.cases.models import Case, CaseEvent
from sizhi.cases.workflow import CaseStatus
from sizhi.conftest import World, inside, make_photo

pytestmark = pytest.mark.django_db
S = CaseStatus


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _report(world: World, **extra: object) -> dict:
    lat, lng = inside(world.grid_a1)
    return {"description": "金业路路口井盖缺失，夜间很危险", "lat": lat, "lng": lng, **extra}


def test_report_sent_five_times_makes_one_case(world: World, as_user) -> None:
    client = as_user("citizen")
    headers = key()
    answers = [
        client.post("/reports", _report(world, photos=[make_photo()]), form=True, headers=headers) for _ in range(5)
    ]
    assert {a.status_code for a in answers} == {201}
    assert len({a.content for a in answers}) == 1
    assert "Idempotent-Replayed" not in answers[0]
    assert all(a["Idempotent-Replayed"] == "true" for a in answers[1:])
    assert Case.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_anonymous_report_replay(world: World, as_user) -> None:
    client = as_user(None)
    headers = key()
    first = client.post("/reports", _report(world), form=True, headers=headers)
    second = client.post("/reports", _report(world), form=True, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Case.objects.count() == 1
    assert IdempotencyRecord.objects.get().user is None


def test_same_key_different_request_is_422(world: World, as_user) -> None:
    client = as_user("citizen")
    headers = key()
    assert client.post("/reports", _report(world), form=True, headers=headers).status_code == 201
    response = client.post("/reports", _report(world, description="另一件事：路灯不亮"), form=True, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Case.objects.count() == 1


def test_same_key_different_photo_is_422(world: World, as_user) -> None:
    client = as_user("citizen")
    headers = key()
    client.post("/reports", _report(world, photos=[make_photo()]), form=True, headers=headers)
    other = make_photo(size=(80, 60))
    response = client.post("/reports", _report(world, photos=[other]), form=True, headers=headers)
    assert response.status_code == 422


def test_same_key_on_another_path_is_422(world: World, as_user) -> None:
    first, second = reported(world), reported(world)
    client = as_user("town_dispatcher")
    headers = key()
    assert client.post(f"/cases/{first.pk}/accept", {}, headers=headers).status_code == 200
    response = client.post(f"/cases/{second.pk}/accept", {}, headers=headers)
    assert response.status_code == 422
    assert Case.objects.get(pk=second.pk).status == S.REPORTED


def test_keys_are_per_user(world: World) -> None:
    shared = key()
    one = ApiClient(Client(), token=token_for(world.user("citizen")))
    two = ApiClient(Client(), token=token_for(world.user("citizen2")))
    a = one.post("/reports", _report(world), form=True, headers=shared)
    b = two.post("/reports", _report(world), form=True, headers=shared)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert Case.objects.count() == 2


def test_transition_replay_returns_the_first_answer(world: World, as_user) -> None:
    case = reported(world)
    client = as_user("town_dispatcher")
    headers = key()
    first = client.post(f"/cases/{case.pk}/accept", {"reason": "属实"}, headers=headers)
    second = client.post(f"/cases/{case.pk}/accept", {"reason": "属实"}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert CaseEvent.objects.filter(case=case, action="accept").count() == 1
    # Without the key the repeat is a real second attempt, and the workflow refuses it.
    assert client.post(f"/cases/{case.pk}/accept", {"reason": "属实"}).status_code == 409


def test_json_key_order_does_not_change_the_fingerprint(world: World, as_user) -> None:
    case = case_in(world, S.REGISTERED)
    client = as_user("town_dispatcher")
    headers = key()
    unit = world.village_a1_committee.pk
    first = client.post_raw(f"/cases/{case.pk}/dispatch", f'{{"unit": {unit}, "reason": "快"}}', headers=headers)
    second = client.post_raw(f"/cases/{case.pk}/dispatch", f'{{"reason": "快",  "unit": {unit}}}', headers=headers)
    assert first.status_code == second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"


def test_failures_are_not_stored_and_may_be_retried(world: World, as_user) -> None:
    case = case_in(world, S.VERIFYING)
    client = as_user("grid_worker")
    headers = key()
    refused = client.post(f"/cases/{case.pk}/verify", {"passed": False}, headers=headers)
    assert refused.status_code == 400
    assert IdempotencyRecord.objects.count() == 0
    # The same key with a corrected request is a new request, not a reuse.
    fixed = client.post(f"/cases/{case.pk}/verify", {"passed": False, "reason": "未修好"}, headers=headers)
    assert fixed.status_code == 200
    assert IdempotencyRecord.objects.count() == 1


def test_every_post_operation_documents_the_header() -> None:
    from sizhi.api.tests.conftest import openapi

    for path, methods in openapi()["paths"].items():
        if "post" in methods:
            names = [p["name"] for p in methods["post"].get("parameters", []) if p["in"] == "header"]
            assert "Idempotency-Key" in names, path


@pytest.mark.parametrize("value", ["short", "x" * 65, "has space in it 12345", "ключ-ключ-ключ-ключ", "a\x00" * 10])
def test_malformed_keys_are_400(world: World, as_user, value: str) -> None:
    case = reported(world)
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/accept", {}, headers={"Idempotency-Key": value})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert Case.objects.get(pk=case.pk).status == S.REPORTED


def test_purge_removes_records_older_than_a_day(world: World, as_user) -> None:
    client = as_user("citizen")
    client.post("/reports", _report(world), form=True, headers=key())
    client.post("/reports", _report(world, description="第二件事：路灯不亮"), form=True, headers=key())
    old = IdempotencyRecord.objects.order_by("pk").first()
    assert old is not None
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    assert purge_idempotency_records.call_local() == 1
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) != [old.pk]
    assert IdempotencyRecord.objects.count() == 1


def test_purge_task_is_scheduled() -> None:
    from huey.contrib.djhuey import HUEY

    periodic = [task.__name__ for task in HUEY._registry._periodic_tasks]
    assert "purge_idempotency_records" in periodic
