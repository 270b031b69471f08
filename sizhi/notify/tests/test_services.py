"""notify_users writes the outbox inside the caller's transaction; delivery starts only after
commit, so a rolled-back change never sends a message."""

from __future__ import annotations

from typing import cast

import pytest
from django.db import transaction

from sizhi.accounts.models import User
from sizhi.cases import services
from sizhi.conftest import World, inside
from sizhi.notify.models import Notification, NotificationChannel, NotificationStatus
from sizhi.notify.services import notify_users
from sizhi.notify.sms import LocmemSmsBackend


@pytest.fixture
def people(db: None) -> dict[str, User]:
    return {
        "with_phone": User.objects.create_user(username="zhang", phone="13800000001"),
        "without_phone": User.objects.create_user(username="staff"),
    }


def rows() -> set[tuple[str, str, str]]:
    return set(Notification.objects.values_list("recipient__username", "channel", "phone"))


def test_inbox_message_for_each_user_and_sms_only_to_those_with_a_phone(people: dict[str, User]) -> None:
    count = notify_users(users=people.values(), subject="主题", body="内容", link="/x/", sms=True)

    assert count == 3
    assert rows() == {
        ("zhang", NotificationChannel.INBOX, ""),
        ("zhang", NotificationChannel.SMS, ""),  # the number is read from the account when sending
        ("staff", NotificationChannel.INBOX, ""),
    }
    # An inbox message is delivered by being stored; only the SMS waits for the worker.
    statuses = dict(Notification.objects.values_list("channel", "status").distinct())
    assert statuses == {
        NotificationChannel.INBOX: NotificationStatus.SENT, NotificationChannel.SMS: NotificationStatus.PENDING
    }
    assert not Notification.objects.filter(channel=NotificationChannel.INBOX, sent_at__isnull=True).exists()


def test_no_sms_unless_asked(people: dict[str, User]) -> None:
    notify_users(users=[people["with_phone"]], subject="主题", body="内容")

    assert rows() == {("zhang", NotificationChannel.INBOX, "")}


def test_each_user_is_told_once_and_missing_users_are_skipped(people: dict[str, User]) -> None:
    zhang = people["with_phone"]

    # callers pass None for a missing user (e.g. no reporter); notify_users skips it though typed Iterable[User]
    users = cast("list[User]", [zhang, None, User.objects.get(pk=zhang.pk), zhang])
    count = notify_users(users=users, subject="s", body="b", sms=True)

    assert count == 2
    assert Notification.objects.count() == 2


def test_nobody_to_tell_writes_nothing_and_schedules_nothing(db: None, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        assert notify_users(users=[], subject="s", body="b") == 0

    assert callbacks == []
    assert Notification.objects.count() == 0


def test_delivery_starts_after_commit(people: dict[str, User], django_capture_on_commit_callbacks) -> None:
    # given a change that queues a message
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify_users(users=[people["with_phone"]], subject="您的反映已受理", body="编号 1", sms=True)
        # then nothing is sent while the transaction is open
        assert LocmemSmsBackend.outbox == []

    # and after commit the worker sends it
    for callback in callbacks:
        callback()
    assert [m.phone for m in LocmemSmsBackend.outbox] == ["13800000001"]
    assert set(Notification.objects.values_list("status", flat=True)) == {NotificationStatus.SENT}


def test_rolled_back_change_sends_nothing(people: dict[str, User], django_capture_on_commit_callbacks) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notify_users(users=[people["with_phone"]], subject="s", body="b", sms=True)
        raise RuntimeError("the change failed")

    assert callbacks == []
    assert Notification.objects.count() == 0
    assert LocmemSmsBackend.outbox == []


def test_case_accepted_reaches_the_reporter_by_sms_after_commit(
    world: World, django_capture_on_commit_callbacks
) -> None:
    # given a citizen's report
    lat, lng = inside(world.grid_a1)
    case = services.report_submit(reporter=world.user("citizen"), description="井盖缺失很危险", lat=lat, lng=lng)

    # when the dispatcher accepts it and the transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        services.case_accept(case=case, actor=world.user("town_dispatcher"))

    # then the reporter got one SMS naming the case
    assert len(LocmemSmsBackend.outbox) == 1
    message = LocmemSmsBackend.outbox[0]
    assert message.phone == "13800000001"
    assert case.number in message.text
