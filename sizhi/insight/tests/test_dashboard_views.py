"""The dashboard pages over HTTP: who may enter, scoped JSON, the case lists behind the numbers,
a bounded number of queries, and pages that load nothing from another host."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from sizhi.cases.workflow import OPEN_STATUSES, WarningLevel
from sizhi.conftest import World
from sizhi.insight.tests.test_dashboards import Cases, direct, populate

STAFF = ["grid_worker", "village_cadre", "party_secretary", "town_dispatcher", "department_handler",
         "district_dispatcher", "city_dispatcher", "leader"]
# The three administrator roles get 404 here instead: sizhi/authz/matrix.py (CONSOLE_PAGES).
NOT_STAFF = ["citizen", "citizen2"]
PAGES = ["insight:dashboard", "insight:map", "insight:screen", "insight:cases"]
EVERYWHERE = "112.0,34.0,113.0,35.0"
NEAR_TOWN_A = "112.39,34.59,112.44,34.62"


@pytest.fixture
def data(world: World) -> Cases:
    return populate(world)


def signed_in(client: Client, world: World, name: str) -> Client:
    client.force_login(world.user(name))
    return client


# --- access --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", STAFF)
def test_staff_members_see_every_page(world: World, data: Cases, client: Client, name: str) -> None:
    signed_in(client, world, name)
    for page in PAGES:
        response = client.get(reverse(page))
        assert response.status_code == 200, page
    for period in ("day", "week", "month"):
        assert client.get(reverse("insight:dashboard"), {"period": period}).status_code == 200


@pytest.mark.parametrize("name", NOT_STAFF)
def test_citizens_get_403(world: World, data: Cases, client: Client, name: str) -> None:
    signed_in(client, world, name)
    for page in PAGES:
        response = client.get(reverse(page))
        assert response.status_code == 403, page
        assert 'data-testid="console-forbidden"' in response.content.decode()
    for endpoint, params in (("insight:data", {}), ("insight:map_grids", {"bbox": EVERYWHERE}),
                             ("insight:map_points", {"bbox": EVERYWHERE})):
        response = client.get(reverse(endpoint), params)
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"


def test_anonymous_visitors_log_in_first(world: World, client: Client) -> None:
    for page in PAGES:
        response = client.get(reverse(page))
        assert response.status_code == 302 and "login" in response["Location"]
    response = client.get(reverse("insight:data"))
    assert response.status_code == 401 and response.json()["error"] == "not_authenticated"


def test_pages_only_answer_reads(world: World, client: Client) -> None:
    signed_in(client, world, "town_dispatcher")
    assert client.post(reverse("insight:dashboard")).status_code == 405
    assert client.post(reverse("insight:data")).status_code == 405


# --- the dashboard -------------------------------------------------------------------------------


def test_the_dashboard_shows_the_figures_with_links_to_their_cases(world: World, data: Cases,
                                                                   client: Client) -> None:
    signed_in(client, world, "town_dispatcher")
    html = client.get(reverse("insight:dashboard")).content.decode()
    kpis = dict(re.findall(r'data-key="(\w+)">\s*<span class="kpi-label">[^<]*</span>\s*'
                           r'<span class="kpi-value" data-testid="kpi-value">(\d+)</span>', html))
    assert kpis == {"today_new": "3", "open": "6", "overdue": "2", "closed_today": "1", "period_new": "9"}
    assert "66.7%" in html  # 满意率: 2 of 3
    for testid in ("trend-chart", "category-chart", "region-chart", "channel-chart", "ranking-best",
                   "ranking-worst", "period-switch"):
        assert f'data-testid="{testid}"' in html, testid
    assert "金业路社区" in html and "王城路街道" not in html


def test_every_number_on_the_dashboard_opens_exactly_its_cases(world: World, data: Cases, client: Client) -> None:
    signed_in(client, world, "district_dispatcher")
    payload = client.get(reverse("insight:data"), {"period": "week"}).json()
    figures = [*payload["kpis"], payload["satisfaction"]["numerator"], payload["satisfaction"]["denominator"],
               *payload["trend"]["created"], *payload["trend"]["closed"], *payload["statuses"]]
    for rows in (payload["categories"], payload["channels"], payload["regions"]["rows"]):
        for row in rows:
            figures += [row["total"], row["open"], row["overdue"]]
    assert len(figures) > 40
    for figure in figures:
        listed = client.get(figure["url"])
        assert listed.status_code == 200
        assert listed.context["page"].paginator.count == figure["value"], figure


def test_the_data_endpoint_is_scoped(world: World, data: Cases, client: Client) -> None:
    signed_in(client, world, "town_dispatcher_b")
    payload = client.get(reverse("insight:data"), {"period": "month", "latest": "1", "ranking": "1"}).json()
    kpis = {f["key"]: f["value"] for f in payload["kpis"]}
    assert kpis == {"today_new": 1, "open": 2, "overdue": 1, "closed_today": 0, "period_new": 2}
    assert [r["label"] for r in payload["regions"]["rows"]] == ["唐宫路社区"]
    assert {c["region"] for c in payload["latest"]} == {"唐宫路社区"}
    assert "ranking" in payload and all("西关" not in r["name"] for r in payload["ranking"]["best"])
    text = str(payload)
    assert "金业路" not in text and "周公庙" not in text


def test_the_case_list_keeps_to_the_viewers_scope(world: World, data: Cases, client: Client) -> None:
    signed_in(client, world, "town_dispatcher_b")
    response = client.get(reverse("insight:cases"), {"region": world.town_a.prefix})
    assert response.context["page"].paginator.count == 0
    response = client.get(reverse("insight:cases"), {"channel": "mailbox"})
    numbers = {c.number for c in response.context["page"].object_list}
    assert numbers == {c.number for c in data.town_b}


def test_the_case_list_offers_the_console_list_when_it_can_say_the_same(world: World, data: Cases,
                                                                         client: Client) -> None:
    signed_in(client, world, "town_dispatcher")
    html = client.get(reverse("insight:cases"), {"status": "handling"}).content.decode()
    assert 'href="/console/cases/?status=handling"' in html
    html = client.get(reverse("insight:cases"), {"state": "open", "warning": "red"}).content.decode()
    assert 'data-testid="console-list-link"' not in html
    assert "未办结" in html and "红牌超期" in html


def test_the_dashboards_queries_do_not_grow_with_the_cases(world: World, client: Client,
                                                           django_assert_max_num_queries: object) -> None:
    populate(world)
    signed_in(client, world, "city_dispatcher")
    url = reverse("insight:dashboard")
    client.get(url)  # warm the content-type and session caches
    # Session, user, memberships; key figures, the window's counts, closed per bucket, open by
    # status; category and region names; cases.evaluation's units, scheme, events and orders.
    with django_assert_max_num_queries(13):  # type: ignore[operator]
        assert client.get(url, {"period": "month"}).status_code == 200
    for _ in range(3):
        populate(world)
    with django_assert_max_num_queries(13):  # type: ignore[operator]
        assert client.get(url, {"period": "month"}).status_code == 200
    with django_assert_max_num_queries(11):  # type: ignore[operator]
        assert client.get(reverse("insight:screen")).status_code == 200
    with django_assert_max_num_queries(10):  # type: ignore[operator]
        assert client.get(reverse("insight:data"), {"latest": "1"}).status_code == 200


# --- map -------------------------------------------------------------------------------------------


def test_grid_counts_are_scoped(world: World, data: Cases, client: Client) -> None:
    signed_in(client, world, "town_dispatcher_b")
    features = client.get(reverse("insight:map_grids"), {"bbox": NEAR_TOWN_A}).json()["features"]
    assert features == []
    answer = client.get(reverse("insight:map_grids"), {"bbox": "112.45,34.65,112.55,34.75"}).json()
    assert [f["properties"]["name"] for f in answer["features"]] == ["唐宫路社区 001"]
    props = answer["features"][0]["properties"]
    assert (props["open"], props["overdue"]) == (2, 1)
    assert client.get(props["overdue_url"]).context["page"].paginator.count == 1


def test_grid_counts_match_the_case_lists(world: World, data: Cases, client: Client) -> None:
    signed_in(client, world, "town_dispatcher")
    answer = client.get(reverse("insight:map_grids"), {"bbox": NEAR_TOWN_A})
    assert answer["Cache-Control"].startswith("private")
    features = answer.json()["features"]
    assert len(features) == 3
    opened = direct(world, "town_dispatcher").filter(status__in=list(OPEN_STATUSES))
    for feature in features:
        props = feature["properties"]
        assert props["open"] == opened.filter(grid_id=props["id"]).count()
        assert props["overdue"] == opened.filter(grid_id=props["id"], warning=WarningLevel.RED).count()
        assert client.get(props["open_url"]).context["page"].paginator.count == props["open"]


def test_a_box_wider_than_a_county_draws_no_grids(world: World, data: Cases, client: Client) -> None:
    signed_in(client, world, "city_dispatcher")
    answer = client.get(reverse("insight:map_grids"), {"bbox": "110,33,114,36"}).json()
    assert answer["features"] == [] and answer["too_large"] and answer["truncated"]


@pytest.mark.parametrize("bbox", ["", "1,2,3", "a,b,c,d", "nan,0,1,1", "5,0,1,1", "1," * 300])
def test_a_bad_box_is_a_400(world: World, client: Client, bbox: str) -> None:
    signed_in(client, world, "town_dispatcher")
    for endpoint in ("insight:map_grids", "insight:map_points"):
        response = client.get(reverse(endpoint), {"bbox": bbox})
        assert response.status_code == 400 and response.json()["error"] == "bbox_invalid"


def test_points_are_scoped_and_never_the_mailbox(world: World, data: Cases, client: Client) -> None:
    signed_in(client, world, "town_dispatcher_b")
    answer = client.get(reverse("insight:map_points"), {"bbox": EVERYWHERE}).json()
    assert answer["mode"] == "points"
    assert {p["number"] for p in answer["points"]} == {c.number for c in data.town_b}
    signed_in(client, world, "city_dispatcher")
    answer = client.get(reverse("insight:map_points"), {"bbox": EVERYWHERE, "layer": "period",
                                                        "period": "month"}).json()
    mailbox = {c.number for c in data.mailbox}
    assert answer["total"] == len(answer["points"]) > 0
    assert not mailbox & {p["number"] for p in answer["points"]}
    query = parse_qs(urlsplit(answer["url"]).query)
    assert "created_from" in query and "created_to" in query


# --- nothing from the internet ---------------------------------------------------------------------


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("src", "href") and value is not None:
                self.refs.append(value)


@pytest.mark.parametrize("page", ["insight:dashboard", "insight:map", "insight:screen", "insight:cases"])
def test_pages_load_nothing_from_another_host(world: World, data: Cases, client: Client, page: str,
                                              settings: object) -> None:
    settings.SIZHI_TILE_URL = ""  # type: ignore[attr-defined]
    signed_in(client, world, "city_dispatcher")
    html = client.get(reverse(page)).content.decode()
    assert "http://" not in html and "https://" not in html
    parser = _Refs()
    parser.feed(html)
    assert parser.refs
    for ref in parser.refs:
        assert ref.startswith(("/", "?", "#")) and not ref.startswith("//"), ref
    for ref in parser.refs:
        path = ref.removeprefix("/static/")
        if path == ref or (path.startswith("vendor/") and not django_settings.NODE_MODULES_DIR.exists()):
            continue  # not a static file, or npm install has not run here (the path is still right)
        assert finders.find(path), ref


def test_the_map_uses_the_deployments_tile_server_when_there_is_one(world: World, client: Client,
                                                                     settings: object) -> None:
    settings.SIZHI_TILE_URL = "https://tiles.city.example/{z}/{x}/{y}.png"  # type: ignore[attr-defined]
    signed_in(client, world, "town_dispatcher")
    html = client.get(reverse("insight:map")).content.decode()
    assert "https://tiles.city.example/{z}/{x}/{y}.png" in html
