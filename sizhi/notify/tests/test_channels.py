"""E-mail and signed webhooks through the outbox: backoff on failure, one delivery per message."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from sizhi.cases import services
from sizhi.cases.tests.test_services_transitions import reported
from sizhi.conftest import World
from sizhi.notify import tasks
from sizhi.notify.models import Notification, NotificationChannel, NotificationStatus, WebhookEndpoint
from sizhi.notify.services import notify_users


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(Receiver.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    Receiver.status = 200
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_email_goes_to_users_with_an_address(world: World) -> None:
    user = world.user("town_dispatcher")
    user.email = "dispatch@example.org"
    user.save()
    notify_users(users=[user, world.user("village_cadre")], subject="新派遣", body="案件 1")
    assert tasks.deliver_batch() == 1  # the e-mail; the two inbox messages were stored as sent
    assert [m.to for m in mail.outbox] == [["dispatch@example.org"]]


def test_case_events_reach_a_subscribed_endpoint_signed_and_without_personal_data(
    world: World, receiver: str
) -> None:
    endpoint = WebhookEndpoint.objects.create(name="12345", url=receiver, secret="s3cret", actions=["accept"])
    case = reported(world)
    services.case_accept(case=case, actor=world.user("town_dispatcher"))
    rows = Notification.objects.filter(channel=NotificationChannel.WEBHOOK)
    assert rows.count() == 1  # the submit event is not subscribed
    tasks.deliver_batch()
    (headers, body), = Receiver.received
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Sizhi-Signature"] == expected
    assert headers["X-Sizhi-Delivery"] == str(rows.get().pk)
    payload = json.loads(body)
    assert payload["case"] == case.number and payload["to_status"] == "accepted"
    assert "13800000001" not in body.decode() and "张三" not in body.decode()
    assert rows.get().status == NotificationStatus.SENT
    endpoint.refresh_from_db()


def test_a_failing_endpoint_is_retried_with_backoff_then_given_up(world: World, receiver: str) -> None:
    WebhookEndpoint.objects.create(name="down", url=receiver, secret="x")
    Receiver.status = 500
    case = reported(world)
    services.case_accept(case=case, actor=world.user("town_dispatcher"))
    row = Notification.objects.get(channel=NotificationChannel.WEBHOOK, payload__case=case.number)
    tasks.deliver_batch()
    row.refresh_from_db()
    assert row.status == NotificationStatus.PENDING and row.attempts == 1
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=20)
    tasks.deliver_batch()  # not due yet: nothing is sent again
    assert len(Receiver.received) == 1
    for _ in range(2, tasks.MAX_ATTEMPTS + 1):
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        tasks.deliver_batch()
    row.refresh_from_db()
    assert row.status == NotificationStatus.FAILED and row.last_error == "WebhookFailed"
    assert len(Receiver.received) == tasks.MAX_ATTEMPTS


def test_backoff_doubles_and_is_capped() -> None:
    assert [tasks.backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert tasks.backoff(20) == timedelta(hours=1)


def test_endpoint_outside_the_case_region_hears_nothing(world: World, receiver: str) -> None:
    WebhookEndpoint.objects.create(name="西工区", url=receiver, secret="x", scope=world.district_b)
    case = reported(world)  # a case in 老城区
    services.case_accept(case=case, actor=world.user("town_dispatcher"))
    assert not Notification.objects.filter(channel=NotificationChannel.WEBHOOK).exists()
