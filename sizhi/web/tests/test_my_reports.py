"""我的反映: a signed-in citizen's own named reports, nobody else's, no anonymous ones."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from sizhi.conftest import World
from sizhi.web.tests.factories import reported

URL = reverse("web:my_reports")


def test_visitors_are_sent_to_log_in(world: World, client: Client) -> None:
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_lists_own_reports_only(world: World, client: Client) -> None:
    citizen = world.user("citizen")
    mine = reported(world, reporter=citizen)
    anonymous = reported(world, reporter=citizen, anonymous=True)
    theirs = reported(world, reporter=world.user("citizen2"))
    client.force_login(citizen)

    html = client.get(URL).content.decode()

    assert mine.number in html
    assert reverse("web:case_track", args=[mine.tracking_code]) in html
    assert anonymous.number not in html
    assert theirs.number not in html


def test_empty_list_says_so(world: World, client: Client) -> None:
    client.force_login(world.user("citizen"))

    html = client.get(URL).content.decode()

    assert 'data-testid="my-reports-empty"' in html


def test_list_is_paginated_with_a_fixed_number_of_queries(
    world: World, client: Client, django_assert_max_num_queries: object
) -> None:
    citizen = world.user("citizen")
    for _ in range(25):
        reported(world, reporter=citizen)
    client.force_login(citizen)

    with django_assert_max_num_queries(8):  # type: ignore[operator]
        html = client.get(URL).content.decode()

    assert html.count('data-testid="my-report"') == 20
    assert 'data-testid="page-next"' in html
