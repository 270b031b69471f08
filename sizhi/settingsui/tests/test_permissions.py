"""Who may open which page (三权分立): configuration only for the system admin, the call-back
queue only for dispatchers; everyone else 403, and a refused POST changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.cases.models import CallBack, CallBackStatus, TimeLimit
from sizhi.conftest import World
from sizhi.notify.models import WebhookEndpoint
from sizhi.settingsui.tests.conftest import ROLES, Things, login
from sizhi.units.models import HandlingUnit, ResponsibilityRule
from sizhi.workdays.models import CalendarDay

CONFIG_PAGES: dict[str, Callable[[World, Things], str]] = {
    "rules": lambda w, t: reverse("settingsui:rules"),
    "rule_create": lambda w, t: reverse("settingsui:rule_create"),
    "rule_edit": lambda w, t: reverse("settingsui:rule_edit", args=[t.rule.pk]),
    "rule_try": lambda w, t: reverse("settingsui:rule_try"),
    "rules_export": lambda w, t: reverse("settingsui:rules_export"),
    "limits": lambda w, t: reverse("settingsui:limits"),
    "limit_create": lambda w, t: reverse("settingsui:limit_create"),
    "limit_edit": lambda w, t: reverse("settingsui:limit_edit", args=[t.default_limit.pk]),
    "calendar": lambda w, t: reverse("settingsui:calendar"),
    "calendar_month": lambda w, t: reverse("settingsui:calendar_month", args=[2026, 2]),
    "units": lambda w, t: reverse("settingsui:units"),
    "unit_create": lambda w, t: reverse("settingsui:unit_create"),
    "unit_edit": lambda w, t: reverse("settingsui:unit_edit", args=[w.district_a_dept.pk]),
    "webhooks": lambda w, t: reverse("settingsui:webhooks"),
    "webhook_create": lambda w, t: reverse("settingsui:webhook_create"),
    "webhook_edit": lambda w, t: reverse("settingsui:webhook_edit", args=[t.webhook.pk]),
    "webhook_secret": lambda w, t: reverse("settingsui:webhook_secret", args=[t.webhook.pk]),
}
CALLBACK_PAGES: dict[str, Callable[[World, Things], str]] = {
    "callbacks": lambda w, t: reverse("settingsui:callbacks"),
    "callback_record": lambda w, t: reverse("settingsui:callback_record", args=[t.callback_a.pk]),
}
DISPATCHERS = {"city_dispatcher", "town_dispatcher"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", sorted(CONFIG_PAGES))
def test_configuration_pages_are_for_the_system_admin_only(
    world: World, things: Things, client: Client, page: str, role: str
) -> None:
    login(client, world, role)
    response = client.get(CONFIG_PAGES[page](world, things))
    assert response.status_code == (200 if role == "system_admin" else 403)
    if response.status_code == 403:
        assert b'data-testid="settings-forbidden"' in response.content


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", sorted(CALLBACK_PAGES))
def test_callback_pages_are_for_dispatchers_only(
    world: World, things: Things, client: Client, page: str, role: str
) -> None:
    login(client, world, role)
    response = client.get(CALLBACK_PAGES[page](world, things))
    assert response.status_code == (200 if role in DISPATCHERS else 403)
    if role == "system_admin":
        assert things.callback_a.case.number.encode() not in response.content


@pytest.mark.parametrize("page", ["rules", "limits", "calendar", "units", "webhooks", "callbacks"])
def test_anonymous_visitors_go_to_the_login_page(world: World, things: Things, client: Client, page: str) -> None:
    response = client.get(reverse(f"settingsui:{page}"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(("role", "target"), [
    ("system_admin", "settingsui:rules"), ("town_dispatcher", "settingsui:callbacks"), ("leader", None),
])
def test_the_index_sends_each_role_to_its_page(world: World, client: Client, role: str, target: str | None) -> None:
    login(client, world, role)
    response = client.get(reverse("settingsui:index"))
    if target is None:
        assert response.status_code == 403
    else:
        assert response.status_code == 302 and response["Location"] == reverse(target)


@pytest.mark.parametrize("role", [r for r in ROLES if r != "system_admin"])
def test_refused_configuration_posts_change_nothing(world: World, things: Things, client: Client, role: str) -> None:
    login(client, world, role)
    posts = [
        (reverse("settingsui:rule_delete", args=[things.rule.pk]), {}),
        (reverse("settingsui:rule_create"), {"category": world.category.pk, "level": "town",
                                             "lead_unit_kind": "command_centre"}),
        (reverse("settingsui:limit_edit", args=[things.default_limit.pk]), {"sign_hours": "9", "handle_days": "9"}),
        (reverse("settingsui:calendar_set"), {"date": "2026-03-02", "kind": "rest"}),
        (reverse("settingsui:unit_toggle", args=[world.district_a_dept.pk]), {}),
        (reverse("settingsui:webhook_toggle", args=[things.webhook.pk]), {}),
        (reverse("settingsui:webhook_rotate", args=[things.webhook.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert ResponsibilityRule.objects.count() == 1
    assert TimeLimit.objects.get(pk=things.default_limit.pk).handle_days == things.default_limit.handle_days
    assert not CalendarDay.objects.exists()
    assert HandlingUnit.objects.get(pk=world.district_a_dept.pk).is_active
    endpoint = WebhookEndpoint.objects.get(pk=things.webhook.pk)
    assert endpoint.is_active and endpoint.secret == "s"


def test_the_system_admin_cannot_record_a_callback(world: World, things: Things, client: Client) -> None:
    login(client, world, "system_admin")
    url = reverse("settingsui:callback_record", args=[things.callback_a.pk])
    assert client.post(url, {"reached": "no"}).status_code == 403
    assert CallBack.objects.get(pk=things.callback_a.pk).status == CallBackStatus.PENDING


def test_posts_need_the_csrf_token(world: World, things: Things) -> None:
    client = Client(enforce_csrf_checks=True)
    login(client, world, "system_admin")
    response = client.post(reverse("settingsui:rule_delete", args=[things.rule.pk]))
    assert response.status_code == 403
    assert ResponsibilityRule.objects.filter(pk=things.rule.pk).exists()
