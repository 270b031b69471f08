"""The mailbox's demo letters, loaded with the rest of the demo city."""

from __future__ import annotations

from django.db import transaction

from sizhi.cases.workflow import Channel
from sizhi.demo.loader import load_demo
from sizhi.mailbox.models import Letter, LetterStatus


def test_demo_has_a_converted_signed_letter_and_an_open_anonymous_one(db: None) -> None:
    with transaction.atomic():
        assert load_demo(districts=["410311"], cases=12, seed=3).loaded
    signed = Letter.objects.get(is_anonymous=False)
    assert signed.status == LetterStatus.CONVERTED
    assert signed.case is not None and signed.case.channel == Channel.MAILBOX
    assert signed.case.reporter == signed.writer
    assert signed.replies.count() == 1
    assert signed.delegates.count() == 1
    anonymous = Letter.objects.get(is_anonymous=True)
    assert anonymous.status == LetterStatus.RECEIVED and anonymous.writer_id is None
    assert anonymous.addressee == signed.addressee
