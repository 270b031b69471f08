""""Same problem?" on the report page, "me too", and the public page of a merged report.

The lookup is public: it must return public titles and nothing about who reported, never a
letter to the secretary or a finished case, and it is limited per address. Saying "me too"
needs an account, works once per case, and names no one on the timeline.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.accounts import throttle
from sizhi.cases import merging, services
from sizhi.cases.models import Case, CaseEvent, CaseSupporter
from sizhi.cases.workflow import CaseAction, CaseStatus, Channel
from sizhi.conftest import World, inside
from sizhi.web import views
from sizhi.web.tests.factories import DESCRIPTION, closed

SIMILAR = reverse("web:similar")
ITEM_KEYS = {"title", "status", "distance_m", "created", "support_url"}


def submit(world: World, *, reporter: str | None = "citizen", grid=None, **kwargs: Any) -> Case:
    lat, lng = inside(grid or world.grid_a1)
    return services.report_submit(
        reporter=world.user(reporter) if reporter else None, description=kwargs.pop("description", DESCRIPTION),
        lat=lat, lng=lng, **kwargs,
    )


def lookup(client: Client, world: World, text: str = DESCRIPTION, grid=None, **extra: str) -> Any:
    lat, lng = inside(grid or world.grid_a1)
    params = {"lat": f"{lat:.6f}", "lng": f"{lng:.6f}", "text": text, **extra}
    return client.get(SIMILAR, params)


# --- the lookup --------------------------------------------------------------------------------


def test_lookup_returns_public_fields_of_open_cases_only(world: World, client: Client) -> None:
    open_case = submit(world)
    letter = submit(world, reporter="citizen2", channel=Channel.MAILBOX)
    finished = closed(world, submit(world, reporter="citizen2"))
    refused = submit(world)
    services.case_reject(case=refused, actor=world.user("town_dispatcher"), kind="invalid", reason="无效信息")

    response = lookup(client, world)

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    items = response.json()["items"]
    assert len(items) == 1
    item = items[0]
    assert set(item) == ITEM_KEYS
    assert item["title"] == open_case.title
    assert item["status"] == "待受理"
    assert item["distance_m"] == 0
    assert item["support_url"] == reverse("web:case_support", args=[open_case.pk])
    assert len(item["created"]) == 10  # a day, not a time
    body = response.content.decode()
    for case in (open_case, letter, finished, refused):
        assert case.tracking_code not in body and case.number not in body
    for secret in ("13800000001", "13800000002", "张三", "李四", "citizen"):
        assert secret not in body


def test_lookup_returns_at_most_five(world: World, client: Client) -> None:
    for _ in range(7):
        submit(world)
    assert len(lookup(client, world).json()["items"]) == 5


def test_lookup_needs_a_place_and_eight_characters(world: World, client: Client) -> None:
    submit(world)
    assert lookup(client, world, text="井盖缺失很危险").json() == {"items": []}  # 7 characters
    assert len(lookup(client, world, text="井盖缺失夜间危险").json()["items"]) == 1  # 8
    assert client.get(SIMILAR, {"text": DESCRIPTION}).status_code == 400
    assert client.get(SIMILAR, {"lat": "nan", "lng": "112.4", "text": DESCRIPTION}).status_code == 400
    assert client.get(SIMILAR, {"lat": "91", "lng": "112.4", "text": DESCRIPTION}).status_code == 400
    assert lookup(client, world, grid=world.grid_b1).json() == {"items": []}  # far away


def test_lookup_is_limited_per_address(world: World, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "SIMILAR_LOOKUPS", throttle.Limit("similar-address", 3, 600))
    for _ in range(3):
        assert lookup(client, world).status_code == 200
    response = lookup(client, world)
    assert response.status_code == 429 and response.json()["error"] == "throttled"
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert lookup(other, world).status_code == 200


def test_lookup_only_answers_get(world: World, client: Client) -> None:
    assert client.post(SIMILAR, {}).status_code == 405


# --- the report page ---------------------------------------------------------------------------


def test_report_page_has_the_same_problem_list_above_the_submit_button(world: World, client: Client) -> None:
    html = client.get(reverse("web:report")).content.decode()
    box = html.index('data-testid="similar-cases"')
    assert box < html.index('data-testid="report-submit"')
    assert f'data-url="{SIMILAR}"' in html
    assert 'data-authenticated="0"' in html and "登录后附议" in html
    assert "不是同一问题，继续提交" in html and "我也遇到（附议）" in html
    client.force_login(world.user("citizen"))
    assert 'data-authenticated="1"' in client.get(reverse("web:report")).content.decode()


# --- me too ------------------------------------------------------------------------------------


def support(client: Client, case: Case) -> Any:
    return client.post(reverse("web:case_support", args=[case.pk]), HTTP_ACCEPT="application/json")


def test_me_too_needs_an_account(world: World, client: Client) -> None:
    case = submit(world)
    response = support(client, case)
    assert response.status_code == 401
    assert response.json()["error"] == "login_required"
    assert response.json()["login_url"].startswith(reverse("accounts:login"))
    assert not CaseSupporter.objects.exists()


def test_me_too_works_once(world: World, client: Client) -> None:
    case = submit(world)
    client.force_login(world.user("citizen2"))

    first = support(client, case)
    assert first.status_code == 200 and first.json()["ok"] is True and first.json()["count"] == 1
    second = support(client, case)
    assert second.status_code == 400 and second.json()["error"] == "support_already"
    assert CaseSupporter.objects.filter(case=case).count() == 1
    event = CaseEvent.objects.get(case=case, action=CaseAction.SUPPORT)
    assert event.actor is None and event.data == {"count": 1}
    case.refresh_from_db()
    assert case.status == CaseStatus.REPORTED


def test_me_too_refused_on_own_finished_and_confidential_cases(world: World, client: Client) -> None:
    client.force_login(world.user("citizen"))
    own = submit(world)
    assert support(client, own).json()["error"] == "support_own_case"
    finished = closed(world, submit(world, reporter="citizen2"))
    assert support(client, finished).status_code == 409
    letter = submit(world, reporter="citizen2", channel=Channel.MAILBOX)
    assert support(client, letter).status_code == 404
    assert client.post(reverse("web:case_support", args=[999999])).status_code == 404
    assert not CaseSupporter.objects.exists()


def test_me_too_needs_the_csrf_token(world: World) -> None:
    case = submit(world)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.user("citizen2"))
    assert support(client, case).status_code == 403
    assert not CaseSupporter.objects.exists()


def test_me_too_is_limited_per_account(world: World, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "SUPPORTS_PER_USER", throttle.Limit("support-user", 1, 600))
    client.force_login(world.user("citizen2"))
    assert support(client, submit(world)).status_code == 200
    assert support(client, submit(world)).status_code == 429


def test_public_timeline_counts_supporters_without_names(world: World, client: Client) -> None:
    case = submit(world)
    merging.case_support(case=case, user=world.user("citizen2"))
    html = client.get(reverse("web:case_track", args=[case.tracking_code])).content.decode()
    assert 'data-action="support"' in html and "共 1 人附议" in html
    assert "李四" not in html and "13800000002" not in html


# --- the merged report's public page -----------------------------------------------------------


def merged_pair(world: World) -> tuple[Case, Case]:
    primary = submit(world, reporter="citizen")
    copy = submit(world, reporter="citizen2")
    merging.case_merge(case=copy, into=primary, actor=world.user("town_dispatcher"))
    copy.refresh_from_db()
    return primary, copy


def test_merged_report_shows_the_primary_number_and_status_but_not_its_page(world: World, client: Client) -> None:
    primary, copy = merged_pair(world)
    html = client.get(reverse("web:case_track", args=[copy.tracking_code])).content.decode()
    assert 'data-status="merged"' in html
    assert f"已与 {primary.number} 并案办理" in html
    assert 'data-testid="primary-status" data-status="reported">待受理<' in html
    assert primary.tracking_code not in html and 'data-testid="primary-link"' not in html
    assert f"并入案件 {primary.number}" in html  # the MERGE event on the timeline


def test_merged_report_links_the_primary_for_who_holds_its_code(world: World, client: Client) -> None:
    primary, copy = merged_pair(world)
    primary_url = reverse("web:case_track", args=[primary.tracking_code])
    # The primary's reporter finds it under 我的反映 anyway.
    client.force_login(world.user("citizen"))
    html = client.get(reverse("web:case_track", args=[copy.tracking_code])).content.decode()
    assert f'href="{primary_url}" data-testid="primary-link"' in html
    # So does the browser that holds the primary's receipt.
    other = Client()
    session = other.session
    session[views.RECEIPT_SESSION_KEY] = primary.tracking_code
    session.save()
    html = other.get(reverse("web:case_track", args=[copy.tracking_code])).content.decode()
    assert 'data-testid="primary-link"' in html
    # Its own reporter (now a supporter) does not hold it.
    client.force_login(world.user("citizen2"))
    html = client.get(reverse("web:case_track", args=[copy.tracking_code])).content.decode()
    assert 'data-testid="primary-link"' not in html and primary.tracking_code not in html


def test_merged_report_is_not_offered_as_similar(world: World, client: Client) -> None:
    primary, _copy = merged_pair(world)
    items = lookup(client, world).json()["items"]
    assert [i["support_url"] for i in items] == [reverse("web:case_support", args=[primary.pk])]
