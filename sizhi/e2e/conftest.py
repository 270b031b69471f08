"""Fixtures of the browser tests: Debian's Chromium driven headless by Playwright against
pytest-django's live_server, one fresh browser context per person.

Every page of every context is watched: console errors, uncaught exceptions, failed requests,
HTTP error responses and any request to a host other than the live server (those are aborted as
well, so nothing reaches the internet) all end up in `Stage.problems`, which the tests assert
empty. When a test fails, a full-page screenshot and the HTML of each open page are saved under
test-artifacts/<test>/ (gitignored).

Where /usr/bin/chromium is missing the browser tests skip; Playwright's own browser downloads
are never used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache

from sizhi.conftest import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Response, Route

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_MISSING = "Chromium not found: install it with `apt-get install -y chromium` (or `make browsers`)"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS_DIR = Path(settings.PROJECT_DIR) / "test-artifacts"
# Generous for a loaded CI machine, short enough that a broken page fails in seconds, not minutes.
TIMEOUT_MS = 10_000
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"

VIEWPORTS: dict[str, dict[str, Any]] = {
    "mobile": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
               "has_touch": True},
    "desktop": {"viewport": {"width": 1366, "height": 900}},
}

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Keep each phase's report on the item, so that fixtures can tell a failed test at teardown."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _failed(node: pytest.Item) -> bool:
    reports = node.stash.get(_REPORTS, {})
    return any(r.failed for r in reports.values())


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    # Login and report limits count in the process-wide local-memory cache; start from zero.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def browser(live_server: Any, transactional_db: None) -> Iterator[Browser]:
    """A headless Chromium for one test, started after pytest-django has prepared the database
    and stopped before it cleans up.

    While Playwright's sync API is started it keeps an asyncio loop registered as running on the
    main thread. Django then takes the thread for async: it refuses ORM calls from it unless
    DJANGO_ALLOW_ASYNC_UNSAFE is set, and its connection handler (an asgiref Local) hands out
    other connection objects, ones without the serialized test data, so that a browser outliving
    one test would leave `serialized_rollback` restoring nothing in the next. Hence one browser
    per test (about half a second), the guard off only while it runs, and the loop's own
    connections closed before it stops (PostgreSQL could not drop the test database otherwise)."""
    if not CHROMIUM.exists():
        pytest.skip(CHROMIUM_MISSING)
    from django.db import connections
    from playwright.sync_api import sync_playwright

    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        connections.close_all()
        playwright.stop()
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


# Requests the page itself cancels are not failures: report.js aborts its pending grid fetch
# when the map moves again, and a navigation cancels what the old page still had in flight.
_BENIGN_FAILURES = {"net::ERR_ABORTED"}


@dataclass
class Watch:
    """Everything that went wrong on the pages of one context, as readable lines."""

    actor: str
    origin: str
    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def is_local(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return True
        return f"{parts.scheme}://{parts.netloc}" == self.origin

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        page.on("request", self._request)
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _add(self, line: str) -> None:
        self.problems.append(f"[{self.actor}] {line}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "assert"):
            location = message.location or {}
            self._add(f"console {message.type}: {message.text} ({location.get('url', '')}:"
                      f"{location.get('lineNumber', '')})")

    def _page_error(self, error: Exception) -> None:
        self._add(f"uncaught exception: {error}")

    def _request(self, request: Request) -> None:
        self.requests.append(f"{request.method} {request.url}")
        if not self.is_local(request.url):
            self._add(f"request to another host: {request.method} {request.url}")

    def _request_failed(self, request: Request) -> None:
        failure = request.failure or ""
        if failure in _BENIGN_FAILURES and self.is_local(request.url):
            return
        self._add(f"request failed: {request.method} {request.url} ({failure})")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self._add(f"HTTP {response.status}: {response.request.method} {response.url}")


@dataclass
class Actor:
    """One person at one browser: a fresh context (own cookies, own session) and its page."""

    name: str
    context: BrowserContext
    page: Page
    watch: Watch


class Stage:
    """Opens a fresh browser context per person, all against the same live server."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url.rstrip("/")
        self.actors: list[Actor] = []

    def open(self, name: str, *, viewport: str = "desktop", **options: Any) -> Actor:
        settings_ = {**VIEWPORTS[viewport], "base_url": self.base_url, "locale": "zh-CN",
                     "timezone_id": "Asia/Shanghai", "service_workers": "block", **options}
        context = self.browser.new_context(**settings_)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        watch = Watch(actor=name, origin=self.base_url)

        def refuse(route: Route) -> None:
            # Recorded by the request listener; aborted so that nothing leaves the machine.
            route.abort("blockedbyclient")

        context.route(lambda url: not watch.is_local(url), refuse)
        context.on("page", watch.attach)
        page = context.new_page()
        actor = Actor(name=name, context=context, page=page, watch=watch)
        self.actors.append(actor)
        return actor

    @property
    def problems(self) -> list[str]:
        return [line for actor in self.actors for line in actor.watch.problems]

    def settle(self) -> None:
        """Let every open page finish what it loads, so late errors are seen before asserting."""
        for actor in self.actors:
            for page in actor.context.pages:
                page.wait_for_load_state("networkidle")

    def save_artifacts(self, test_name: str) -> list[Path]:
        folder = ARTIFACTS_DIR / re.sub(r"[^\w.-]+", "_", test_name)
        folder.mkdir(parents=True, exist_ok=True)
        saved: list[Path] = []
        for actor in self.actors:
            for n, page in enumerate(actor.context.pages):
                stem = folder / f"{actor.name}-{n}"
                try:
                    page.screenshot(path=str(stem.with_suffix(".png")), full_page=True, timeout=5_000)
                    stem.with_suffix(".html").write_text(page.content(), encoding="utf-8")
                except Exception as exc:  # a broken page must not hide the test's own failure
                    stem.with_suffix(".txt").write_text(f"no screenshot: {exc}\n", encoding="utf-8")
                    continue
                saved.append(stem.with_suffix(".png"))
            log = "\n".join(["requests:", *actor.watch.requests, "problems:", *actor.watch.problems])
            (folder / f"{actor.name}-log.txt").write_text(log + "\n", encoding="utf-8")
        return saved

    def close(self) -> None:
        for actor in self.actors:
            actor.context.close()
        self.actors.clear()


@pytest.fixture
def stage(browser: Browser, live_server: Any, request: pytest.FixtureRequest) -> Iterator[Stage]:
    stage = Stage(browser, live_server.url)
    try:
        yield stage
    finally:
        if _failed(request.node):
            stage.save_artifacts(request.node.nodeid)
        stage.close()


def log_in(page: Page, identifier: str, password: str = PASSWORD) -> None:
    """Sign in through the login form (phone number for citizens, username for staff)."""
    from playwright.sync_api import expect

    page.goto("/accounts/login/")
    page.get_by_test_id("username-input").fill(identifier)
    page.get_by_test_id("password-input").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("logout-form")).to_be_attached()
    assert "/accounts/login/" not in page.url
