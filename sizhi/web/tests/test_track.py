"""The public case page reached by tracking code: what it shows, what it hides, its photos,
rating and reopening, and the limit on guessing codes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sizhi.accounts import throttle
from sizhi.cases.models import Attachment, AttachmentKind, Case, CaseEvent
from sizhi.cases.workflow import CaseAction, CaseStatus, Satisfaction
from sizhi.conftest import World
from sizhi.web import views
from sizhi.web.tests.factories import closed, reported

STAFF = ["town_dispatcher", "village_cadre", "grid_worker"]


def track_url(case: Case) -> str:
    return reverse("web:case_track", args=[case.tracking_code])


def body(response: Any) -> str:
    return response.content.decode()


# --- the page ----------------------------------------------------------------------------------


def test_page_shows_status_category_number_and_public_timeline(world: World, client: Client) -> None:
    case = closed(world, reported(world, reporter=world.user("citizen")))

    response = client.get(track_url(case))
    html = body(response)

    assert response.status_code == 200
    assert f'data-status="{CaseStatus.CLOSED}"' in html
    assert "已结案" in html
    assert case.number in html
    assert world.category.name in html
    for action in (CaseAction.SUBMIT, CaseAction.ACCEPT, CaseAction.DISPATCH, CaseAction.HANDLE, CaseAction.CLOSE):
        assert f'data-action="{action}"' in html
    assert "已补装井盖" in html  # the handling result is public
    assert world.village_a1_committee.name in html  # the unit, not the person


def test_page_never_shows_staff_names_or_internal_events(world: World, client: Client) -> None:
    for name in STAFF:
        user = world.user(name)
        user.first_name, user.last_name, user.display_name = "王", "五", f"王五{name}"
        user.save()
    case = closed(world, reported(world))
    CaseEvent.objects.create(
        case=case, action=CaseAction.ACCEPT, from_status=case.status, to_status=case.status,
        actor=world.user("town_dispatcher"), reason="内部研判意见：疑似重复", is_public=False,
    )

    html = body(client.get(track_url(case)))

    assert "内部研判意见" not in html
    assert "王五" not in html
    for name in STAFF:
        assert name not in html
    assert html.count('data-testid="timeline-event"') == case.events.filter(is_public=True).count()


def test_page_hides_the_reporter(world: World, client: Client) -> None:
    case = reported(world, reporter=world.user("citizen"))

    html = body(client.get(track_url(case)))

    assert "张三" not in html
    assert "13800000001" not in html


@pytest.mark.parametrize("code", ["nope", "A" * 22, "../../etc/passwd", "%00", "x" * 200])
def test_unknown_code_is_404(world: World, client: Client, code: str) -> None:
    assert client.get(f"/track/{code}/").status_code == 404


# --- photos ------------------------------------------------------------------------------------


def test_report_photo_is_streamed_for_its_tracking_code(world: World, client: Client) -> None:
    case = reported(world, photos=2)
    photo = Attachment.objects.filter(case=case).first()
    assert photo is not None
    url = reverse("web:case_photo", args=[case.tracking_code, photo.pk])

    html = body(client.get(track_url(case)))
    response = client.get(url)

    assert html.count('data-testid="case-photo"') == 2
    assert url in html
    assert "/media/" not in html
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response.getvalue()[:2] == b"\xff\xd8"


def test_photo_with_wrong_code_or_of_another_case_is_404(world: World, client: Client) -> None:
    case = reported(world, photos=1)
    other = reported(world, photos=1)
    photo = Attachment.objects.get(case=case)

    assert client.get(reverse("web:case_photo", args=["A" * 22, photo.pk])).status_code == 404
    assert client.get(reverse("web:case_photo", args=[other.tracking_code, photo.pk])).status_code == 404
    assert client.get(reverse("web:case_photo", args=[case.tracking_code, 999999])).status_code == 404


def test_handling_photos_are_not_served_by_tracking_code(world: World, client: Client) -> None:
    case = closed(world, reported(world))
    handling = Attachment.objects.get(case=case, kind=AttachmentKind.HANDLING)

    assert client.get(reverse("web:case_photo", args=[case.tracking_code, handling.pk])).status_code == 404


# --- lookup form and its limit -----------------------------------------------------------------


def test_lookup_redirects_to_the_case(world: World, client: Client) -> None:
    case = reported(world)

    response = client.post(reverse("web:track"), {"code": f"  {case.tracking_code} "})

    assert response.status_code == 302
    assert response["Location"] == track_url(case)


def test_lookup_of_unknown_code_says_so(world: World, client: Client) -> None:
    response = client.post(reverse("web:track"), {"code": "A" * 22})

    assert response.status_code == 404
    assert "没有找到" in body(response)


def test_lookups_are_limited_per_address(world: World, client: Client) -> None:
    case = reported(world)
    limit = throttle.Limit("track-test", 3, 600)
    with mock.patch.object(views, "TRACK_LOOKUPS", limit):
        statuses = [client.post(reverse("web:track"), {"code": "A" * 22}).status_code for _ in range(3)]
        blocked = client.post(reverse("web:track"), {"code": case.tracking_code})
        blocked_url = client.get(track_url(case))
        other_address = client.post(reverse("web:track"), {"code": case.tracking_code}, REMOTE_ADDR="10.0.0.9")

    assert statuses == [404, 404, 404]
    # Over the limit even a right code is not looked up, so hits and misses look alike.
    assert blocked.status_code == 429
    assert "查询次数过多" in body(blocked)
    assert blocked_url.status_code == 429
    assert other_address.status_code == 302


def test_misses_on_tracking_urls_count_too(world: World, client: Client) -> None:
    case = reported(world)
    with mock.patch.object(views, "TRACK_LOOKUPS", throttle.Limit("track-test-url", 2, 600)):
        assert client.get(track_url(case)).status_code == 200  # a hit does not count
        assert client.get("/track/AAAAAAAAAAAAAAAAAAAAAA/").status_code == 404
        assert client.get("/track/BBBBBBBBBBBBBBBBBBBBBB/").status_code == 404
        assert client.get(track_url(case)).status_code == 429


# --- rating and reopening ----------------------------------------------------------------------


def rate(client: Client, case: Case, satisfaction: str, comment: str = "") -> Any:
    return client.post(
        reverse("web:case_rate", args=[case.tracking_code]), {"satisfaction": satisfaction, "comment": comment}
    )


def test_rate_form_appears_only_after_closure(world: World, client: Client) -> None:
    case = reported(world, anonymous=True)
    assert 'data-testid="rate-form"' not in body(client.get(track_url(case)))

    closed(world, case)
    assert 'data-testid="rate-form"' in body(client.get(track_url(case)))


def test_anonymous_reporter_rates_by_tracking_code(world: World, client: Client) -> None:
    case = closed(world, reported(world, anonymous=True))

    response = rate(client, case, Satisfaction.SATISFIED, "修得很快，谢谢")

    assert response.status_code == 302
    case.refresh_from_db()
    assert case.satisfaction == Satisfaction.SATISFIED
    assert case.rating_comment == "修得很快，谢谢"
    event = case.events.get(action=CaseAction.RATE)
    assert event.actor is None
    html = body(client.get(track_url(case)))
    assert 'data-testid="rate-form"' not in html
    assert "修得很快，谢谢" in html


def test_signed_in_reporter_rates_as_themselves(world: World, client: Client) -> None:
    citizen = world.user("citizen")
    case = closed(world, reported(world, reporter=citizen))
    client.force_login(citizen)

    rate(client, case, Satisfaction.BASICALLY)

    assert case.events.get(action=CaseAction.RATE).actor == citizen


def test_another_signed_in_user_with_the_code_is_not_linked_to_the_case(world: World, client: Client) -> None:
    case = closed(world, reported(world, anonymous=True))
    client.force_login(world.user("citizen2"))

    rate(client, case, Satisfaction.SATISFIED)

    assert case.events.get(action=CaseAction.RATE).actor is None


def test_rating_twice_is_refused(world: World, client: Client) -> None:
    case = closed(world, reported(world, anonymous=True))
    rate(client, case, Satisfaction.SATISFIED)

    response = rate(client, case, Satisfaction.UNSATISFIED)

    assert response.status_code == 409
    case.refresh_from_db()
    assert case.satisfaction == Satisfaction.SATISFIED
    assert case.events.filter(action=CaseAction.RATE).count() == 1


@pytest.mark.parametrize("value", ["", "great", "satisfied\x00"])
def test_rating_with_bad_choice_is_refused(world: World, client: Client, value: str) -> None:
    case = closed(world, reported(world, anonymous=True))

    response = rate(client, case, value)

    assert response.status_code == 400
    assert "请选择满意、基本满意或不满意" in body(response)
    case.refresh_from_db()
    assert case.rated_at is None


def test_rating_before_closure_is_refused(world: World, client: Client) -> None:
    case = reported(world, anonymous=True)

    response = rate(client, case, Satisfaction.SATISFIED)

    assert response.status_code == 409
    assert not case.events.filter(action=CaseAction.RATE).exists()


def test_unsatisfied_reporter_reopens_by_tracking_code(world: World, client: Client) -> None:
    case = closed(world, reported(world, anonymous=True))
    rate(client, case, Satisfaction.UNSATISFIED, "井盖还是松的")
    assert 'data-testid="reopen-form"' in body(client.get(track_url(case)))

    url = reverse("web:case_reopen", args=[case.tracking_code])
    response = client.post(url, {"reason": "井盖还是松的，踩上去会翻"})

    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.REGISTERED
    assert case.events.get(action=CaseAction.REOPEN).actor is None
    assert 'data-testid="reopen-form"' not in body(client.get(track_url(case)))


def test_reopen_needs_a_reason(world: World, client: Client) -> None:
    case = closed(world, reported(world, anonymous=True))
    rate(client, case, Satisfaction.UNSATISFIED)

    response = client.post(reverse("web:case_reopen", args=[case.tracking_code]), {"reason": " "})

    assert response.status_code == 400
    assert "请说明哪里还没有解决" in body(response)
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED


def test_satisfied_or_late_reporter_cannot_reopen(world: World, client: Client) -> None:
    satisfied = closed(world, reported(world, anonymous=True))
    rate(client, satisfied, Satisfaction.SATISFIED)
    late = closed(world, reported(world, anonymous=True))
    rate(client, late, Satisfaction.UNSATISFIED)
    Case.objects.filter(pk=late.pk).update(closed_at=timezone.now() - timedelta(days=30))

    for case in (satisfied, late):
        assert 'data-testid="reopen-form"' not in body(client.get(track_url(case)))
        response = client.post(reverse("web:case_reopen", args=[case.tracking_code]), {"reason": "还没修好"})
        assert response.status_code == 400
        assert "重新办理" in body(response)
        case.refresh_from_db()
        assert case.status == CaseStatus.CLOSED


def test_rate_and_reopen_are_post_only(world: World, client: Client) -> None:
    case = closed(world, reported(world, anonymous=True))
    assert client.get(reverse("web:case_rate", args=[case.tracking_code])).status_code == 405
    assert client.get(reverse("web:case_reopen", args=[case.tracking_code])).status_code == 405


def test_case_page_queries_do_not_grow_with_the_timeline(
    world: World, client: Client, django_assert_max_num_queries: Any
) -> None:
    case = closed(world, reported(world, photos=3))

    with django_assert_max_num_queries(10):
        response = client.get(track_url(case))

    assert response.status_code == 200
