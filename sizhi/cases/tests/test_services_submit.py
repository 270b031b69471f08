"""report_submit: a citizen's report becomes a case in 待受理, exactly once, with clean text and a
place inside the platform's grids (or an address the city dispatchers place by hand)."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from sizhi.cases import services
from sizhi.cases.errors import ReportInvalid
from sizhi.cases.models import Attachment, AttachmentKind, Case, CaseEvent
from sizhi.cases.workflow import CaseAction, CaseStatus, Channel
from sizhi.conftest import World, inside, make_photo
from sizhi.notify.models import Notification, NotificationChannel

DESCRIPTION = "金业路与中州路路口井盖缺失，夜间很危险"


def submit(world: World, *, reporter: str | None = "citizen", grid=None, **kwargs) -> Case:
    lat, lng = inside(grid or world.grid_a1)
    kwargs.setdefault("description", DESCRIPTION)
    kwargs.setdefault("lat", lat)
    kwargs.setdefault("lng", lng)
    return services.report_submit(reporter=world.user(reporter) if reporter else None, **kwargs)


def recipients() -> set[str]:
    return set(Notification.objects.values_list("recipient__username", flat=True))


# --- the case that is made ---------------------------------------------------------------------


def test_submit_creates_reported_case_in_the_grid_of_the_point(world: World) -> None:
    # given a citizen on a point inside grid A1-1
    # when they submit a report
    case = submit(world)

    # then a case waits for acceptance, placed in the grid and its village
    case.refresh_from_db()
    assert case.status == CaseStatus.REPORTED
    assert case.grid == world.grid_a1
    assert case.region == world.village_a1
    assert case.region_code == world.village_a1.code
    assert case.reporter == world.user("citizen")
    assert case.version == 0
    assert case.title == DESCRIPTION
    local = timezone.localtime(case.created_at)
    assert case.number == f"LY{local:%Y%m%d}{case.pk:08d}"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", case.tracking_code)


def test_submit_writes_one_submit_event_with_the_reporter_as_actor(world: World) -> None:
    case = submit(world)

    event = CaseEvent.objects.get(case=case)
    assert event.action == CaseAction.SUBMIT
    assert event.from_status == ""
    assert event.to_status == CaseStatus.REPORTED
    assert event.actor == world.user("citizen")
    assert event.data == {"channel": Channel.APP}
    assert event.created_at == case.created_at


def test_hotline_submit_records_the_staff_member_who_typed_it(world: World) -> None:
    # given a dispatcher entering a 12345 call on behalf of a citizen
    case = submit(world, reporter="citizen", channel=Channel.HOTLINE, actor=world.user("town_dispatcher"))

    event = case.events.get()
    assert case.channel == Channel.HOTLINE
    assert case.reporter == world.user("citizen")
    assert event.actor == world.user("town_dispatcher")


def test_submit_notifies_only_the_dispatchers_of_the_lowest_centre(world: World) -> None:
    # given dispatchers of the town, the district and the city all cover grid A1-1
    # when a report comes in there
    submit(world)

    # then only the town centre is paged (inbox only: staff get no SMS for intake)
    assert recipients() == {"town_dispatcher"}
    assert set(Notification.objects.values_list("channel", flat=True)) == {NotificationChannel.INBOX}


def test_submit_in_another_town_notifies_that_towns_dispatcher(world: World) -> None:
    submit(world, grid=world.grid_b1)

    assert recipients() == {"town_dispatcher_b"}


def test_submit_puts_the_notice_in_the_dispatchers_inbox_and_leaves_other_channels_to_the_worker(
    world: World,
) -> None:
    dispatcher = world.user("town_dispatcher")
    dispatcher.email = "dispatch@example.org"
    dispatcher.save(update_fields=["email"])
    submit(world)

    rows = set(Notification.objects.filter(recipient=dispatcher).values_list("channel", "status"))
    assert rows == {("inbox", "sent"), ("email", "pending")}


def test_submit_stores_photos_on_the_submit_event(world: World) -> None:
    case = submit(world, photos=[make_photo(), make_photo(fmt="PNG", name="b.png")])

    attachments = list(Attachment.objects.filter(case=case))
    assert len(attachments) == 2
    assert {a.kind for a in attachments} == {AttachmentKind.REPORT}
    assert {a.event_id for a in attachments} == {case.events.get().pk}
    assert {a.content_type for a in attachments} == {"image/jpeg"}


# --- idempotency -------------------------------------------------------------------------------


def test_same_idempotency_key_five_times_makes_exactly_one_case(world: World) -> None:
    # given a flaky link that makes the app resend the same report
    # when it arrives five times with the same key
    cases = [submit(world, idempotency_key="k-7f0c3a55-0d1e") for _ in range(5)]

    # then there is one case, one event and one round of notifications
    assert {c.pk for c in cases} == {cases[0].pk}
    assert Case.objects.count() == 1
    assert CaseEvent.objects.count() == 1
    assert Notification.objects.count() == 1


def test_same_idempotency_key_from_another_reporter_is_refused(world: World) -> None:
    submit(world, reporter="citizen", idempotency_key="k-shared")

    with pytest.raises(ReportInvalid) as exc:
        submit(world, reporter="citizen2", idempotency_key="k-shared")

    assert exc.value.code == "idempotency_key_reused"
    assert Case.objects.count() == 1


def test_same_idempotency_key_from_an_anonymous_sender_is_refused(world: World) -> None:
    submit(world, reporter="citizen", idempotency_key="k-shared")

    with pytest.raises(ReportInvalid) as exc:
        submit(world, reporter=None, idempotency_key="k-shared")

    assert exc.value.code == "idempotency_key_reused"


def test_anonymous_resubmission_with_the_same_key_returns_the_first_case(world: World) -> None:
    first = submit(world, reporter="citizen", is_anonymous=True, idempotency_key="k-anon")
    again = submit(world, reporter="citizen", is_anonymous=True, idempotency_key="k-anon")

    assert again.pk == first.pk
    assert Case.objects.count() == 1


def test_blank_idempotency_key_does_not_merge_reports(world: World) -> None:
    submit(world, idempotency_key="  \u200b ")
    submit(world, idempotency_key="")

    assert Case.objects.count() == 2
    assert set(Case.objects.values_list("idempotency_key", flat=True)) == {None}


# --- anonymity ---------------------------------------------------------------------------------


def test_anonymous_report_keeps_no_reporter_and_no_actor(world: World) -> None:
    # given a signed-in citizen who ticks "anonymous"
    case = submit(world, reporter="citizen", is_anonymous=True)

    # then nothing links the case to the account
    case.refresh_from_db()
    assert case.is_anonymous is True
    assert case.reporter is None
    assert case.events.get().actor is None
    assert not Notification.objects.filter(recipient=world.user("citizen")).exists()


def test_report_without_an_account_has_no_reporter(world: World) -> None:
    case = submit(world, reporter=None)

    assert case.reporter is None
    assert case.events.get().actor is None


# --- location ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lng"),
    [
        (float("nan"), 112.405),
        (34.605, float("nan")),
        (float("inf"), 112.405),
        (1e308, 112.405),
        (34.605, -1e308),
        ("nan", "112.405"),
        ("34.605", "1e308"),
        ("三十四度", "112.405"),
        ("34.605; DROP TABLE cases_case", "112.405"),
        (34.605, None),
        (None, 112.405),
        (90.0001, 112.405),
        (34.605, 180.5),
        ([34.6], 112.405),
    ],
)
def test_submit_rejects_a_location_that_is_not_a_finite_coordinate(world: World, lat: object, lng: object) -> None:
    with pytest.raises(ReportInvalid) as exc:
        submit(world, lat=lat, lng=lng)

    assert exc.value.code == "location_invalid"
    assert exc.value.field == "location"
    assert Case.objects.count() == 0


def test_submit_accepts_coordinates_sent_as_text(world: World) -> None:
    lat, lng = inside(world.grid_a2)

    case = submit(world, lat=str(lat), lng=f" {lng} ")

    assert case.grid == world.grid_a2


@pytest.mark.parametrize(
    ("lat", "lng"),
    [
        (34.75, 113.65),  # 郑州: a real place, but no grid of ours
        (0.0, 0.0),
        (-33.86, 151.21),
        (34.605, 112.395),  # just west of grid A1-1
    ],
)
def test_submit_rejects_a_point_outside_every_grid(world: World, lat: float, lng: float) -> None:
    with pytest.raises(ReportInvalid) as exc:
        submit(world, lat=lat, lng=lng)

    assert exc.value.code == "location_outside"
    assert Case.objects.count() == 0


def test_address_only_report_starts_at_the_city(world: World) -> None:
    # given a report with an address but no point on the map
    case = submit(world, lat=None, lng="", address="老城区金业路 18 号")

    # then the city's dispatchers place it: the case belongs to the city, no grid yet
    assert case.region == world.city
    assert case.region_code == world.city.code
    assert case.grid is None
    assert case.lat is None and case.lng is None
    assert case.address == "老城区金业路 18 号"
    assert recipients() == {"city_dispatcher"}


def test_report_without_point_or_address_is_refused(world: World) -> None:
    with pytest.raises(ReportInvalid) as exc:
        submit(world, lat=None, lng=None, address=" \u200b ")

    assert exc.value.code == "location_required"


# --- text --------------------------------------------------------------------------------------


def test_submit_strips_nul_controls_bidi_overrides_and_zero_width_characters(world: World) -> None:
    dirty = "井盖\x00缺失\u202e很危险\u200b，\u200d请尽快\ufeff处理\x07\u2066！"

    case = submit(world, description=dirty, title="井\x00盖\u202e缺\u200b失", address="金业路\u200f18号\x1b")

    case.refresh_from_db()
    assert case.description == "井盖缺失很危险，请尽快处理！"
    assert case.title == "井盖缺失"
    assert case.address == "金业路18号"


@pytest.mark.parametrize(
    "invisible",
    [
        "\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b",  # C0/C1 controls (NEL, CSI)
        "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e", "\u2062",  # zero width
        "\u200e", "\u200f", "\u061c", "\u202a", "\u202e", "\u2066", "\u2069",  # bidi marks and overrides
    ],
)
def test_submit_strips_each_invisible_or_control_character(world: World, invisible: str) -> None:
    case = submit(world, description=f"井盖{invisible}缺失很危险", address=f"金业路{invisible}18号")

    case.refresh_from_db()
    assert case.description == "井盖缺失很危险"
    assert case.address == "金业路18号"


def test_submit_strips_lone_surrogates(world: World) -> None:
    case = submit(world, description="井盖\ud800缺失\udfff很危险")

    case.refresh_from_db()
    assert case.description == "井盖缺失很危险"


def test_submit_keeps_characters_outside_the_basic_plane(world: World) -> None:
    # 𠮷 (U+20BB7) is a real surname character; it must survive storage on every database
    case = submit(world, description="𠮷祥路口井盖缺失 🚧", title="𠮷祥路井盖")

    case.refresh_from_db()
    assert case.description == "𠮷祥路口井盖缺失 🚧"
    assert case.title == "𠮷祥路井盖"


def test_submit_keeps_line_breaks_and_normalises_them(world: World) -> None:
    case = submit(world, description="第一行描述\r\n第二行\r第三行")

    assert case.description == "第一行描述\n第二行\n第三行"
    assert case.title == "第一行描述"


@pytest.mark.parametrize("description", ["", "坑", "  井盖  ", "井\u200b\u200b\u200b盖\x00\x00", "\ud800" * 10])
def test_submit_refuses_a_description_too_short_after_cleaning(world: World, description: str) -> None:
    with pytest.raises(ReportInvalid) as exc:
        submit(world, description=description)

    assert exc.value.code == "description_too_short"
    assert exc.value.field == "description"
    assert Case.objects.count() == 0


def test_submit_accepts_a_description_of_exactly_the_limits(world: World) -> None:
    short = submit(world, description="井盖缺失了")
    long = submit(world, description="井" * services.DESCRIPTION_MAX)

    assert len(short.description) == services.DESCRIPTION_MIN
    assert len(long.description) == services.DESCRIPTION_MAX


@pytest.mark.parametrize("length", [services.DESCRIPTION_MAX + 1, 1024 * 1024])
def test_submit_refuses_a_description_too_long(world: World, length: int) -> None:
    with pytest.raises(ReportInvalid) as exc:
        submit(world, description="井" * length)

    assert exc.value.code == "description_too_long"
    assert Case.objects.count() == 0


def test_title_defaults_to_the_first_line_of_the_description_cut_at_30(world: World) -> None:
    case = submit(world, description="井" * 40 + "\n第二行")

    assert case.title == "井" * 30 + "…"


def test_overlong_title_is_cut_to_the_column(world: World) -> None:
    case = submit(world, title="标" * 500)

    case.refresh_from_db()
    assert case.title == "标" * services.TITLE_MAX


def test_submit_refuses_an_inactive_category(world: World) -> None:
    world.category.is_active = False
    world.category.save()

    with pytest.raises(ReportInvalid) as exc:
        submit(world, category=world.category)

    assert exc.value.code == "category_inactive"


# --- photos and atomicity ----------------------------------------------------------------------


def test_ten_photos_are_refused_before_anything_is_stored(world: World) -> None:
    with pytest.raises(ReportInvalid) as exc:
        submit(world, photos=[make_photo() for _ in range(10)])

    assert exc.value.code == "photo_too_many"
    assert Case.objects.count() == 0
    assert Attachment.objects.count() == 0


def test_one_bad_photo_refuses_the_whole_report(world: World) -> None:
    with pytest.raises(ReportInvalid) as exc:
        submit(world, photos=[make_photo(), SimpleUploadedFile("x.jpg", b"<html>not an image</html>")])

    assert exc.value.code == "photo_unreadable"
    assert Case.objects.count() == 0
    assert Attachment.objects.count() == 0


def test_submit_leaves_nothing_behind_when_writing_the_event_fails(world: World) -> None:
    # given the event insert fails after the case row was written
    with (
        mock.patch.object(CaseEvent.objects, "create", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        submit(world, photos=[make_photo()], idempotency_key="k-fail")

    # then the whole submission is rolled back: no case, photo row or notification
    assert Case.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert Notification.objects.count() == 0

    # and a retry with the same key then succeeds once
    case = submit(world, idempotency_key="k-fail")
    assert Case.objects.get().pk == case.pk
