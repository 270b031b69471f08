"""One error format for every bad input, and never a 500: NUL bytes, lone surrogates, huge
bodies, NaN and 1e308, bad ids and dates, malformed JSON, wrong methods, unknown paths."""

from __future__ import annotations

import json

import pytest
from django.db.utils import OperationalError

from sizhi.api.errors import validation_fields
from sizhi.api.tests.conftest import case_in, reported
from sizhi.cases.models import Case
from sizhi.cases.workflow import CaseStatus
from sizhi.conftest import World

pytestmark = pytest.mark.django_db
S = CaseStatus


def _error(response) -> dict:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\x00\x01\x02",
        b"\xff\xfe\xfd",
        b'{"reason": "\\ud800"}',
        b'"just a string"',
        b"[1, 2, 3]",
        b"null",
        b"[" * 100_000,
        b'{"reason": 1e308}',
        b'{"reason": NaN}',
        b'{"reason": ["a"]}',
    ],
    ids=["broken", "binary", "latin1", "lone-surrogate", "string", "array", "null", "deep", "1e308", "nan", "list"],
)
def test_hostile_json_bodies_are_clean_4xx(world: World, as_user, body: bytes) -> None:
    case = reported(world)
    response = as_user("town_dispatcher").post_raw(f"/cases/{case.pk}/accept", body)
    assert 400 <= response.status_code < 500, response.content
    error = _error(response)
    assert error["code"] in {"bad_request", "validation_error", "case_accept_not_allowed"}
    assert "Traceback" not in error["message"] and "Expecting" not in error["message"]


def test_nul_and_bidi_controls_in_a_reason_are_cleaned(world: World, as_user) -> None:
    case = case_in(world, S.DISPATCHED)
    body = json.dumps({"reason": "不属于\u202e本社区\x00"})  # json escapes both as \uXXXX
    response = as_user("village_cadre").post_raw(f"/cases/{case.pk}/return", body)
    assert response.status_code == 200
    assert case.events.get(action="return").reason == "不属于本社区"


def test_lone_surrogate_in_a_reason_is_refused(world: World, as_user) -> None:
    case = case_in(world, S.DISPATCHED)
    response = as_user("village_cadre").post_raw(f"/cases/{case.pk}/return", '{"reason": "不属于\\ud800本社区"}')
    assert response.status_code == 400
    assert _error(response)["fields"] == {"reason": "请输入文本。"}


def test_body_without_json_content_type(world: World, as_user) -> None:
    case = reported(world)
    response = as_user("town_dispatcher").post_raw(f"/cases/{case.pk}/reject", "kind=invalid", "text/plain")
    assert response.status_code == 400
    assert _error(response)["code"] == "bad_request"


def test_oversize_json_body_is_413(world: World, as_user) -> None:
    case = reported(world)
    body = json.dumps({"reason": "井" * (3 * 1024 * 1024)})
    response = as_user("town_dispatcher").post_raw(f"/cases/{case.pk}/accept", body)
    assert response.status_code == 413
    assert _error(response)["code"] == "request_too_large"
    assert Case.objects.get(pk=case.pk).status == S.REPORTED


def test_declared_oversize_upload_is_refused_before_reading(world: World, as_user, settings) -> None:
    settings.SIZHI_MAX_PHOTOS = 1
    settings.SIZHI_MAX_PHOTO_BYTES = 1024
    client = as_user("citizen")
    response = client.post_raw("/reports", b"x" * (2 * 1024 * 1024 + 10), "multipart/form-data; boundary=zz")
    assert response.status_code == 413
    assert _error(response)["code"] == "request_too_large"


def test_long_text_within_the_body_limit_is_the_services_answer(world: World, as_user) -> None:
    case = case_in(world, S.DISPATCHED)
    response = as_user("village_cadre").post(f"/cases/{case.pk}/return", {"reason": "长" * 2001})
    assert response.status_code == 400
    assert _error(response)["code"] == "reason_too_long"
    too_long = as_user("village_cadre").post(f"/cases/{case.pk}/return", {"reason": "长" * 10_001})
    assert _error(too_long)["code"] == "validation_error"
    assert "reason" in _error(too_long)["fields"]


@pytest.mark.parametrize(
    "body",
    [{"unit": "NaN"}, {"unit": 1e308}, {"unit": -1}, {"unit": 2**64}, {"unit": "１"}, {"unit": None}, {"unit": True},
     {"unit": "1"}, {"unit": 1.0}],
)
def test_bad_numbers_are_validation_errors(world: World, as_user, body: dict) -> None:
    case = case_in(world, S.REGISTERED)
    response = as_user("town_dispatcher").post_raw(f"/cases/{case.pk}/dispatch", json.dumps(body))
    assert response.status_code == 400, response.content
    error = _error(response)
    assert error["code"] in {"validation_error", "unit_not_found"}


def test_validation_messages_are_in_the_users_language(world: World, as_user) -> None:
    case = reported(world)
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/reject", {"kind": "bogus"})
    error = _error(response)
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"kind", "reason"}
    assert error["fields"]["reason"] == "此项为必填项。"
    assert "invalid" in error["fields"]["kind"]  # the allowed values are listed


def test_validation_field_names_drop_the_source() -> None:
    fields = validation_fields(
        [
            {"type": "missing", "loc": ("body", "payload", "reason")},
            {"type": "int_parsing", "loc": ("query", "page")},
            {"type": "model_attributes_type", "loc": ("body", "payload")},
            {"type": "mystery", "loc": ()},
        ]
    )
    assert fields == {"reason": "此项为必填项。", "page": "请输入整数。", "payload": "请求内容的格式不正确。",
                      "request": "取值无效。"}


def test_unknown_path_and_wrong_method_keep_the_format(world: World, as_user) -> None:
    client = as_user("town_dispatcher")
    response = client.get("/no/such/thing")
    assert response.status_code == 404 and _error(response)["code"] == "not_found"
    response = client.request("DELETE", "/cases")
    assert response.status_code == 405 and _error(response)["code"] == "method_not_allowed"
    assert response["Allow"] == "GET"
    response = client.get("/cases/1/accept")
    assert response.status_code == 405


def test_query_strings_with_nul_and_junk(world: World, as_user) -> None:
    reported(world)
    client = as_user("town_dispatcher")
    for query in ["q=%00", "q=%ED%A0%80", "status=%00", "q=" + "x" * 5000, "page=%00", "page_size=1e2"]:
        response = client.get(f"/cases?{query}")
        assert response.status_code in {200, 400}, query
        if response.status_code == 400:
            assert _error(response)["code"] == "validation_error"


def test_database_outage_is_503_without_details(world: World, as_user, monkeypatch: pytest.MonkeyPatch) -> None:
    from sizhi.cases import selectors

    def down(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("could not connect to server: Connection refused (secret host 10.0.0.5)")

    client = as_user("town_dispatcher")
    monkeypatch.setattr(selectors, "case_list_for_user", down)
    response = client.get("/cases")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    error = _error(response)
    assert error["code"] == "service_unavailable" and "10.0.0.5" not in error["message"]


def test_unexpected_errors_are_500_in_the_same_format(world: World, as_user, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sizhi.cases import selectors

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("internal detail /srv/secret")

    monkeypatch.setattr(selectors, "case_list_for_user", broken)
    from django.test import Client

    from sizhi.api.tests.conftest import token_for

    # A plain client: a 500 is not a documented answer, which the checking client would refuse.
    headers = {"Authorization": f"Bearer {token_for(world.user('city_dispatcher'))}"}
    response = Client().get("/api/v1/cases", headers=headers)
    assert response.status_code == 500
    error = _error(response)
    assert error["code"] == "server_error" and "/srv/secret" not in response.content.decode()
