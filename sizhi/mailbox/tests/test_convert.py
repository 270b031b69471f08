"""转为办件: the case made from a letter carries what the addressee writes and, of the writer,
exactly the identity chosen within what the writer allowed. It keeps channel MAILBOX, so it is
handled like any case but stays out of Open311 and the public "me too" suggestions."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.cases.models import Case
from sizhi.cases.workflow import Channel
from sizhi.conftest import World
from sizhi.mailbox import services
from sizhi.mailbox.errors import LetterError, LetterNotFound
from sizhi.mailbox.models import Identity, LetterAction, LetterStatus
from sizhi.mailbox.tests.conftest import MARKER, MailWorld, extra_people, write_letter


def convert(mail: MailWorld, identity: str, **extra: object) -> Case:
    return services.letter_convert_to_case(
        letter=mail.letter, actor=mail.user("party_secretary"), identity=identity, title="修路灯",
        description="金业路北段路灯损坏，请安排维修。", address="金业路北段", **extra,  # type: ignore[arg-type]
    )


def test_nothing_travels(mail: MailWorld) -> None:
    case = convert(mail, Identity.NOTHING)
    assert case.channel == Channel.MAILBOX
    assert case.reporter_id is None and case.is_anonymous
    assert "张三" not in case.description and "13800000001" not in case.description
    assert MARKER not in case.description and MARKER not in case.title
    mail.letter.refresh_from_db()
    assert mail.letter.status == LetterStatus.CONVERTED and mail.letter.case == case
    assert mail.letter.converted_identity == Identity.NOTHING
    assert mail.letter.events.filter(action=LetterAction.CONVERTED).count() == 1
    # The writer sees "已转为办件" and the case's own tracking code.
    page = Client().post(reverse("mailbox:track"), {"code": mail.code}, REMOTE_ADDR="192.0.2.5")
    assert "已转为办件".encode() in page.content and case.tracking_code.encode() in page.content
    # The photos went through the case photo pipeline.
    assert case.attachments.count() == mail.letter.photos.count() == 1


def test_name_only_travels_as_a_line_of_the_description(mail: MailWorld) -> None:
    case = convert(mail, Identity.NAME)
    assert case.reporter_id is None and not case.is_anonymous
    assert case.description.startswith("来信人：张三")
    assert "13800000001" not in case.description


def test_a_title_left_empty_is_made_from_the_matter_not_the_name(mail: MailWorld) -> None:
    case = services.letter_convert_to_case(
        letter=mail.letter, actor=mail.user("party_secretary"), identity=Identity.NAME, title="",
        description="金业路北段路灯损坏，请安排维修。", address="金业路北段",
    )
    assert "张三" not in case.title and case.title.startswith("金业路北段")


def test_name_and_phone_travel_as_the_reporter(mail: MailWorld) -> None:
    case = convert(mail, Identity.NAME_PHONE)
    assert case.reporter == mail.user("citizen") and not case.is_anonymous
    writer = Client()
    writer.force_login(mail.user("citizen"))
    assert case.number.encode() in writer.get(reverse("web:my_reports")).content


def test_the_addressee_cannot_send_more_than_the_writer_allowed(world: World) -> None:
    extra_people(world)
    letter, _code = write_letter(world, consent=Identity.NAME)
    secretary = world.user("party_secretary")
    services.letter_read(letter=letter, actor=secretary)
    with pytest.raises(LetterError) as err:
        services.letter_convert_to_case(
            letter=letter, actor=secretary, identity=Identity.NAME_PHONE, title="x", description="需要办理的事项。",
            address="金业路",
        )
    assert err.value.code == "letter_identity_not_allowed"
    assert Case.objects.count() == 0
    assert services.allowed_identities(letter) == [Identity.NOTHING, Identity.NAME]


def test_an_anonymous_letter_converts_with_no_identity_only(world: World) -> None:
    extra_people(world)
    letter, _code = write_letter(world, anonymous=True)
    assert services.allowed_identities(letter) == [Identity.NOTHING]


def test_only_once_and_only_by_the_addressee(mail: MailWorld) -> None:
    with pytest.raises(LetterNotFound):
        services.letter_convert_to_case(
            letter=mail.letter, actor=mail.user("grid_worker"), identity=Identity.NOTHING, title="x",
            description="需要办理的事项。", address="金业路",
        )
    convert(mail, Identity.NOTHING)
    with pytest.raises(LetterError) as err:
        convert(mail, Identity.NOTHING)
    assert err.value.http_status == 409
    with pytest.raises(LetterError):
        services.letter_close(letter=mail.letter, actor=mail.user("party_secretary"))
    assert Case.objects.count() == 1


def test_the_converted_case_is_not_published(mail: MailWorld) -> None:
    case = convert(mail, Identity.NAME_PHONE)
    body = Client().get("/open311/v2/requests.json").content
    assert case.number.encode() not in body and case.tracking_code.encode() not in body


def test_convert_through_the_page(mail: MailWorld) -> None:
    client = Client()
    client.force_login(mail.user("party_secretary"))
    page = client.get(reverse("mailbox:inbox_detail", args=[mail.letter.pk]))
    assert b'data-testid="letter-convert-form"' in page.content
    refused = client.post(reverse("mailbox:convert", args=[mail.letter.pk]),
                          {"identity": "bogus", "description": "修路灯。", "address": "金业路"})
    assert refused.status_code == 400 and Case.objects.count() == 0
    done = client.post(reverse("mailbox:convert", args=[mail.letter.pk]),
                       {"identity": "name", "description": "修路灯。", "address": "金业路", "title": "路灯"})
    assert done.status_code == 302
    assert Case.objects.get().channel == Channel.MAILBOX
