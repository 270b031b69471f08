"""deliver_batch: the worker that empties the outbox. Each row is claimed before it is sent, so
two workers never send it twice; a failing gateway is retried up to MAX_ATTEMPTS; a claim left by
a worker that died is taken over after CLAIM_TIMEOUT."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from sizhi.accounts.models import User
from sizhi.notify import tasks
from sizhi.notify.models import Notification, NotificationChannel, NotificationStatus
from sizhi.notify.sms import LocmemSmsBackend, SentSms

PHONE = "13800000001"


class FailingSmsBackend:
    """A gateway that is down. The error text carries the phone, as real gateways' often do."""

    calls = 0

    def send(self, phone: str, text: str) -> None:
        FailingSmsBackend.calls += 1
        raise ConnectionError(f"gateway refused {phone}")


class FlakyForOnePhoneBackend:
    def send(self, phone: str, text: str) -> None:
        if phone == "13900000009":
            raise TimeoutError("slow gateway")
        LocmemSmsBackend.outbox.append(SentSms(phone, text))


class SecondWorkerMidSendBackend:
    """While this worker is inside the gateway call, a second worker runs a whole batch."""

    inner_sent: list[int] = []

    def send(self, phone: str, text: str) -> None:
        SecondWorkerMidSendBackend.inner_sent.append(tasks.deliver_batch())
        LocmemSmsBackend.outbox.append(SentSms(phone, text))


@pytest.fixture
def citizen(db: None) -> User:
    return User.objects.create_user(username="zhang", phone=PHONE, is_citizen=True)


def sms(user: User, **fields: object) -> Notification:
    values: dict[str, object] = {
        "channel": NotificationChannel.SMS, "recipient": user, "subject": "您的反映已受理",
        "body": "编号 LY2026 已受理。",
    }
    values.update(fields)
    return Notification.objects.create(**values)


def test_sms_is_sent_through_the_backend_and_marked_sent(citizen: User) -> None:
    # given one SMS and one inbox message waiting
    row = sms(citizen)
    inbox = Notification.objects.create(channel=NotificationChannel.INBOX, recipient=citizen, subject="s", body="b")

    # when the worker runs
    sent = tasks.deliver_batch()

    # then the SMS went out once with subject and body, and both rows are done
    assert sent == 2
    assert LocmemSmsBackend.outbox == [SentSms(PHONE, "您的反映已受理 编号 LY2026 已受理。")]
    for r in (row, inbox):
        r.refresh_from_db()
        assert r.status == NotificationStatus.SENT
        assert r.sent_at is not None
        assert r.attempts == 1


def test_a_sent_row_is_not_sent_again(citizen: User) -> None:
    sms(citizen)
    tasks.deliver_batch()

    assert tasks.deliver_batch() == 0
    assert len(LocmemSmsBackend.outbox) == 1


def test_failing_backend_is_retried_up_to_max_attempts_then_failed(citizen: User, settings) -> None:
    # given the SMS gateway is down
    settings.SIZHI_SMS_BACKEND = "sizhi.notify.tests.test_tasks.FailingSmsBackend"
    FailingSmsBackend.calls = 0
    row = sms(citizen)

    # when the worker runs again and again
    for attempt in range(1, tasks.MAX_ATTEMPTS):
        # each retry waits its backoff; make it due at once
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        assert tasks.deliver_batch() == 0
        row.refresh_from_db()
        # then the row goes back to pending with the error's type (never its text) recorded
        assert (row.status, row.attempts, row.last_error) == (NotificationStatus.PENDING, attempt, "ConnectionError")

    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    tasks.deliver_batch()
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.FAILED, tasks.MAX_ATTEMPTS)

    # and a failed row is left alone afterwards
    tasks.deliver_batch()
    assert FailingSmsBackend.calls == tasks.MAX_ATTEMPTS
    row.refresh_from_db()
    assert row.attempts == tasks.MAX_ATTEMPTS


def test_one_failing_message_does_not_stop_the_batch(citizen: User, settings) -> None:
    settings.SIZHI_SMS_BACKEND = "sizhi.notify.tests.test_tasks.FlakyForOnePhoneBackend"
    other = User.objects.create_user(username="li", phone="13900000009")
    failing = sms(other)
    fine = sms(citizen)

    assert tasks.deliver_batch() == 1

    failing.refresh_from_db()
    fine.refresh_from_db()
    assert failing.status == NotificationStatus.PENDING
    assert fine.status == NotificationStatus.SENT
    assert [m.phone for m in LocmemSmsBackend.outbox] == [PHONE]


def test_row_claimed_by_a_live_worker_is_not_sent_by_a_second_run(citizen: User) -> None:
    # given another worker claimed the message a moment ago and is sending it
    row = sms(citizen, status=NotificationStatus.SENDING, claimed_at=timezone.now(), attempts=1)

    assert tasks.deliver_batch() == 0

    assert LocmemSmsBackend.outbox == []
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENDING, 1)


def test_second_worker_running_during_a_send_does_not_send_it_again(citizen: User, settings) -> None:
    settings.SIZHI_SMS_BACKEND = "sizhi.notify.tests.test_tasks.SecondWorkerMidSendBackend"
    SecondWorkerMidSendBackend.inner_sent = []
    row = sms(citizen)

    assert tasks.deliver_batch() == 1

    assert SecondWorkerMidSendBackend.inner_sent == [0]
    assert len(LocmemSmsBackend.outbox) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 1)


def test_stale_claim_of_a_dead_worker_is_sent_again(citizen: User) -> None:
    # given a worker claimed the message longer ago than CLAIM_TIMEOUT and died
    claimed_at = timezone.now() - tasks.CLAIM_TIMEOUT - timedelta(seconds=1)
    row = sms(citizen, status=NotificationStatus.SENDING, claimed_at=claimed_at, attempts=1)

    assert tasks.deliver_batch() == 1

    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)
    assert row.claimed_at is not None
    assert row.claimed_at > claimed_at
    assert len(LocmemSmsBackend.outbox) == 1


def test_stale_claim_on_the_last_attempt_ends_as_failed(citizen: User) -> None:
    # given a worker died while making the last allowed attempt
    claimed_at = timezone.now() - tasks.CLAIM_TIMEOUT - timedelta(seconds=1)
    row = sms(citizen, status=NotificationStatus.SENDING, claimed_at=claimed_at, attempts=tasks.MAX_ATTEMPTS)

    tasks.deliver_batch()

    # then it is not tried a sixth time, and it does not stay "sending" for ever either
    row.refresh_from_db()
    assert row.status == NotificationStatus.FAILED
    assert row.attempts == tasks.MAX_ATTEMPTS
    assert LocmemSmsBackend.outbox == []


def test_batch_is_limited_and_the_rest_goes_next_run(citizen: User) -> None:
    Notification.objects.bulk_create(
        Notification(channel=NotificationChannel.INBOX, recipient=citizen, subject=str(i), body="b")
        for i in range(tasks.BATCH + 3)
    )

    assert tasks.deliver_batch() == tasks.BATCH
    assert tasks.deliver_batch() == 3
    assert not Notification.objects.exclude(status=NotificationStatus.SENT).exists()


def test_logs_never_carry_the_phone_number_or_the_text(citizen: User, settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    sms(citizen, body="验证码 493021")
    tasks.deliver_batch()
    settings.SIZHI_SMS_BACKEND = "sizhi.notify.tests.test_tasks.FailingSmsBackend"
    sms(citizen)
    tasks.deliver_batch()

    # The application's own log lines; the test settings also log every SQL statement with its
    # parameters (the outbox row holds the text by design), which privacy's leak test checks.
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("django.db.backends"))
    assert "138****0001" in logged
    assert PHONE not in logged
    assert "493021" not in logged
    assert PHONE not in "".join(Notification.objects.values_list("last_error", flat=True))
