"""Reading cases through the API: the staff list (scope, filters, ordering allow-list,
pagination), the citizen's own cases, detail with timeline, photos — and 404 out of scope,
403 for administrators, exactly like the workbench."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sizhi.api.tests.conftest import case_in, reported
from sizhi.cases import services
from sizhi.cases.models import Case, Category
from sizhi.cases.workflow import CaseStatus
from sizhi.conftest import World, inside, make_photo

pytestmark = pytest.mark.django_db
S = CaseStatus
ADMINS = ["system_admin", "security_admin", "audit_admin"]


# --- list ----------------------------------------------------------------------------------------


def test_list_is_scoped_like_the_workbench(world: World, as_user) -> None:
    mine = reported(world)
    other = reported(world, grid=world.grid_b1)
    town_a = {c["id"] for c in as_user("town_dispatcher").get("/cases").json()["results"]}
    town_b = {c["id"] for c in as_user("town_dispatcher_b").get("/cases").json()["results"]}
    city = {c["id"] for c in as_user("city_dispatcher").get("/cases").json()["results"]}
    assert town_a == {mine.pk}
    assert town_b == {other.pk}
    assert city == {mine.pk, other.pk}


def test_grid_worker_sees_only_own_grid(world: World, as_user) -> None:
    mine = reported(world)
    reported(world, grid=world.grid_a1b)
    body = as_user("grid_worker").get("/cases").json()
    assert [c["id"] for c in body["results"]] == [mine.pk]
    assert body["count"] == 1


@pytest.mark.parametrize("role", ADMINS)
def test_list_is_forbidden_to_administrators(world: World, as_user, role: str) -> None:
    reported(world)
    response = as_user(role).get("/cases")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_list_is_forbidden_to_citizens(world: World, as_user) -> None:
    reported(world)
    response = as_user("citizen").get("/cases")
    assert response.status_code == 403


def test_list_needs_authentication(world: World, as_user) -> None:
    response = as_user(None).get("/cases")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_list_filters_by_status_and_search(world: World, as_user) -> None:
    waiting = reported(world)
    accepted = case_in(world, S.ACCEPTED)
    client = as_user("town_dispatcher")
    assert [c["id"] for c in client.get("/cases?status=accepted").json()["results"]] == [accepted.pk]
    assert [c["id"] for c in client.get(f"/cases?q={waiting.number}").json()["results"]] == [waiting.pk]
    assert client.get("/cases?q=%00%00").status_code == 200


def test_list_filters_by_category_including_children(world: World, as_user) -> None:
    registered = case_in(world, S.REGISTERED)  # registered with world.category, a child of "roads"
    reported(world)  # no category yet
    parent = world.category.parent
    assert parent is not None
    client = as_user("town_dispatcher")
    assert [c["id"] for c in client.get(f"/cases?category={parent.pk}").json()["results"]] == [registered.pk]
    assert [c["id"] for c in client.get(f"/cases?category={world.category.pk}").json()["results"]] == [registered.pk]
    other = Category.objects.exclude(pk__in=[parent.pk, world.category.pk]).filter(parent__isnull=True).first()
    assert other is not None
    assert client.get(f"/cases?category={other.pk}").json()["count"] == 0


def test_list_unknown_category_is_400(world: World, as_user) -> None:
    response = as_user("town_dispatcher").get("/cases?category=999999")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "category_not_found"
    assert "category" in response.json()["error"]["fields"]


def test_list_filters_by_local_dates(world: World, as_user) -> None:
    old = reported(world)
    new = reported(world)
    # 2026-03-01 23:30 in Shanghai is still 2026-03-01 locally but 15:30 UTC the same day.
    local = timezone.get_current_timezone()
    Case.objects.filter(pk=old.pk).update(created_at=datetime(2026, 3, 1, 23, 30, tzinfo=local))
    Case.objects.filter(pk=new.pk).update(created_at=datetime(2026, 3, 2, 0, 30, tzinfo=local))
    client = as_user("town_dispatcher")
    ids = lambda q: [c["id"] for c in client.get(f"/cases?{q}").json()["results"]]  # noqa: E731
    assert ids("from=2026-03-01&to=2026-03-01") == [old.pk]
    assert ids("from=2026-03-02") == [new.pk]
    assert ids("to=2026-03-01") == [old.pk]
    assert ids("from=2026-03-03") == []
    assert set(ids("from=0001-01-01&to=9999-12-31")) == {old.pk, new.pk}


@pytest.mark.parametrize("query", ["from=2026-02-30", "to=yesterday", "from=%00", "from=2026-1-1x"])
def test_list_bad_dates_are_400(world: World, as_user, query: str) -> None:
    response = as_user("town_dispatcher").get(f"/cases?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(("ordering", "first"), [("newest", 1), ("oldest", 0), ("updated", 0), ("number", 0)])
def test_list_orderings_from_the_allow_list(world: World, as_user, ordering: str, first: int) -> None:
    cases = [reported(world), reported(world)]
    Case.objects.filter(pk=cases[1].pk).update(created_at=timezone.now() + timedelta(minutes=1))
    Case.objects.filter(pk=cases[0].pk).update(updated_at=timezone.now() + timedelta(minutes=2))
    body = as_user("town_dispatcher").get(f"/cases?ordering={ordering}").json()
    assert body["results"][0]["id"] == cases[first].pk


@pytest.mark.parametrize("ordering", ["pg_sleep(5)", "-id", "created_at", "title;DROP TABLE x", "%00", "newest "])
def test_list_ordering_outside_the_allow_list_is_400(world: World, as_user, ordering: str) -> None:
    response = as_user("town_dispatcher").get(f"/cases?ordering={ordering}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "ordering_invalid"
    assert "ordering" in error["fields"]
    assert "pg_sleep" not in error["message"]


def test_list_pagination(world: World, as_user) -> None:
    for _ in range(5):
        reported(world)
    client = as_user("town_dispatcher")
    page = client.get("/cases?page_size=2&page=2").json()
    assert page["count"] == 5
    assert len(page["results"]) == 2
    assert "page=3" in page["next"] and "page=1" in page["previous"]
    last = client.get("/cases?page_size=2&page=3").json()
    assert len(last["results"]) == 1 and last["next"] is None
    beyond = client.get("/cases?page_size=2&page=9").json()
    assert beyond["results"] == [] and "page=3" in beyond["previous"]


@pytest.mark.parametrize("query", ["page_size=101", "page_size=0", "page=0", "page=-1", "page=abc", "page=1e3",
                                   "page=99999999999999999999999"])
def test_list_pagination_bounds(world: World, as_user, query: str) -> None:
    response = as_user("town_dispatcher").get(f"/cases?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_list_query_count_does_not_grow_with_rows(world: World, as_user) -> None:
    client = as_user("town_dispatcher")
    reported(world)
    client.get("/cases?page_size=1")  # the token's first use of the minute writes last_used_at
    with CaptureQueriesContext(connection) as small:
        client.get("/cases?page_size=100")
    for _ in range(6):
        case_in(world, S.DISPATCHED)
    with CaptureQueriesContext(connection) as large:
        client.get("/cases?page_size=100")
    assert len(large) == len(small)


# --- the citizen's own cases ---------------------------------------------------------------------


def test_my_cases_lists_only_my_reports(world: World, as_user) -> None:
    mine = reported(world)
    reported(world, reporter="citizen2")
    anonymous = reported(world, anonymous=True)
    body = as_user("citizen").get("/me/cases").json()
    assert [c["id"] for c in body["results"]] == [mine.pk]
    assert anonymous.pk not in [c["id"] for c in body["results"]]


def test_my_cases_is_forbidden_to_administrators(world: World, as_user) -> None:
    assert as_user("audit_admin").get("/me/cases").status_code == 403


# --- detail --------------------------------------------------------------------------------------


def test_detail_in_scope_has_the_internal_timeline(world: World, as_user) -> None:
    case = case_in(world, S.DISPATCHED)
    body = as_user("town_dispatcher").get(f"/cases/{case.pk}").json()
    assert body["number"] == case.number
    assert body["status"] == "dispatched"
    assert [e["action"] for e in body["timeline"]] == ["submit", "accept", "register", "dispatch"]
    assert body["timeline"][1]["actor"] == "town_dispatcher"
    assert body["reporter"] == "张* · 138****0001"
    assert body["tracking_code"] is None
    assert body["assigned_unit"]["name"] == "金业路社区居委会"


def test_detail_for_the_reporter_is_public_only(world: World, as_user) -> None:
    case = case_in(world, S.DISPATCHED)
    case.events.filter(action="register").update(is_public=False)
    body = as_user("citizen").get(f"/cases/{case.pk}").json()
    assert [e["action"] for e in body["timeline"]] == ["submit", "accept", "dispatch"]
    assert all(e["actor"] is None for e in body["timeline"])
    assert body["reporter"] is None
    assert body["tracking_code"] == case.tracking_code
    assert body["allowed_actions"] == []


def test_detail_lists_the_actions_the_user_may_take(world: World, as_user) -> None:
    case = reported(world)
    assert set(as_user("town_dispatcher").get(f"/cases/{case.pk}").json()["allowed_actions"]) == {"accept", "reject"}
    assert as_user("grid_worker").get(f"/cases/{case.pk}").json()["allowed_actions"] == []


@pytest.mark.parametrize("role", ["town_dispatcher_b", "grid_worker_b", "citizen2"])
def test_detail_out_of_scope_is_404(world: World, as_user, role: str) -> None:
    case = reported(world)
    response = as_user(role).get(f"/cases/{case.pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_detail_out_of_scope_and_missing_answer_alike(world: World, as_user) -> None:
    case = reported(world)
    client = as_user("town_dispatcher_b")
    hidden = client.get(f"/cases/{case.pk}").json()
    missing = client.get(f"/cases/{case.pk + 1000}").json()
    assert hidden == missing


@pytest.mark.parametrize("role", ADMINS)
def test_detail_is_forbidden_to_administrators(world: World, as_user, role: str) -> None:
    case = reported(world)
    assert as_user(role).get(f"/cases/{case.pk}").status_code == 403


@pytest.mark.parametrize("case_id", ["0", "-1", "abc", "1.5", "99999999999999999999999", "%00", "1%00"])
def test_detail_bad_ids_are_4xx(world: World, as_user, case_id: str) -> None:
    response = as_user("town_dispatcher").get(f"/cases/{case_id}")
    assert response.status_code in {400, 404}
    assert response.json()["error"]["code"] in {"validation_error", "not_found"}


def test_detail_out_of_range_id_is_400(world: World, as_user) -> None:
    response = as_user("town_dispatcher").get(f"/cases/{2**63}")
    assert response.status_code == 400


# --- photos --------------------------------------------------------------------------------------


def _case_with_photos(world: World) -> Case:
    lat, lng = inside(world.grid_a1)
    case = services.report_submit(
        reporter=world.user("citizen"), description="路灯不亮，晚上很黑", lat=lat, lng=lng,
        photos=[make_photo(exif_gps=True)],
    )
    while case.status != S.HANDLING:
        from sizhi.api.tests.conftest import _step

        _step(world, case)
    services.case_handle(case=case, actor=world.user("village_cadre"), result="已修复", photos=[make_photo()])
    return case


def test_photos_are_listed_and_served_to_those_in_scope(world: World, as_user) -> None:
    case = _case_with_photos(world)
    client = as_user("town_dispatcher")
    body = client.get(f"/cases/{case.pk}").json()
    assert [p["kind"] for p in body["photos"]] == ["report", "handling"]
    handle_event = next(e for e in body["timeline"] if e["action"] == "handle")
    assert len(handle_event["photos"]) == 1
    response = client.get(body["photos"][0]["url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    content = b"".join(response.streaming_content)
    assert content.startswith(b"\xff\xd8") and b"TestCam" not in content


def test_photos_follow_the_public_timeline_for_the_reporter(world: World, as_user) -> None:
    case = _case_with_photos(world)
    case.events.filter(action="handle").update(is_public=False)
    staff = as_user("town_dispatcher").get(f"/cases/{case.pk}").json()
    handling = next(p for p in staff["photos"] if p["kind"] == "handling")
    citizen = as_user("citizen")
    body = citizen.get(f"/cases/{case.pk}").json()
    assert [p["kind"] for p in body["photos"]] == ["report"]
    assert citizen.get(body["photos"][0]["url"]).status_code == 200
    assert citizen.get(handling["url"]).status_code == 404


def test_photo_out_of_scope_is_404(world: World, as_user) -> None:
    case = _case_with_photos(world)
    photo = case.attachments.first()
    assert photo is not None
    assert as_user("town_dispatcher_b").get(f"/cases/{case.pk}/photos/{photo.pk}").status_code == 404
    other = reported(world)
    # A photo id of another case through a case one may see: still 404.
    assert as_user("town_dispatcher").get(f"/cases/{other.pk}/photos/{photo.pk}").status_code == 404
    assert as_user("audit_admin").get(f"/cases/{case.pk}/photos/{photo.pk}").status_code == 403
