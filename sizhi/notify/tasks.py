"""Background delivery of the outbox."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.mail import send_mail
from django.db.models import F, Q
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from sizhi.notify import webhooks
from sizhi.notify.models import Notification, NotificationChannel, NotificationStatus
from sizhi.notify.sms import send_sms

logger = logging.getLogger("sizhi.notify")
MAX_ATTEMPTS = 5
BATCH = 200
# A claim older than this belongs to a worker that died mid-send; the message is tried again.
CLAIM_TIMEOUT = timedelta(minutes=5)


def _claimable(now: datetime) -> Q:
    return Q(status=NotificationStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=NotificationStatus.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT
    )


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min … capped at one hour."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), timedelta(hours=1))


def _send(row: Notification) -> None:
    if row.channel == NotificationChannel.SMS:
        # The recipient's (encrypted) number; `phone` only for rows queued before that.
        phone = (row.recipient.phone if row.recipient is not None else None) or row.phone
        if not phone:
            return  # the recipient removed their number after the message was queued
        send_sms(phone, f"{row.subject} {row.body}")
    elif row.channel == NotificationChannel.EMAIL:
        send_mail(row.subject, row.body, None, [row.email], fail_silently=False)
    elif row.channel == NotificationChannel.WEBHOOK:
        if row.webhook is None or not row.webhook.is_active:
            return  # the subscription was switched off after the message was queued
        webhooks.post(url=row.webhook.url, secret=row.webhook.secret, payload=row.payload, delivery_id=row.pk)
    # Inbox messages are delivered by being stored; marking them sent is all that is left.


def deliver_batch() -> int:
    """Send what is due. Each row is claimed with a conditional UPDATE before it is sent, so two
    workers running at once never send the same message. Returns how many were sent."""
    now = timezone.now()
    sent = 0
    # A worker that died during the last allowed attempt leaves a claim no one may retry; without
    # this it would stay "sending" for ever instead of showing up as failed.
    Notification.objects.filter(
        status=NotificationStatus.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT, attempts__gte=MAX_ATTEMPTS
    ).update(status=NotificationStatus.FAILED, last_error="ClaimExpired")
    ids = list(
        Notification.objects.filter(_claimable(now), attempts__lt=MAX_ATTEMPTS)
        .order_by("id")
        .values_list("id", flat=True)[:BATCH]
    )
    for pk in ids:
        claimed = Notification.objects.filter(_claimable(now), pk=pk).update(
            status=NotificationStatus.SENDING, claimed_at=timezone.now(), attempts=F("attempts") + 1
        )
        if claimed != 1:
            continue
        row = Notification.objects.select_related("webhook", "recipient").get(pk=pk)
        try:
            _send(row)
        except Exception as exc:  # one failing gateway call must not stop the rest of the batch
            logger.warning("notification %s failed: %s", pk, type(exc).__name__)
            retry = row.attempts < MAX_ATTEMPTS
            Notification.objects.filter(pk=pk).update(
                status=NotificationStatus.PENDING if retry else NotificationStatus.FAILED,
                last_error=type(exc).__name__[:200],
                next_attempt_at=timezone.now() + backoff(row.attempts),
            )
            continue
        Notification.objects.filter(pk=pk).update(status=NotificationStatus.SENT, sent_at=timezone.now())
        sent += 1
    return sent


@db_task()
def deliver_pending() -> int:
    return deliver_batch()


@db_periodic_task(crontab(minute="*"))
def deliver_pending_periodically() -> int:
    # Catches what a dead worker left behind and what failed before.
    return deliver_batch()
