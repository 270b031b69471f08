"""Writers of the outbox. Called inside the transaction of the change being reported."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from sizhi.accounts.models import User
from sizhi.notify.models import Notification, NotificationChannel, NotificationStatus, WebhookEndpoint
from sizhi.ops.nudge import nudge


def notify_users(
    *, users: Iterable[User], subject: str, body: str, link: str = "", sms: bool = False, email: bool = True
) -> int:
    """Queue an inbox message for each user, an SMS to those with a phone when `sms`, and an
    e-mail to those with an address when `email`.

    Delivery happens in the background worker after commit; see notify.tasks.
    """
    rows: list[Notification] = []
    now = timezone.now()
    for user in {u.pk: u for u in users if u is not None}.values():
        # An inbox message is delivered by being stored: it is written sent, and only the other
        # channels need the worker.
        rows.append(
            Notification(channel=NotificationChannel.INBOX, recipient=user, subject=subject, body=body, link=link,
                         status=NotificationStatus.SENT, sent_at=now)
        )
        if sms and user.phone:
            rows.append(
                Notification(
                    # No phone copied here: the worker reads the recipient's encrypted number
                    # when it sends, so the outbox never holds one in clear (PIPL).
                    channel=NotificationChannel.SMS, recipient=user, subject=subject, body=body, link=link,
                )
            )
        if email and user.email:
            rows.append(
                Notification(
                    channel=NotificationChannel.EMAIL, recipient=user, email=user.email,
                    subject=subject, body=body, link=link,
                )
            )
    if rows:
        Notification.objects.bulk_create(rows)
        if any(row.channel != NotificationChannel.INBOX for row in rows):
            transaction.on_commit(_kick_delivery)
    return len(rows)


# Seconds a queued delivery waits for the messages of other requests to share it (ops.nudge).
DELIVERY_DELAY = 1


def _kick_delivery() -> None:
    # Imported late: the task module needs the configured queue, which tests run in immediate mode.
    from sizhi.notify.tasks import deliver_pending

    nudge(deliver_pending, key="notify-deliver", delay=DELIVERY_DELAY)


def notify_webhooks(*, event_payload: dict[str, object], action: str, region_code: str) -> int:
    """Queue one signed delivery per active endpoint subscribed to `action` whose scope holds the
    region. The payload must already be free of personal data."""
    rows = [
        Notification(
            channel=NotificationChannel.WEBHOOK, webhook=endpoint, subject=action, body="", payload=event_payload,
        )
        for endpoint in WebhookEndpoint.objects.filter(is_active=True).select_related("scope")
        if (not endpoint.actions or action in endpoint.actions)
        and (endpoint.scope is None or region_code.startswith(endpoint.scope.prefix))
    ]
    if rows:
        Notification.objects.bulk_create(rows)
        transaction.on_commit(_kick_delivery)
    return len(rows)


def inbox_mark_read(*, user: User, notification_id: int | None = None) -> int:
    """Mark one message (or, without an id, all) of the user's own inbox as read."""
    qs = Notification.objects.filter(recipient=user, channel=NotificationChannel.INBOX, read_at__isnull=True)
    if notification_id is not None:
        qs = qs.filter(pk=notification_id)
    return qs.update(read_at=timezone.now())
