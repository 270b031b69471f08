"""The 1+10 home page: only items that work today, every link answers."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.conftest import World


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href and not href.startswith("#"):
                self.hrefs.append(href)


def links_of(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.hrefs


def _assert_every_link_works(client: Client) -> list[str]:
    response = client.get(reverse("web:home"))
    assert response.status_code == 200
    hrefs = links_of(response.content.decode())
    assert hrefs
    login = reverse("accounts:login")
    for href in hrefs:
        target = client.get(href)
        ok = target.status_code == 200 or (target.status_code == 302 and target["Location"].startswith(login))
        assert ok, f"{href} answered {target.status_code}"
    return hrefs


def test_every_link_on_the_home_page_answers_for_a_visitor(world: World) -> None:
    hrefs = _assert_every_link_works(Client())
    assert reverse("web:report") in hrefs
    assert reverse("web:track") in hrefs


def test_every_link_on_the_home_page_answers_for_a_citizen(world: World, client: Client) -> None:
    client.force_login(world.user("citizen"))
    hrefs = _assert_every_link_works(client)
    assert reverse("web:my_reports") in hrefs


def test_home_lists_report_first_and_no_placeholder_items(world: World, client: Client) -> None:
    html = client.get(reverse("web:home")).content.decode()

    tiles = [h for h in links_of(html) if h in {reverse("web:report"), reverse("web:my_reports"), reverse("web:track")}]
    assert tiles[0] == reverse("web:report")
    assert "有事您说话" in html
    assert "我的反映" in html
    assert "进度查询" in html
    for placeholder in ("敬请期待", "即将上线", "coming soon", "建设中"):
        assert placeholder not in html


@pytest.mark.parametrize("section", ["section-party", "section-governance"])
def test_sections_without_a_working_item_are_not_shown(world: World, client: Client, section: str) -> None:
    html = client.get(reverse("web:home")).content.decode()

    assert f'data-testid="{section}"' not in html
    assert 'data-testid="section-services"' in html


def test_home_loads_nothing_from_the_internet(world: World, client: Client) -> None:
    for name in ("web:home", "web:report"):
        html = client.get(reverse(name)).content.decode()
        assert "http://" not in html
        assert "https://" not in html
        assert "//cdn" not in html


def test_language_switcher_posts_to_set_language(world: World, client: Client) -> None:
    html = client.get(reverse("web:home")).content.decode()
    assert f'action="{reverse("set_language")}"' in html
    assert 'name="language"' in html

    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})

    assert response.status_code == 302
    assert client.get("/").wsgi_request.LANGUAGE_CODE == "en"


def test_staff_see_a_link_to_the_console(world: World, client: Client) -> None:
    client.force_login(world.user("town_dispatcher"))
    html = client.get(reverse("web:home")).content.decode()
    assert 'data-testid="nav-console"' in html

    client.force_login(world.user("citizen"))
    html = client.get(reverse("web:home")).content.decode()
    assert 'data-testid="nav-console"' not in html
