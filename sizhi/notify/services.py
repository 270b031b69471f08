"""Writers of the outbox. Called inside the transaction of the change being reported."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from sizhi.accounts.models import User
from sizhi.notify.models import Notification, NotificationChannel


def notify_users(*, users: Iterable[User], subject: str, body: str, link: str = "", sms: bool = False) -> int:
    """Queue an inbox message (and an SMS to those with a phone when `sms`) for each user.

    Delivery happens in the background worker after commit; see notify.tasks.
    """
    rows: list[Notification] = []
    for user in {u.pk: u for u in users if u is not None}.values():
        rows.append(
            Notification(channel=NotificationChannel.INBOX, recipient=user, subject=subject, body=body, link=link)
        )
        if sms and user.phone:
            rows.append(
                Notification(
                    channel=NotificationChannel.SMS, recipient=user, phone=user.phone,
                    subject=subject, body=body, link=link,
                )
            )
    if rows:
        Notification.objects.bulk_create(rows)
        transaction.on_commit(_kick_delivery)
    return len(rows)


def _kick_delivery() -> None:
    # Imported late: the task module needs the configured queue, which tests run in immediate mode.
    from sizhi.notify.tasks import deliver_pending

    deliver_pending()
