"""有事您说话: the report form, its receipt, and every kind of bad input answered with a clean
message and nothing created."""

from __future__ import annotations

import re
import uuid
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from sizhi.accounts import throttle
from sizhi.cases.models import Attachment, Case, CaseEvent, Category
from sizhi.conftest import World, make_photo
from sizhi.web import views
from sizhi.web.tests.factories import DESCRIPTION, report_data

URL = "/report/"
CJK = re.compile(r"[\u4e00-\u9fff]")


def post(client: Client, data: dict[str, Any], **kwargs: Any) -> Any:
    return client.post(URL, data, **kwargs)


def body(response: Any) -> str:
    return response.content.decode()


# --- the form ----------------------------------------------------------------------------------


def test_form_has_a_fresh_idempotency_key_every_time(world: World, client: Client) -> None:
    keys = []
    for _ in range(2):
        html = body(client.get(URL))
        match = re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', html)
        assert match, "hidden idempotency key missing"
        keys.append(uuid.UUID(match.group(1)))
    assert keys[0] != keys[1]


def test_form_offers_the_map_photos_and_two_level_categories(world: World, client: Client) -> None:
    response = client.get(URL)
    html = body(response)

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert 'id="report-map"' in html
    assert reverse("web:grids_geojson") in html
    assert "vendor/leaflet/dist/leaflet.js" in html
    assert 'type="file"' in html and 'multiple' in html and 'accept="image/*"' in html
    assert "最多 9 张" in html
    parent = world.category.parent
    assert parent is not None
    assert f'<optgroup label="{parent.name}">' in html
    assert f'<option value="{world.category.pk}">{world.category.name}</option>' in html


def test_inactive_categories_are_not_offered(world: World, client: Client) -> None:
    Category.objects.filter(pk=world.category.pk).update(is_active=False)

    html = body(client.get(URL))

    assert f'value="{world.category.pk}"' not in html


def test_tile_layer_is_used_only_when_configured(world: World, client: Client, settings: Any) -> None:
    assert 'data-tile-url=""' in body(client.get(URL))
    settings.SIZHI_TILE_URL = "/tiles/{z}/{x}/{y}.png"
    assert 'data-tile-url="/tiles/{z}/{x}/{y}.png"' in body(client.get(URL))


def test_visitor_is_told_the_report_will_be_anonymous(world: World, client: Client) -> None:
    html = body(client.get(URL))
    assert 'data-testid="anonymous-notice"' in html
    assert 'name="is_anonymous"' not in html

    client.force_login(world.user("citizen"))
    assert 'name="is_anonymous"' in body(client.get(URL))


# --- successful reports ------------------------------------------------------------------------


def test_report_with_photo_creates_one_case_even_when_posted_twice(world: World, client: Client) -> None:
    client.force_login(world.user("citizen"))
    data = report_data(world)

    first = post(client, {**data, "photos": make_photo()})
    second = post(client, {**data, "photos": make_photo()})

    assert first.status_code == 302 and first["Location"] == reverse("web:report_done")
    assert second.status_code == 302
    case = Case.objects.get()
    assert case.reporter == world.user("citizen")
    assert case.category == world.category
    assert case.grid == world.grid_a1
    assert Attachment.objects.filter(case=case).count() == 1
    assert CaseEvent.objects.filter(case=case).count() == 1


def test_receipt_shows_number_and_tracking_code(world: World, client: Client) -> None:
    post(client, report_data(world))
    case = Case.objects.get()

    response = client.get(reverse("web:report_done"))
    html = body(response)

    assert response.status_code == 200
    assert f'data-testid="receipt-number">{case.number}<' in html
    assert f'data-testid="receipt-tracking-code">{case.tracking_code}<' in html
    assert reverse("web:case_track", args=[case.tracking_code]) in html


def test_receipt_without_a_report_goes_back_to_the_form(world: World, client: Client) -> None:
    response = client.get(reverse("web:report_done"))
    assert response.status_code == 302
    assert response["Location"] == URL


def test_visitor_report_is_anonymous_and_stores_no_reporter(world: World, client: Client) -> None:
    response = post(client, report_data(world, is_anonymous=None))

    assert response.status_code == 302
    case = Case.objects.get()
    assert case.reporter is None
    assert case.is_anonymous
    assert CaseEvent.objects.get(case=case).actor is None
    assert "匿名" in body(client.get(reverse("web:report_done")))


def test_signed_in_citizen_can_report_anonymously(world: World, client: Client) -> None:
    client.force_login(world.user("citizen"))

    post(client, report_data(world, is_anonymous="on"))

    case = Case.objects.get()
    assert case.reporter is None
    assert case.is_anonymous
    assert CaseEvent.objects.get(case=case).actor is None


def test_report_by_address_without_a_point(world: World, client: Client) -> None:
    response = post(client, report_data(world, lat="", lng="", address="老城区西关街道金业路 12 号门口"))

    assert response.status_code == 302
    case = Case.objects.get()
    assert case.lat is None and case.grid is None
    assert case.address == "老城区西关街道金业路 12 号门口"


def test_repeated_key_from_another_sender_is_refused_with_a_new_key(world: World, client: Client) -> None:
    data = report_data(world)
    client.force_login(world.user("citizen"))
    post(client, data)
    client.force_login(world.user("citizen2"))

    response = post(client, data)

    assert response.status_code == 400
    assert Case.objects.count() == 1
    assert data["idempotency_key"] not in body(response)
    assert "刷新" in body(response)


# --- bad input: a clean message, nothing created -----------------------------------------------


def html_file() -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.jpg", b"<html><script>alert(1)</script></html>", content_type="image/jpeg")


BAD_INPUTS: dict[str, dict[str, Any]] = {
    "empty": {"description": ""},
    "whitespace": {"description": "   "},
    "too short": {"description": "坑"},
    "nul bytes": {"description": "井盖\x00缺失，夜间很危险"},
    "nul in address": {"address": "金业路\x00"},
    "one megabyte": {"description": "坑" * (1024 * 1024 // 3)},
    "nan location": {"lat": "NaN", "lng": "NaN"},
    "infinite location": {"lat": "inf", "lng": "112.4"},
    "huge location": {"lat": "1e308", "lng": "1e308"},
    "text location": {"lat": "north", "lng": "east"},
    "only latitude": {"lng": ""},
    "outside location": {"lat": "30.0", "lng": "100.0"},
    "no location": {"lat": "", "lng": "", "address": ""},
    "unknown category": {"category": "999999"},
    "category not a number": {"category": "1; DROP TABLE"},
    "missing key": {"idempotency_key": None},
    "malformed key": {"idempotency_key": "not-a-uuid"},
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_gets_a_chinese_message_and_creates_nothing(world: World, client: Client, case: str) -> None:
    response = post(client, report_data(world, **BAD_INPUTS[case]))

    assert response.status_code == 400
    html = body(response)
    pattern = r'<ul class="field-errors"[^>]*>(.*?)</ul>|<div class="form-alert"[^>]*>(.*?)</div>'
    errors = re.findall(pattern, html, re.S)
    assert errors, "no error message shown"
    assert any(CJK.search(a + b) for a, b in errors)
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    ("photos", "message"),
    [
        (lambda: [make_photo() for _ in range(10)], "最多上传 9 张照片"),
        (lambda: [html_file()], "无法识别的图片文件"),
        (lambda: [SimpleUploadedFile("empty.jpg", b"", content_type="image/jpeg")], "照片文件是空的"),
        (lambda: [SimpleUploadedFile("x.svg", b'<svg onload="alert(1)"/>', content_type="image/svg+xml")],
         "无法识别的图片文件"),
    ],
    ids=["ten photos", "html renamed jpg", "zero bytes", "svg"],
)
def test_bad_photos_are_refused_next_to_the_photo_field(
    world: World, client: Client, photos: Any, message: str
) -> None:
    response = post(client, {**report_data(world), "photos": photos()})

    assert response.status_code == 400
    html = body(response)
    errors = re.search(r'data-testid="photos-errors"[^>]*>(.*?)</ul>', html, re.S)
    assert errors and message in errors.group(1)
    assert 'data-testid="photos-reselect"' in html
    assert Case.objects.count() == 0
    assert Attachment.objects.count() == 0


@pytest.mark.parametrize("count", [21, 101])
def test_too_many_files_in_one_request_get_a_clean_400_page(world: World, count: int) -> None:
    # With CSRF enforced the middleware parses the body before the view: the same page must come back.
    for client in (Client(), Client(enforce_csrf_checks=True)):
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body(client.get(URL)))
        assert token
        files = [SimpleUploadedFile(f"p{i}.jpg", b"x", content_type="image/jpeg") for i in range(count)]
        data = {**report_data(world), "photos": files, "csrfmiddlewaretoken": token.group(1)}
        response = client.post(URL, data)

        assert response.status_code == 400
        html = body(response)
        assert "请求无法处理" in html
        assert "Traceback" not in html
    assert Case.objects.count() == 0


def test_a_refused_form_keeps_what_was_typed(world: World, client: Client) -> None:
    data = report_data(world, lat="30.0", lng="100.0", address="金业路口")

    html = body(post(client, data))

    assert DESCRIPTION in html
    assert 'value="金业路口"' in html
    assert 'value="30.0"' in html
    assert f'<option value="{world.category.pk}" selected>' in html
    assert f'value="{data["idempotency_key"]}"' in html
    assert "服务范围" in html


def test_a_deactivated_category_is_refused_on_submit(world: World, client: Client) -> None:
    data = report_data(world)
    Category.objects.filter(pk=world.category.pk).update(is_active=False)

    response = post(client, data)

    assert response.status_code == 400
    assert "已停用" in body(response)
    assert Case.objects.count() == 0


def test_flooding_from_one_address_is_refused(world: World, client: Client) -> None:
    with mock.patch.object(views, "REPORTS_PER_ADDRESS", throttle.Limit("report-address-test", 2, 3600)):
        statuses = [post(client, report_data(world)).status_code for _ in range(3)]

    assert statuses == [302, 302, 429]
    assert Case.objects.count() == 2


def test_get_and_post_only(world: World, client: Client) -> None:
    assert client.put(URL).status_code == 405
