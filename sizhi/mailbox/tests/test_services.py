"""The letter's life cycle: every change through one service, one LetterEvent and one audit
record each; transitions outside the table are refused with a stable code and change nothing."""

from __future__ import annotations

import pytest

from sizhi.audit.models import AuditRecord
from sizhi.conftest import World
from sizhi.mailbox import services
from sizhi.mailbox.errors import LetterError, LetterNotFound
from sizhi.mailbox.models import LetterAction, LetterEvent, LetterStatus
from sizhi.mailbox.tests.conftest import MARKER, MailWorld, extra_people, write_letter


def test_every_change_writes_an_event_and_an_audit_record(mail: MailWorld) -> None:
    secretary = mail.user("party_secretary")
    before_events = mail.letter.events.count()
    before_audit = AuditRecord.objects.count()
    services.letter_reply(letter=mail.letter, actor=secretary, body="收到。")
    services.letter_mark_subject(letter=mail.letter, actor=secretary, name="王某")
    services.letter_close(letter=mail.letter, actor=secretary)
    actions = list(mail.letter.events.order_by("id").values_list("action", flat=True))[before_events:]
    assert actions == [LetterAction.REPLIED, LetterAction.SUBJECT, LetterAction.CLOSED]
    records = AuditRecord.objects.order_by("seq")[before_audit:]
    assert [r.action for r in records] == ["letter.reply", "letter.subject", "letter.close"]
    for record in records:
        assert record.target_id == str(mail.letter.pk)
        assert MARKER not in str(record.detail) and "王某" not in str(record.detail)


def test_events_are_immutable(mail: MailWorld) -> None:
    event = LetterEvent.objects.filter(letter=mail.letter).first()
    assert event is not None
    with pytest.raises(ValueError):
        event.save()


def test_a_closed_letter_takes_no_reply_and_no_delegate(mail: MailWorld) -> None:
    secretary = mail.user("party_secretary")
    services.letter_close(letter=mail.letter, actor=secretary)
    with pytest.raises(LetterError) as err:
        services.letter_reply(letter=mail.letter, actor=secretary, body="再说一句。")
    assert err.value.http_status == 409
    with pytest.raises(LetterError):
        services.letter_delegate(letter=mail.letter, actor=secretary, delegate=mail.user("cadre2"))
    mail.letter.refresh_from_db()
    assert mail.letter.status == LetterStatus.CLOSED and mail.letter.replies.count() == 0


def test_an_unread_letter_cannot_be_closed(world: World) -> None:
    extra_people(world)
    letter, _code = write_letter(world)
    with pytest.raises(LetterError) as err:
        services.letter_close(letter=letter, actor=world.user("party_secretary"))
    assert err.value.code == "letter_closed_not_allowed"


def test_a_delegate_may_reply_but_not_decide(mail: MailWorld) -> None:
    worker = mail.user("grid_worker")
    services.letter_reply(letter=mail.letter, actor=worker, body="我去现场看过了。")
    for run in (
        lambda: services.letter_close(letter=mail.letter, actor=worker),
        lambda: services.letter_delegate(letter=mail.letter, actor=worker, delegate=mail.user("cadre2")),
        lambda: services.letter_mark_subject(letter=mail.letter, actor=worker, name="某人"),
    ):
        with pytest.raises(LetterNotFound):
            run()


def test_reply_text_is_required_and_bounded(mail: MailWorld) -> None:
    secretary = mail.user("party_secretary")
    with pytest.raises(LetterError):
        services.letter_reply(letter=mail.letter, actor=secretary, body="   ")
    with pytest.raises(LetterError):
        services.letter_reply(letter=mail.letter, actor=secretary, body="字" * (services.REPLY_MAX + 1))
    assert mail.letter.replies.count() == 0


def test_nul_bytes_and_lone_surrogates_are_cleaned(world: World) -> None:
    extra_people(world)
    submitted = services.letter_submit(
        writer=None, is_anonymous=True, village=world.village_a1, level="village",
        body="路灯\x00坏了\ud800，𠮷字也要存下来。",
    )
    submitted.letter.refresh_from_db()
    assert "\x00" not in submitted.letter.body and "\ud800" not in submitted.letter.body
    assert "𠮷" in submitted.letter.body
