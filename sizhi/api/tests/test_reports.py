"""POST /reports: multipart intake with photos, signed in or anonymous, through
services.report_submit; its coded refusals returned as they are."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sizhi.cases.models import Attachment, Case, CaseEvent, CategoryAttribute
from sizhi.conftest import World, inside, make_photo

pytestmark = pytest.mark.django_db


def _form(world: World, **extra: object) -> dict:
    lat, lng = inside(world.grid_a1)
    return {"description": "金业路路口井盖缺失，夜间很危险", "lat": lat, "lng": lng, **extra}


def test_signed_in_report_with_photos(world: World, as_user) -> None:
    client = as_user("citizen")
    response = client.post(
        "/reports", _form(world, title="井盖缺失", category=world.category.pk,
                          photos=[make_photo(exif_gps=True), make_photo(fmt="PNG", name="b.png")]),
        form=True,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.get(pk=body["id"])
    assert body["number"] == case.number and body["tracking_code"] == case.tracking_code
    assert body["status"] == "reported"
    assert case.reporter == world.user("citizen") and not case.is_anonymous
    assert case.grid == world.grid_a1 and case.category == world.category and case.title == "井盖缺失"
    assert Attachment.objects.filter(case=case).count() == 2
    assert CaseEvent.objects.filter(case=case, action="submit").count() == 1
    # The reporter finds it in their own list and may open it.
    assert [c["id"] for c in client.get("/me/cases").json()["results"]] == [case.pk]
    assert client.get(f"/cases/{case.pk}").status_code == 200


def test_report_without_sign_in_is_anonymous(world: World, as_user) -> None:
    response = as_user(None).post("/reports", _form(world), form=True)
    assert response.status_code == 201
    case = Case.objects.get(pk=response.json()["id"])
    assert case.is_anonymous and case.reporter is None
    event = CaseEvent.objects.get(case=case, action="submit")
    assert event.actor is None


def test_signed_in_anonymous_report_keeps_no_link_to_the_account(world: World, as_user) -> None:
    response = as_user("citizen").post("/reports", _form(world, is_anonymous="true"), form=True)
    case = Case.objects.get(pk=response.json()["id"])
    assert case.is_anonymous and case.reporter is None
    assert as_user("citizen").get("/me/cases").json()["count"] == 0


def test_report_by_address_only(world: World, as_user) -> None:
    response = as_user("citizen").post(
        "/reports", {"description": "小区门口垃圾堆放多日", "address": "金业路 12 号"}, form=True
    )
    assert response.status_code == 201
    assert Case.objects.get(pk=response.json()["id"]).region == world.city


@pytest.mark.parametrize(
    ("fields", "status", "code", "field"),
    [
        ({"description": "短"}, 400, "description_too_short", "description"),
        ({"description": "井" * 4001}, 400, "description_too_long", "description"),
        ({"description": "很长的描述内容", "lat": "nan", "lng": "112.4"}, 400, "location_invalid", "location"),
        ({"description": "很长的描述内容", "lat": "1e308", "lng": "112.4"}, 400, "location_invalid", "location"),
        ({"description": "很长的描述内容", "lat": "0", "lng": "0"}, 400, "location_outside", "location"),
        ({"description": "很长的描述内容"}, 400, "location_required", "location"),
        ({"description": "很长的描述内容", "lat": "abc", "lng": "1"}, 400, "validation_error", "lat"),
        ({"address": "金业路"}, 400, "validation_error", "description"),
        ({"description": "很长的描述内容", "address": "x", "category": "999999"}, 400, "category_not_found",
         "category"),
        ({"description": "很长的描述内容", "address": "x", "attributes": "[1]"}, 400, "attributes_invalid",
         "attributes"),
        ({"description": "很长的描述内容", "address": "x", "attributes": "[" * 5000}, 400, "attributes_invalid",
         "attributes"),
        ({"description": "\x00\x00\x00\x00\x00\x00", "address": "x"}, 400, "description_too_short", "description"),
    ],
)
def test_report_refusals(world: World, as_user, fields: dict, status: int, code: str, field: str) -> None:
    response = as_user("citizen").post("/reports", fields, form=True)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert field in error["fields"]
    assert Case.objects.count() == 0


def test_report_text_is_cleaned_not_refused(world: World, as_user) -> None:
    response = as_user("citizen").post(
        "/reports", _form(world, description="井盖\x00缺失\u202e，𠮷祥路口", title="<svg onload=alert(1)>"), form=True
    )
    assert response.status_code == 201
    case = Case.objects.get(pk=response.json()["id"])
    assert case.description == "井盖缺失，𠮷祥路口"
    assert case.title == "<svg onload=alert(1)>"  # stored as typed; escaped where rendered


@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile("x.jpg", b"<html><script>alert(1)</script></html>", content_type="image/jpeg"),
        SimpleUploadedFile("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        SimpleUploadedFile("empty.jpg", b""),
        SimpleUploadedFile("../../etc/passwd.jpg", b"\xff\xd8\xff\xe0garbage"),
    ],
    ids=["html", "svg", "empty", "traversal"],
)
def test_report_refuses_what_is_no_photo(world: World, as_user, upload: SimpleUploadedFile) -> None:
    response = as_user("citizen").post("/reports", _form(world, photos=[upload]), form=True)
    assert response.status_code == 400
    assert response.json()["error"]["code"].startswith("photo_")
    assert Case.objects.count() == 0


def test_report_refuses_too_many_photos(world: World, as_user, settings) -> None:
    settings.SIZHI_MAX_PHOTOS = 2
    response = as_user("citizen").post("/reports", _form(world, photos=[make_photo() for _ in range(3)]), form=True)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "photo_too_many"


def test_report_refuses_more_files_than_django_parses(world: World, as_user) -> None:
    response = as_user("citizen").post("/reports", _form(world, photos=[make_photo() for _ in range(21)]), form=True)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_parts"


def test_report_answers_category_questions(world: World, as_user) -> None:
    # roads-damage asks "severity" (required) by default; add a number question to it.
    CategoryAttribute.objects.create(
        category=world.category, code="depth", datatype="number", required=True, description="坑深（厘米）", order=99
    )
    client = as_user("citizen")
    missing = client.post("/reports", _form(world, category=world.category.pk, attributes="{}"), form=True)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "attribute_invalid"
    answers = json.dumps({"depth": "15", "severity": "severe"})
    response = client.post("/reports", _form(world, category=world.category.pk, attributes=answers), form=True)
    assert response.status_code == 201, response.content
    case_id = response.json()["id"]
    assert client.get(f"/cases/{case_id}").json()["attributes"] == {"depth": 15, "severity": "severe"}


@pytest.mark.parametrize("role", ["system_admin", "security_admin", "audit_admin"])
def test_administrators_do_not_report(world: World, as_user, role: str) -> None:
    assert as_user(role).post("/reports", _form(world), form=True).status_code == 403
