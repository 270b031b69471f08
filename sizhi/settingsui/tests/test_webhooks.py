"""Webhook endpoints: create (secret shown once), edit, activate/deactivate, rotate the secret,
subscribed actions and scope, and recent delivery counts per endpoint."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sizhi.conftest import World
from sizhi.notify.models import Notification, NotificationChannel, WebhookEndpoint
from sizhi.notify.services import notify_webhooks
from sizhi.notify.webhook_services import webhook_endpoint_create, webhook_endpoint_update


def test_admin_creates_an_endpoint_and_sees_the_secret_exactly_once(world: World, admin: Client) -> None:
    response = admin.post(reverse("settingsui:webhook_create"), {
        "name": "老城区平台", "url": "https://platform.laocheng.example.cn/sizhi", "actions": ["dispatch", "close"],
        "scope": "410302",
    })
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("settingsui:webhook_secret", args=[endpoint.pk])
    assert (endpoint.actions, endpoint.scope, endpoint.is_active) == (["dispatch", "close"], world.district_a, True)
    assert len(endpoint.secret) >= 43
    assert endpoint.secret not in response["Location"]
    shown = admin.get(response["Location"])
    assert endpoint.secret in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    again = admin.get(response["Location"]).content.decode()
    assert endpoint.secret not in again and 'data-testid="webhook-secret-gone"' in again
    assert endpoint.secret not in admin.get(reverse("settingsui:webhooks")).content.decode()
    assert endpoint.secret not in admin.get(reverse("settingsui:webhook_edit", args=[endpoint.pk])).content.decode()


def test_the_subscription_decides_what_is_queued(world: World) -> None:
    endpoint, _secret = webhook_endpoint_create(name="a", url="https://a.example.cn/", actions=["close"],
                                                scope=world.district_a)
    assert notify_webhooks(event_payload={}, action="close", region_code="410302001001") == 1
    assert notify_webhooks(event_payload={}, action="dispatch", region_code="410302001001") == 0
    assert notify_webhooks(event_payload={}, action="close", region_code="410303001001") == 0
    webhook_endpoint_update(endpoint=endpoint, name="a", url="https://a.example.cn/", actions=[], scope=None)
    assert notify_webhooks(event_payload={}, action="dispatch", region_code="410303001001") == 1


def test_admin_edits_toggles_and_rotates(world: World, admin: Client) -> None:
    endpoint, secret = webhook_endpoint_create(name="热线", url="https://hotline.example.cn/hook")
    response = admin.post(reverse("settingsui:webhook_edit", args=[endpoint.pk]), {
        "name": "12345 热线", "url": "http://10.1.2.3:8080/hook", "actions": ["submit"], "scope": "",
    })
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.url, endpoint.actions, endpoint.secret) == (
        "12345 热线", "http://10.1.2.3:8080/hook", ["submit"], secret
    )
    admin.post(reverse("settingsui:webhook_toggle", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert notify_webhooks(event_payload={}, action="submit", region_code="410302001001") == 0
    admin.post(reverse("settingsui:webhook_toggle", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.is_active
    response = admin.post(reverse("settingsui:webhook_rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != secret
    assert endpoint.secret in admin.get(response["Location"]).content.decode()


@pytest.mark.parametrize("data", [
    {"name": "x", "url": "ftp://example.cn/"},
    {"name": "x", "url": "javascript:alert(1)"},
    {"name": "x", "url": "https://user:pass@example.cn/"},
    {"name": "x", "url": "not a url"},
    {"name": "x", "url": "https://example.cn/" + "a" * 400},
    {"name": "", "url": "https://example.cn/"},
    {"name": "x", "url": "https://example.cn/", "actions": ["nonsense"]},
    {"name": "x", "url": "https://example.cn/", "scope": "12"},
    {"name": "x\x00", "url": "https://example.cn/\x00"},
])
def test_bad_endpoints_are_explained(world: World, admin: Client, data: dict[str, object]) -> None:
    response = admin.post(reverse("settingsui:webhook_create"), data)
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_service_refuses_what_the_form_might_let_through(world: World) -> None:
    for url in ("ftp://x.cn/", "https://a:b@x.cn/", "http://[::1"):
        with pytest.raises(ValidationError):
            webhook_endpoint_create(name="x", url=url)
    with pytest.raises(ValidationError):
        webhook_endpoint_create(name="x", url="https://x.cn/", actions=["nope"])


def test_recent_delivery_counts_per_endpoint(world: World, admin: Client) -> None:
    first, _ = webhook_endpoint_create(name="甲", url="https://a.example.cn/")
    second, _ = webhook_endpoint_create(name="乙", url="https://b.example.cn/")

    def queue(endpoint: WebhookEndpoint, status: str, days_ago: int = 0) -> None:
        Notification.objects.create(channel=NotificationChannel.WEBHOOK, webhook=endpoint, subject="close", body="",
                                    status=status, created_at=timezone.now() - dt.timedelta(days=days_ago))

    for status in ("sent", "sent", "failed", "pending"):
        queue(first, status)
    queue(first, "failed", days_ago=30)  # outside the window
    queue(second, "sent")
    html = admin.get(reverse("settingsui:webhooks")).content.decode()

    def count(endpoint: WebhookEndpoint, status: str) -> int:
        row = html.split(f'data-webhook="{endpoint.pk}"')[1].split("</tr>")[0]
        return int(row.split(f'data-status="{status}" data-count="')[1].split('"')[0])

    assert (count(first, "sent"), count(first, "failed"), count(first, "pending")) == (2, 1, 1)
    assert (count(second, "sent"), count(second, "failed")) == (1, 0)
