"""并案 suggestions: open cases nearby with the same problem are offered, anything else is not,
and a letter to the party secretary never is."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sizhi.cases import services
from sizhi.cases.models import Case, Category
from sizhi.cases.workflow import CaseStatus, Channel
from sizhi.conftest import World, inside
from sizhi.insight.duplicates import (
    MAX_CANDIDATES,
    Candidate,
    bounding_box,
    haversine_m,
    score_candidates,
    similar_open_cases,
)

NOISE = "金业路12号楼下烧烤店油烟很大，晚上十二点还很吵，影响休息"
NOISE_AGAIN = "金业路烧烤店油烟扰民，半夜还很吵，睡不着觉"
POTHOLE = "金业路与中州路路口路面塌陷出现大坑，车辆无法通行"
# 0.001 degree of latitude is about 111 m.
METRES_PER_DEG_LAT = 111_195


def report(world: World, description: str, *, dlat: float = 0.0, dlng: float = 0.0, **kwargs: Any) -> Case:
    lat, lng = inside(world.grid_a1)
    return services.report_submit(
        reporter=world.user("citizen"), description=description, lat=lat + dlat, lng=lng + dlng, **kwargs
    )


def suggest(world: World, text: str = NOISE_AGAIN, *, dlat: float = 0.0, **kwargs: Any) -> list[int]:
    lat, lng = inside(world.grid_a1)
    return [s.case_id for s in similar_open_cases(text=text, lat=lat + dlat, lng=lng, **kwargs)]


# --- against the database ------------------------------------------------------------------------


def test_same_place_and_similar_text_is_suggested(world: World) -> None:
    case = report(world, NOISE, dlat=0.0005)  # about 55 m away

    lat, lng = inside(world.grid_a1)
    [suggestion] = similar_open_cases(text=NOISE_AGAIN, lat=lat, lng=lng)

    assert suggestion.case_id == case.pk
    assert 40 < suggestion.distance_m < 70
    assert 0 < suggestion.score <= 1
    assert "相距约" in suggestion.reason and "描述相似度" in suggestion.reason


def test_far_away_is_not_suggested(world: World) -> None:
    report(world, NOISE, dlat=0.003)  # about 330 m: beyond the 250 m radius
    assert suggest(world) == []
    # A wider radius finds it.
    assert len(suggest(world, radius_m=400)) == 1


def test_different_subject_at_the_same_place_is_not_suggested(world: World) -> None:
    report(world, POTHOLE)
    assert suggest(world) == []


def test_closed_and_rejected_cases_are_not_suggested(world: World) -> None:
    closed = report(world, NOISE)
    rejected = report(world, NOISE)
    Case.objects.filter(pk=closed.pk).update(status=CaseStatus.CLOSED)
    Case.objects.filter(pk=rejected.pk).update(status=CaseStatus.REJECTED, rejection_kind="invalid")
    assert suggest(world) == []


@pytest.mark.parametrize("status", [CaseStatus.REPORTED, CaseStatus.DISPATCHED, CaseStatus.HANDLING,
                                    CaseStatus.VERIFYING])
def test_every_open_status_is_suggested(world: World, status: str) -> None:
    case = report(world, NOISE)
    Case.objects.filter(pk=case.pk).update(status=status)
    assert suggest(world) == [case.pk]


def test_secretary_mailbox_letters_are_never_suggested(world: World) -> None:
    report(world, NOISE, channel=Channel.MAILBOX)
    report(world, NOISE_AGAIN, channel=Channel.MAILBOX)  # even word for word
    assert suggest(world) == []
    assert suggest(world, NOISE) == []
    assert suggest(world, radius_m=10_000, days=3650) == []


def test_old_cases_are_not_suggested(world: World) -> None:
    case = report(world, NOISE)
    Case.objects.filter(pk=case.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert suggest(world) == []
    assert suggest(world, days=60) == [case.pk]


def test_the_case_itself_is_excluded(world: World) -> None:
    case = report(world, NOISE)
    assert suggest(world, NOISE, exclude_case_id=case.pk) == []


def test_same_category_ranks_first(world: World) -> None:
    noise = Category.objects.get(code="environment-noise")
    other = report(world, NOISE, category=Category.objects.get(code="roads-damage"))
    same = report(world, NOISE, category=noise)

    lat, lng = inside(world.grid_a1)
    suggestions = similar_open_cases(text=NOISE_AGAIN, lat=lat, lng=lng, category=noise)

    assert [s.case_id for s in suggestions] == [same.pk, other.pk]
    assert suggestions[0].score > suggestions[1].score
    assert "同一类别" in suggestions[0].reason and "同一类别" not in suggestions[1].reason


def test_limit_caps_the_list(world: World) -> None:
    for _ in range(4):
        report(world, NOISE)
    assert len(suggest(world, limit=2)) == 2


def test_without_a_location_nothing_is_suggested(world: World) -> None:
    report(world, NOISE)
    assert similar_open_cases(text=NOISE, lat=None, lng=None) == []
    assert similar_open_cases(text="", lat=34.605, lng=112.405) == []


def test_scope_of_the_viewer_applies(world: World) -> None:
    report(world, NOISE)
    assert len(suggest(world, visible_to=world.user("town_dispatcher"))) == 1
    # A dispatcher of another town must not learn that the case exists.
    assert suggest(world, visible_to=world.user("town_dispatcher_b")) == []


def test_candidate_query_is_one_bounded_query(world: World) -> None:
    report(world, NOISE)
    lat, lng = inside(world.grid_a1)
    with CaptureQueriesContext(connection) as ctx:
        similar_open_cases(text=NOISE_AGAIN, lat=lat, lng=lng)
    assert len(ctx.captured_queries) == 1
    sql = ctx.captured_queries[0]["sql"].upper()
    assert f"LIMIT {MAX_CANDIDATES}" in sql
    assert '"LAT" >=' in sql or "LAT >=" in sql.replace('"', "")
    assert "CREATED_AT" in sql and "STATUS" in sql and "CHANNEL" in sql


# --- the pure scorer -----------------------------------------------------------------------------


def candidate(case_id: int, text: str, *, dlat: float = 0.0, category_id: int | None = None) -> Candidate:
    return Candidate(case_id=case_id, title="", description=text, lat=34.6 + dlat, lng=112.4, category_id=category_id)


def test_scorer_orders_by_wording_then_nearness() -> None:
    result = score_candidates(
        text=NOISE_AGAIN, lat=34.6, lng=112.4,
        candidates=[
            candidate(1, NOISE, dlat=0.002),  # about 220 m
            candidate(2, NOISE, dlat=0.0002),  # about 22 m
            candidate(3, POTHOLE),
            candidate(4, NOISE, dlat=0.01),  # about 1.1 km
        ],
    )
    assert [s.case_id for s in result] == [2, 1]
    assert result[0].distance_m == pytest.approx(0.0002 * METRES_PER_DEG_LAT, rel=0.01)


def test_scorer_category_boost_and_cap() -> None:
    result = score_candidates(
        text=NOISE, lat=34.6, lng=112.4, category_id=7,
        candidates=[candidate(1, NOISE, category_id=7), candidate(2, NOISE, category_id=8)],
    )
    assert [s.case_id for s in result] == [1, 2]
    assert result[0].score == 1.0  # identical wording plus the boost, capped
    assert result[1].score == pytest.approx(1.0, abs=0.01)


def test_boilerplate_alone_does_not_make_reports_alike() -> None:
    polite = "尊敬的领导您好，{}，希望尽快解决，谢谢"
    result = score_candidates(
        text=polite.format("路灯坏了好几天了"), lat=34.6, lng=112.4,
        candidates=[candidate(1, polite.format("楼下垃圾堆积没人清运"))],
    )
    assert result == []


def test_geometry_helpers() -> None:
    assert haversine_m(34.6, 112.4, 34.601, 112.4) == pytest.approx(111.2, rel=0.01)
    min_lat, max_lat, min_lng, max_lng = bounding_box(34.6, 112.4, 250)
    assert haversine_m(34.6, 112.4, max_lat, 112.4) == pytest.approx(250, rel=0.01)
    assert haversine_m(34.6, 112.4, 34.6, max_lng) == pytest.approx(250, rel=0.01)
    assert min_lat < 34.6 < max_lat and min_lng < 112.4 < max_lng
