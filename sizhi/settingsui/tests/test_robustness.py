"""No input makes a page fail: NUL bytes, control and bidi characters, 100 kB text, huge or
negative ids, wrong types; stored markup is shown as text, never run."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.conftest import World
from sizhi.notify.webhook_services import webhook_endpoint_create
from sizhi.settingsui.tests.conftest import Things, login
from sizhi.units.models import HandlingUnit
from sizhi.units.services import rule_save

NASTY = ["\x00", "a\x00b", "长" * 100_000, "\u202e\u200b", "-1", "99999999999999999999999", "1e308", "NaN",
         "<svg onload=alert(1)>", "=cmd|' /C calc'!A0", "𠮷", "   "]

FORMS = {
    "settingsui:rule_create": ["category", "level", "region", "lead_unit_name", "lead_unit_kind", "assist_unit_names"],
    "settingsui:limit_create": ["category", "priority", "sign_hours", "handle_days"],
    "settingsui:calendar_set": ["date", "kind", "name"],
    "settingsui:calendar_clear": ["date"],
    "settingsui:unit_create": ["name", "kind", "region"],
    "settingsui:webhook_create": ["name", "url", "actions", "scope"],
}


@pytest.mark.parametrize("url_name", sorted(FORMS))
def test_nasty_values_in_every_field_are_refused_cleanly(world: World, admin: Client, url_name: str) -> None:
    for value in NASTY:
        data = dict.fromkeys(FORMS[url_name], value)
        response = admin.post(reverse(url_name), data)
        assert response.status_code in (302, 400), (value[:20], response.status_code)


def test_nasty_filters_and_ids_do_not_fail(world: World, things: Things, client: Client) -> None:
    login(client, world, "system_admin")
    for value in NASTY:
        for name in ("settingsui:rules", "settingsui:units", "settingsui:rules_export", "settingsui:rule_try"):
            params = {"category": value, "level": value, "region": value, "kind": value, "status": value,
                      "q": value, "page": value}
            assert client.get(reverse(name), params).status_code in (200, 400)
        assert client.get(reverse("settingsui:calendar"), {"year": value, "date": value}).status_code in (200, 400)
    for pk in (0, 2**31, 2**63, 10**30):
        for name in ("settingsui:rule_edit", "settingsui:limit_edit", "settingsui:unit_edit", "settingsui:webhook_edit",
                     "settingsui:webhook_secret"):
            assert client.get(reverse(name, args=[pk])).status_code == 404
        for name in ("settingsui:rule_delete", "settingsui:limit_delete", "settingsui:unit_toggle",
                     "settingsui:webhook_toggle", "settingsui:webhook_rotate"):
            assert client.post(reverse(name, args=[pk])).status_code == 404
    login(client, world, "town_dispatcher")
    for value in NASTY:
        response = client.post(reverse("settingsui:callback_record", args=[things.callback_a.pk]),
                               {"reached": value, "satisfaction": value, "note": value})
        assert response.status_code in (302, 400)
        assert client.get(reverse("settingsui:callbacks"), {"page": value}).status_code == 200
    assert client.get(reverse("settingsui:callback_record", args=[10**30])).status_code == 404


def test_stored_markup_is_escaped_on_every_page(world: World, admin: Client) -> None:
    markup = "<svg onload=alert(1)>"
    HandlingUnit.objects.create(name=markup, kind="department", region=world.district_a)
    rule_save(category=world.category, level="district", lead_unit_name=markup, assist_unit_names=[markup])
    webhook_endpoint_create(name=markup, url="https://example.cn/")
    for name in ("settingsui:rules", "settingsui:units", "settingsui:webhooks"):
        html = admin.get(reverse(name)).content.decode()
        assert markup not in html and "&lt;svg onload=alert(1)&gt;" in html, name
