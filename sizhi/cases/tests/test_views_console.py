"""The staff workbench over HTTP: one case round the whole loop, who may enter the console at all,
and the queue and list pages (filters, allow-listed ordering, pagination, query counts)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import FileResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sizhi.cases import services
from sizhi.cases.models import Attachment, AttachmentKind, Case, CaseEvent
from sizhi.cases.workflow import CaseAction, CaseStatus
from sizhi.conftest import World, inside, make_photo

A = CaseAction
S = CaseStatus


def submit(world: World, *, grid=None, description: str = "金业路路口井盖缺失，夜间很危险", photos=()) -> Case:
    # Anonymous: the loop needs no reporter, and an anonymous case is the strictest to display.
    lat, lng = inside(grid or world.grid_a1)
    return services.report_submit(
        reporter=None, description=description, lat=lat, lng=lng, is_anonymous=True, photos=list(photos)
    )


def as_user(client: Client, world: World, name: str) -> Client:
    client.force_login(world.user(name))
    return client


def act(client: Client, case: Case, action: str, data: dict | None = None):
    return client.post(reverse("cases:act", args=[case.pk, action]), data or {})


def detail_url(case: Case) -> str:
    return reverse("cases:detail", args=[case.pk])


# --- the whole loop ------------------------------------------------------------------------------


def test_a_case_goes_round_the_whole_loop_through_the_console(world: World, client: Client) -> None:
    case = submit(world, photos=[make_photo()])
    u = world.user

    as_user(client, world, "town_dispatcher")
    page = client.get(reverse("cases:queue"))
    assert page.status_code == 200
    assert case.number in page.content.decode()
    page = client.get(detail_url(case))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="action-form-accept"' in html and 'data-testid="action-form-reject"' in html
    assert 'data-testid="action-form-dispatch"' not in html

    response = act(client, case, A.ACCEPT, {"reason": "情况属实"})
    assert response.status_code == 302 and response["Location"] == detail_url(case)
    followed = client.get(response["Location"])
    assert "已受理" in followed.content.decode()

    response = act(client, case, A.REGISTER, {"category": str(world.category.pk)})
    assert response.status_code == 302

    html = client.get(detail_url(case)).content.decode()
    assert f'value="{world.village_a1_committee.pk}"' in html  # offered in the dispatch form
    response = act(client, case, A.DISPATCH, {"unit": str(world.village_a1_committee.pk), "reason": "请社区处理"})
    assert response.status_code == 302

    client.logout()
    as_user(client, world, "village_cadre")
    assert case.number in client.get(reverse("cases:queue")).content.decode()
    assert act(client, case, A.SIGN_FOR).status_code == 302
    response = client.post(
        reverse("cases:act", args=[case.pk, A.HANDLE]),
        {"result": "已补装井盖", "photos": [make_photo(name="after.jpg")]},
    )
    assert response.status_code == 302
    html = client.get(detail_url(case)).content.decode()
    assert 'data-testid="action-form-verify"' not in html  # the handler never checks his own work

    client.logout()
    as_user(client, world, "grid_worker")
    assert case.number in client.get(reverse("cases:queue")).content.decode()
    assert act(client, case, A.VERIFY_PASS, {"reason": "现场已修复"}).status_code == 302

    client.logout()
    as_user(client, world, "town_dispatcher")
    response = act(client, case, A.CLOSE)
    assert response.status_code == 302
    assert "已结案" in client.get(response["Location"]).content.decode()

    case.refresh_from_db()
    assert case.status == S.CLOSED
    assert case.assigned_unit == world.village_a1_committee
    assert case.handler == u("village_cadre")
    events = list(CaseEvent.objects.filter(case=case).values_list("action", "to_status", "actor__username"))
    assert events == [
        (A.SUBMIT, S.REPORTED, None),
        (A.ACCEPT, S.ACCEPTED, "town_dispatcher"),
        (A.REGISTER, S.REGISTERED, "town_dispatcher"),
        (A.DISPATCH, S.DISPATCHED, "town_dispatcher"),
        (A.SIGN_FOR, S.HANDLING, "village_cadre"),
        (A.HANDLE, S.VERIFYING, "village_cadre"),
        (A.VERIFY_PASS, S.VERIFIED, "grid_worker"),
        (A.CLOSE, S.CLOSED, "town_dispatcher"),
    ]
    handled = CaseEvent.objects.get(case=case, action=A.HANDLE)
    assert handled.reason == "已补装井盖"
    assert handled.attachments.get().kind == AttachmentKind.HANDLING

    html = client.get(detail_url(case)).content.decode()
    assert html.count('data-testid="timeline-event"') == 8
    assert 'data-testid="no-actions"' in html
    for attachment in Attachment.objects.filter(case=case):
        photo = client.get(reverse("cases:photo", args=[case.pk, attachment.pk]))
        assert isinstance(photo, FileResponse)
        assert photo.status_code == 200
        assert photo["Content-Type"] == "image/jpeg"
        assert b"".join(photo.streaming_content)[:2] == b"\xff\xd8"


# --- who may enter -------------------------------------------------------------------------------


def _console_urls(case: Case, attachment: Attachment) -> list[tuple[str, str]]:
    return [
        ("get", reverse("cases:queue")),
        ("get", reverse("cases:list")),
        ("get", detail_url(case)),
        ("get", reverse("cases:photo", args=[case.pk, attachment.pk])),
        ("post", reverse("cases:act", args=[case.pk, A.ACCEPT])),
    ]


# The three administrator roles get 404 here instead: sizhi/authz/matrix.py (CONSOLE_PAGES).
@pytest.mark.parametrize("name", ["citizen", "citizen2"])
def test_citizens_get_403_everywhere_in_the_console(
    world: World, client: Client, name: str
) -> None:
    lat, lng = inside(world.grid_a1)
    # Even the reporter of the case: citizens follow their cases in the portal, not here.
    case = services.report_submit(
        reporter=world.user("citizen"), description="金业路路口井盖缺失", lat=lat, lng=lng, photos=[make_photo()]
    )
    as_user(client, world, name)
    for method, url in _console_urls(case, case.attachments.get()):
        response = getattr(client, method)(url)
        assert response.status_code == 403, url
        assert "金业路路口井盖缺失" not in response.content.decode()
        assert 'data-testid="console-forbidden"' in response.content.decode()
    case.refresh_from_db()
    assert case.status == S.REPORTED


def test_signed_out_visitors_are_sent_to_the_login_page(world: World, client: Client) -> None:
    case = submit(world, photos=[make_photo()])
    for method, url in _console_urls(case, case.attachments.get()):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("name", ["town_dispatcher_b", "grid_worker_b"])
def test_outside_scope_answers_404_on_detail_photo_and_act(world: World, client: Client, name: str) -> None:
    case = submit(world, photos=[make_photo()])
    attachment = case.attachments.get()
    as_user(client, world, name)
    assert client.get(detail_url(case)).status_code == 404
    assert client.get(reverse("cases:photo", args=[case.pk, attachment.pk])).status_code == 404
    for action in (A.ACCEPT, A.REJECT, "no_such_action"):
        assert act(client, case, action, {"kind": "invalid", "reason": "x"}).status_code == 404
    # The same answer as for a case that does not exist at all.
    assert client.get(reverse("cases:detail", args=[case.pk + 1000])).status_code == 404
    assert case.number not in client.get(reverse("cases:list")).content.decode()
    searched = client.get(reverse("cases:list"), {"q": case.number}).content.decode()
    assert f'data-case-number="{case.number}"' not in searched
    assert 'data-testid="case-count">共 0 件<' in searched
    case.refresh_from_db()
    assert case.status == S.REPORTED
    assert case.events.count() == 1


def test_leader_reads_everything_but_sees_no_action_form(world: World, client: Client) -> None:
    case = submit(world)
    as_user(client, world, "leader")
    assert case.number in client.get(reverse("cases:list")).content.decode()
    assert client.get(reverse("cases:queue")).status_code == 200
    html = client.get(detail_url(case)).content.decode()
    assert 'data-testid="no-actions"' in html
    assert "action-form-" not in html
    response = act(client, case, A.ACCEPT)
    assert response.status_code == 403
    assert "您无权对该案件执行此操作" in response.content.decode()
    case.refresh_from_db()
    assert case.status == S.REPORTED


def test_console_shell_shows_name_roles_and_a_logout_form(world: World, client: Client) -> None:
    as_user(client, world, "town_dispatcher")
    html = client.get(reverse("cases:queue")).content.decode()
    assert 'data-testid="console-user">town_dispatcher<' in html
    assert 'data-role="town_dispatcher"' in html and "西关街道综治中心" in html
    assert 'method="post" action="/accounts/logout/"' in html or "accounts/logout" in html
    assert 'id="nav-queue"' in html and 'id="nav-list"' in html
    assert "https://" not in html and "http://" not in html  # nothing loads from the internet


# --- list and queue ------------------------------------------------------------------------------


def _numbers_in(html: str, cases: list[Case]) -> list[str]:
    found = [(html.find(f'data-case-number="{c.number}"'), c.number) for c in cases]
    return [number for pos, number in sorted(found) if pos >= 0]


@pytest.mark.parametrize("ordering", ["pg_sleep(5)", "-id;drop table cases_case", "created_at", "", "__class__"])
def test_unknown_ordering_falls_back_silently_to_newest_first(
    world: World, client: Client, ordering: str
) -> None:
    cases = [submit(world, description=f"第{i}件：路灯不亮了") for i in range(3)]
    as_user(client, world, "town_dispatcher")
    response = client.get(reverse("cases:list"), {"ordering": ordering})
    assert response.status_code == 200
    newest_first = [c.number for c in reversed(cases)]
    assert _numbers_in(response.content.decode(), cases) == newest_first


def test_allow_listed_orderings_sort_the_list(world: World, client: Client) -> None:
    cases = [submit(world, description=f"第{i}件：路灯不亮了") for i in range(3)]
    as_user(client, world, "town_dispatcher")
    html = client.get(reverse("cases:list"), {"ordering": "oldest"}).content.decode()
    assert _numbers_in(html, cases) == [c.number for c in cases]
    assert 'value="oldest" selected' in html


def test_list_filters_by_status_and_search_and_counts(world: World, client: Client) -> None:
    first = submit(world, description="金业路井盖缺失")
    second = submit(world, description="周公庙社区路灯不亮", grid=world.grid_a2)
    outside = submit(world, description="唐宫路路灯不亮", grid=world.grid_b1)
    services.case_accept(case=first, actor=world.user("town_dispatcher"))
    as_user(client, world, "town_dispatcher")

    html = client.get(reverse("cases:list")).content.decode()
    assert 'data-testid="case-count">共 2 件<' in html
    assert outside.number not in html

    html = client.get(reverse("cases:list"), {"status": S.ACCEPTED}).content.decode()
    assert _numbers_in(html, [first, second]) == [first.number]
    assert 'data-testid="case-count">共 1 件<' in html

    html = client.get(reverse("cases:list"), {"q": "路灯"}).content.decode()
    assert _numbers_in(html, [first, second, outside]) == [second.number]

    html = client.get(reverse("cases:list"), {"q": second.number}).content.decode()
    assert _numbers_in(html, [first, second]) == [second.number]

    # An unknown status is ignored, not an error; nonsense text simply finds nothing.
    assert client.get(reverse("cases:list"), {"status": "deleted"}).status_code == 200
    response = client.get(reverse("cases:list"), {"q": "\x00'; --" + "x" * 500})
    assert response.status_code == 200
    assert 'data-testid="case-table-empty"' in response.content.decode()


def test_list_and_queue_are_paginated(world: World, client: Client) -> None:
    for i in range(23):
        submit(world, description=f"第{i}件：路面坑洼")
    as_user(client, world, "town_dispatcher")
    first = client.get(reverse("cases:list")).content.decode()
    assert first.count('data-testid="case-row"') == 20
    assert 'data-testid="page-next"' in first
    second = client.get(reverse("cases:list"), {"page": "2", "ordering": "oldest"}).content.decode()
    assert second.count('data-testid="case-row"') == 3
    assert "ordering=oldest" in second  # the page links keep the filters
    for page in ("abc", "999", "-1"):
        assert client.get(reverse("cases:list"), {"page": page}).status_code == 200
    queue = client.get(reverse("cases:queue"), {"page": "2"}).content.decode()
    assert queue.count('data-testid="case-row"') == 3


def test_queue_shows_only_what_waits_for_this_user(world: World, client: Client) -> None:
    waiting = submit(world)
    elsewhere = submit(world, grid=world.grid_b1)
    as_user(client, world, "village_cadre")
    html = client.get(reverse("cases:queue")).content.decode()
    assert waiting.number not in html and elsewhere.number not in html  # nothing sent to the unit yet
    client.logout()
    as_user(client, world, "town_dispatcher")
    html = client.get(reverse("cases:queue")).content.decode()
    assert waiting.number in html and elsewhere.number not in html
    assert 'data-status="reported"' in html and "待受理" in html


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_list_and_queue_query_count_does_not_grow_with_rows(
    world: World, client: Client, django_assert_max_num_queries
) -> None:
    submit(world)
    as_user(client, world, "town_dispatcher")
    list_url = reverse("cases:list") + "?status=&q=&ordering=newest"
    queue_url = reverse("cases:queue")
    with_one = {url: _queries(client, url) for url in (list_url, queue_url)}

    grids = [world.grid_a1, world.grid_a1b, world.grid_a2]
    for i in range(29):
        case = submit(world, grid=grids[i % 3], description=f"第{i}件：垃圾未清运")
        if i % 2:
            services.case_accept(case=case, actor=world.user("town_dispatcher"))
            services.case_register(case=case, actor=world.user("town_dispatcher"), category=world.category)
        if i % 2 and grids[i % 3].village == world.village_a1:
            services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)

    for url, count in with_one.items():
        with django_assert_max_num_queries(count):
            response = client.get(url)
        assert response.status_code == 200
    html = client.get(list_url).content.decode()
    assert 'data-testid="case-count">共 30 件<' in html


def test_ids_beyond_any_integer_column_answer_404(world: World, client: Client) -> None:
    case = submit(world)
    huge = 10**30
    as_user(client, world, "town_dispatcher")
    assert client.get(f"/console/cases/{huge}/").status_code == 404
    assert client.get(f"/console/cases/{case.pk}/photos/{huge}/").status_code == 404
    assert client.post(f"/console/cases/{huge}/act/accept/").status_code == 404
