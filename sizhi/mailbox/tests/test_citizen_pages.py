"""The writer's side: writing (named and anonymous), the one-time receipt, tracking by code
(rate-limited, every miss the same 404), "my letters", and what an anonymous letter leaves
behind: no account, no address, no device, nothing in the audit trail that points at it."""

from __future__ import annotations

import io
import math
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from sizhi.audit.models import AuditRecord
from sizhi.conftest import World, make_photo
from sizhi.mailbox import selectors, services, views
from sizhi.mailbox.models import Letter, LetterLevel, LetterPhoto
from sizhi.mailbox.tests.conftest import MARKER, MailWorld, extra_people

IP = "203.0.113.77"


def write_url(world: World, level: str = "village") -> str:
    return f"{reverse('mailbox:write')}?village={world.village_a1.code}&level={level}"


def post_letter(client: Client, world: World, **extra: object) -> Any:
    data: dict[str, object] = {
        "body": f"{MARKER} 小区门口的下水道堵了一个月。", "title": "下水道", "idempotency_key": services.new_form_key(),
        **extra,
    }
    return client.post(write_url(world), data, REMOTE_ADDR=IP)


@pytest.fixture
def people(world: World) -> World:
    extra_people(world)
    return world


def test_place_step_names_the_secretary_or_says_there_is_none(people: World) -> None:
    client = Client()
    page = client.get(write_url(people))
    assert page.status_code == 200
    assert b'data-testid="letter-form"' in page.content
    # No secretary of 周公庙社区 on the platform.
    none = client.get(f"{reverse('mailbox:write')}?village={people.village_a2.code}&level=village")
    assert none.status_code == 400
    assert "暂未开通书记信箱".encode() in none.content
    assert b'data-testid="letter-form"' not in none.content


def test_place_is_chosen_town_first_then_village(people: World) -> None:
    client = Client()
    first = client.get(reverse("mailbox:write"))
    assert first.status_code == 200
    assert b'data-testid="letter-town"' in first.content and b'data-testid="letter-village"' not in first.content
    towns = client.get(f"{reverse('mailbox:write')}?town={people.town_a.code}")
    assert towns.status_code == 200
    villages = towns.content.decode()
    assert people.village_a1.code in villages and people.village_a2.code in villages
    assert people.village_b1.code not in villages
    # A village of another town is not taken: the chosen town's villages are offered again.
    mixed = client.get(f"{reverse('mailbox:write')}?town={people.town_a.code}&village={people.village_b1.code}")
    assert mixed.status_code == 200 and b'data-testid="letter-form"' not in mixed.content
    assert people.village_a1.code.encode() in mixed.content
    # Submitting the town's list with no village chosen says so.
    empty = client.get(f"{reverse('mailbox:write')}?town={people.town_a.code}&village=&level=village")
    assert empty.status_code == 400 and "请选择您所在的村（社区）。".encode() in empty.content


def test_a_signed_in_villager_starts_from_his_own_village(people: World) -> None:
    from sizhi.cases.services import report_submit
    from sizhi.conftest import inside

    lat, lng = inside(people.grid_a1)
    report_submit(reporter=people.user("citizen"), description="路灯坏了，晚上很黑。", lat=lat, lng=lng)
    client = Client()
    client.force_login(people.user("citizen"))
    page = client.get(reverse("mailbox:write")).content.decode()
    assert f'value="{people.village_a1.code}" selected' in page


def test_anonymous_letter_stores_nothing_identifying(people: World) -> None:
    client = Client()
    client.force_login(people.user("citizen"))  # signed in, and still chooses anonymity
    before = AuditRecord.objects.count()
    response = post_letter(client, people, is_anonymous="on", photos=[make_photo(exif_gps=True)])
    assert response.status_code == 200
    letter = Letter.objects.get()
    assert letter.is_anonymous and letter.writer_id is None
    assert letter.writer_name == "" and letter.writer_phone == ""
    assert letter.identity_consent == "nothing"
    assert letter.events.get().actor_id is None
    # Nothing on the row could hold an address or a device: the columns are what they are.
    columns = {f.column for f in Letter._meta.concrete_fields}
    assert columns.isdisjoint({"ip", "ip_address", "remote_addr", "source_address", "user_agent", "device_id",
                               "session_key", "client_address"})
    assert not any(w in c for c in columns for w in ("device", "agent", "session", "remote", "source"))
    row = Letter.objects.filter(pk=letter.pk).values().get()
    assert IP not in str(row)
    # The audit records of this request: no source address, no account, no link to the letter.
    records = list(AuditRecord.objects.order_by("seq")[before:])
    assert records, "the submission is recorded"
    for record in records:
        assert record.source_address is None
        assert record.actor_pk is None and record.actor_id is None
        assert record.target_id == ""
        assert IP not in str(record.detail)
    # The photo was re-encoded without its EXIF (GPS included).
    photo = LetterPhoto.objects.get()
    with photo.file.storage.open(photo.file.name, "rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        assert not image.getexif()


def test_named_letter_needs_an_account_and_keeps_it(people: World) -> None:
    client = Client()
    client.force_login(people.user("citizen"))
    response = post_letter(client, people, writer_name="张三", identity_consent="name_phone")
    assert response.status_code == 200
    letter = Letter.objects.get()
    assert not letter.is_anonymous and letter.writer == people.user("citizen")
    assert letter.writer_name == "张三" and letter.writer_phone == "13800000001"
    # Stored encrypted: the raw column holds neither the body, the name nor the phone.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT body, writer_name, writer_phone, title FROM mailbox_letter")
        raw = " ".join(str(v) for v in cursor.fetchone())
    for plain in (MARKER, "张三", "13800000001", "下水道"):
        assert plain not in raw


def test_logged_out_writers_write_anonymously(people: World) -> None:
    response = post_letter(Client(), people, writer_name="冒名", identity_consent="name_phone")
    assert response.status_code == 200
    letter = Letter.objects.get()
    assert letter.is_anonymous and letter.writer_name == ""


def test_receipt_shows_the_code_and_keeps_it_nowhere(people: World) -> None:
    client = Client()
    receipt = post_letter(client, people)
    assert receipt.status_code == 200
    code = receipt.context["receipt"]["code"]
    assert code.encode() in receipt.content
    assert b"data-testid=\"letter-receipt-warning\"" in receipt.content
    letter = Letter.objects.get()
    # Only a hash is stored; the session holds no code; the code is in no URL.
    assert letter.tracking_hash == selectors.tracking_hash(code)
    assert code not in str(Letter.objects.filter(pk=letter.pk).values().get())
    assert code not in str(dict(client.session.items()))
    assert code not in receipt.get("Location", "")
    page = Client().post(reverse("mailbox:track"), {"code": code}, REMOTE_ADDR="198.51.100.1")
    assert page.status_code == 200
    assert page.context["letter"] == letter


def test_tracking_code_has_at_least_128_bits() -> None:
    # From a form: derived from 256 random bits; without one: 192 random bits. Both 32 characters.
    assert len(services.new_form_key()) * math.log2(64) >= 256 - 6
    codes = {services.code_for_form_key(services.new_form_key()) for _ in range(1000)}
    codes |= {services.new_letter_code() for _ in range(1000)}
    assert len(codes) == 2000
    alphabet = 64  # URL-safe base64
    assert all(selectors.TRACKING_CODE.fullmatch(c) for c in codes)
    assert len(next(iter(codes))) * math.log2(alphabet) >= 128


def test_double_submit_makes_one_letter_and_shows_the_same_code(people: World) -> None:
    client = Client()
    key = services.new_form_key()
    first = post_letter(client, people, idempotency_key=key)
    second = post_letter(client, people, idempotency_key=key)
    assert first.status_code == second.status_code == 200
    assert first.context["receipt"]["code"] == second.context["receipt"]["code"]
    assert Letter.objects.count() == 1
    # Much later the same form token finds the letter but no longer shows its code.
    Letter.objects.update(created_at=timezone.now() - services.REPEAT_WINDOW - timedelta(seconds=1))
    late = post_letter(client, people, idempotency_key=key)
    assert late.status_code == 200 and late.context["receipt"]["code"] is None
    assert first.context["receipt"]["code"].encode() not in late.content
    # A form token of the wrong shape is refused, the text kept and a fresh token issued.
    refused = post_letter(client, people, idempotency_key="not-a-token")
    assert refused.status_code == 400 and Letter.objects.count() == 1


def test_wrong_code_is_the_same_404_as_an_unknown_one(mail: MailWorld) -> None:
    client = Client()
    malformed = client.post(reverse("mailbox:track"), {"code": "nope"}, REMOTE_ADDR=IP)
    near = client.post(reverse("mailbox:track"), {"code": mail.code[:-1] + ("A" if mail.code[-1] != "A" else "B")},
                       REMOTE_ADDR=IP)
    assert malformed.status_code == near.status_code == 404
    assert malformed.content.replace(b"nope", b"") .count(b"field-errors") == near.content.count(b"field-errors")


def test_tracking_lookups_are_rate_limited_per_address(mail: MailWorld) -> None:
    client = Client()
    for _ in range(views.TRACK_LOOKUPS.count):
        assert client.post(reverse("mailbox:track"), {"code": "x" * 32}, REMOTE_ADDR=IP).status_code == 404
    refused = client.post(reverse("mailbox:track"), {"code": mail.code}, REMOTE_ADDR=IP)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert MARKER.encode() not in refused.content
    # Another address still gets its answer.
    assert client.post(reverse("mailbox:track"), {"code": mail.code}, REMOTE_ADDR="198.51.100.9").status_code == 200


def test_writing_is_rate_limited_per_address(people: World) -> None:
    client = Client()
    for _ in range(views.LETTERS_PER_ADDRESS.count):
        assert post_letter(client, people).status_code == 200
    assert post_letter(client, people).status_code == 429
    assert Letter.objects.count() == views.LETTERS_PER_ADDRESS.count


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [("bomb.png", "bomb", "photo_dimensions"), ("page.jpg", b"<html><script>alert(1)</script></html>",
                                                   "photo_unreadable"), ("empty.jpg", b"", None)],
)
def test_bad_photos_are_refused_and_nothing_is_stored(people: World, name: str, content: object, code: str) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    if content == "bomb":
        out = io.BytesIO()
        Image.new("1", (20000, 20000)).save(out, format="PNG")
        content = out.getvalue()
    upload = SimpleUploadedFile(name, content, content_type="image/jpeg")  # type: ignore[arg-type]
    response = post_letter(Client(), people, photos=[upload])
    assert response.status_code == 400
    assert Letter.objects.count() == 0 and LetterPhoto.objects.count() == 0


def test_reply_reaches_the_writer_by_code_and_in_my_letters(mail: MailWorld) -> None:
    from sizhi.notify.models import Notification

    services.letter_reply(letter=mail.letter, actor=mail.user("party_secretary"), body="已安排维修，三天内修好。")
    by_code = Client().post(reverse("mailbox:track"), {"code": mail.code}, REMOTE_ADDR=IP)
    assert "已安排维修".encode() in by_code.content
    writer = Client()
    writer.force_login(mail.user("citizen"))
    mine = writer.get(reverse("mailbox:my_letter", args=[mail.letter.pk]))
    assert "已安排维修".encode() in mine.content
    notice = Notification.objects.filter(recipient=mail.user("citizen"), channel="inbox").latest("pk")
    assert "已安排维修" not in notice.body and MARKER not in notice.body
    assert MARKER.encode() in writer.get(reverse("mailbox:my_letters")).content


def test_anonymous_writer_is_never_in_my_letters(people: World) -> None:
    client = Client()
    client.force_login(people.user("citizen"))
    post_letter(client, people, is_anonymous="on")
    assert MARKER.encode() not in client.get(reverse("mailbox:my_letters")).content


def test_photo_is_served_inline_with_nosniff_to_the_addressee(mail: MailWorld) -> None:
    client = Client()
    client.force_login(mail.user("party_secretary"))
    photo = mail.letter.photos.get()
    response = client.get(reverse("mailbox:inbox_photo", args=[mail.letter.pk, photo.pk]))
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert response["Content-Type"] == "image/jpeg"
    # Not under MEDIA_ROOT: no media server can hand it out by path.
    from django.conf import settings

    assert not photo.file.path.startswith(str(settings.MEDIA_ROOT) + "/")


def test_reading_is_audited_without_the_text(mail: MailWorld) -> None:
    client = Client()
    client.force_login(mail.user("grid_worker"))
    assert client.get(reverse("mailbox:inbox_detail", args=[mail.letter.pk])).status_code == 200
    record = AuditRecord.objects.filter(action="letter.read", actor_pk=mail.user("grid_worker").pk).latest("seq")
    assert record.target_id == str(mail.letter.pk)
    assert MARKER not in str(record.detail)


def test_to_town_secretary(people: World) -> None:
    client = Client()
    response = client.post(
        f"{reverse('mailbox:write')}?village={people.village_a1.code}&level={LetterLevel.TOWN}",
        {"body": "反映村里低保评定的问题。", "idempotency_key": services.new_form_key()}, REMOTE_ADDR=IP,
    )
    assert response.status_code == 200
    assert Letter.objects.get().addressee == people.user("town_secretary")
