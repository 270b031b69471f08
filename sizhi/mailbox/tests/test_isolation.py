"""Who can reach a letter, over every channel: the authorisation matrix is data (MATRIX), and
one parametrised test per channel runs it. A letter is seen by its addressee and its current
delegates and by nobody else — not the official it is about, not his superior, not another
secretary, dispatcher, leader or administrator — and every refusal is the same 404 as a letter
that does not exist. SECURITY.md abuse case 3 is at the end.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.accounts.models import User
from sizhi.audit.models import AuditRecord
from sizhi.conftest import World
from sizhi.mailbox import permissions, selectors, services
from sizhi.mailbox.models import Letter, LetterLevel, LetterReply, LetterStatus
from sizhi.mailbox.tests.conftest import BODY_FRAGMENT, MARKER, MailWorld, extra_people

ADDRESSEE = "party_secretary"
DELEGATE = "grid_worker"
EX_DELEGATE = "cadre2"
SUBJECT = "village_cadre"
SUPERIOR = "town_secretary"
WRITER = "citizen"
STRANGER = None  # not signed in

OUTSIDERS = [
    SUBJECT, SUPERIOR, EX_DELEGATE, "district_secretary", "other_secretary", "town_dispatcher",
    "town_dispatcher_b", "district_dispatcher", "city_dispatcher", "department_handler", "leader",
    "grid_worker_b", "system_admin", "security_admin", "audit_admin", WRITER, "citizen2", STRANGER,
]
EVERYONE = [ADDRESSEE, DELEGATE, *OUTSIDERS]

# action -> (people allowed, status for them); everyone else gets 404.
MATRIX: dict[str, tuple[frozenset[str | None], int]] = {
    "detail": (frozenset({ADDRESSEE, DELEGATE}), 200),
    "photo": (frozenset({ADDRESSEE, DELEGATE}), 200),
    "reply": (frozenset({ADDRESSEE, DELEGATE}), 302),
    "delegate": (frozenset({ADDRESSEE}), 302),
    "undelegate": (frozenset({ADDRESSEE}), 302),
    "subject": (frozenset({ADDRESSEE}), 302),
    "close": (frozenset({ADDRESSEE}), 302),
    "convert": (frozenset({ADDRESSEE}), 302),
    "my_letter": (frozenset({WRITER}), 200),
}
CASES = [(who, action) for action in MATRIX for who in EVERYONE]


def client_for(mail: MailWorld, who: str | None) -> Client:
    client = Client()
    if who is not None:
        client.force_login(mail.user(who))
    return client


def request_for(mail: MailWorld, action: str) -> tuple[str, str, dict[str, object]]:
    letter = mail.letter
    photo = letter.photos.first()
    assert photo is not None
    w = mail.world
    posts: dict[str, dict[str, object]] = {
        "reply": {"body": "已收到，马上核实。"},
        "delegate": {"user": w.user(EX_DELEGATE).pk},
        "undelegate": {"user": w.user(DELEGATE).pk},
        "subject": {"user": "", "name": "王某"},
        "close": {},
        "convert": {"identity": "nothing", "title": "修路灯", "description": "金业路北段路灯损坏，请安排维修。",
                    "address": "金业路北段"},
    }
    if action == "detail":
        return "get", reverse("mailbox:inbox_detail", args=[letter.pk]), {}
    if action == "photo":
        return "get", reverse("mailbox:inbox_photo", args=[letter.pk, photo.pk]), {}
    if action == "my_letter":
        return "get", reverse("mailbox:my_letter", args=[letter.pk]), {}
    return "post", reverse(f"mailbox:{action}", args=[letter.pk]), posts[action]


def snapshot(letter: Letter) -> tuple[object, ...]:
    letter.refresh_from_db()
    return (
        letter.status, letter.case_id, LetterReply.objects.filter(letter=letter).count(),
        sorted(letter.delegates.filter(removed_at__isnull=True).values_list("user_id", flat=True)),
        letter.subjects.count(), letter.events.count(),
    )


@pytest.mark.parametrize(("who", "action"), CASES, ids=[f"{w or 'stranger'}-{a}" for w, a in CASES])
def test_matrix(mail: MailWorld, who: str | None, action: str) -> None:
    allowed, ok_status = MATRIX[action]
    method, url, data = request_for(mail, action)
    before = snapshot(mail.letter)
    response = getattr(client_for(mail, who), method)(url, data)
    if who in allowed:
        assert response.status_code == ok_status, response.content[:500]
        if method == "post":
            assert snapshot(mail.letter) != before
    else:
        if action == "my_letter" and who is None:
            assert response.status_code == 302  # to the login page, which tells nothing
        else:
            assert response.status_code == 404
            assert MARKER.encode() not in response.content
        assert snapshot(mail.letter) == before


@pytest.mark.parametrize("who", EVERYONE, ids=[w or "stranger" for w in EVERYONE])
def test_inbox_lists_only_own_and_delegated_letters(mail: MailWorld, who: str | None) -> None:
    response = client_for(mail, who).get(reverse("mailbox:inbox"))
    listed = response.status_code == 200 and MARKER.encode() in response.content
    assert listed == (who in {ADDRESSEE, DELEGATE})
    if who is not None:
        user = mail.user(who)
        assert (mail.letter in selectors.letters_for_user(user)) == (who in {ADDRESSEE, DELEGATE})
        assert permissions.can_view_letter(user, mail.letter) == (who in {ADDRESSEE, DELEGATE})


# Every other place that lists, counts, searches or exports: a letter is in none of them.
OTHER_CHANNELS = [
    "/console/", "/console/cases/", f"/console/cases/?q={MARKER}", "/console/insight/",
    "/console/insight/data.json", "/console/insight/cases/", f"/console/insight/cases/?q={MARKER}",
    "/console/insight/map/points.json?bbox=112,34,113,35", "/console/alerts/", "/console/command/ranking.xlsx",
    "/console/command/circular.xlsx", "/console/settings/rules/export.csv",
    "/console/settings/callbacks/", "/inbox/", "/me/reports/",
    "/api/v1/cases", f"/api/v1/cases?q={MARKER}", "/api/v1/me/cases", "/open311/v2/requests.json",
    "/open311/v2/requests.xml", "/console/audit/", "/console/system/", "/console/security/", "/console/residents/",
]


@pytest.mark.parametrize("who", EVERYONE, ids=[w or "stranger" for w in EVERYONE])
def test_letters_appear_in_no_other_channel(mail: MailWorld, who: str | None) -> None:
    client = client_for(mail, who)
    letter_url = reverse("mailbox:inbox_detail", args=[mail.letter.pk])
    for url in OTHER_CHANNELS:
        response = client.get(url)
        body = b"".join(response) if response.streaming else response.content  # type: ignore[arg-type]
        # The search box echoes the term, so look for the title and the body, not the term.
        for text in (f"{MARKER}标题", BODY_FRAGMENT, letter_url):
            if url == "/inbox/" and text == letter_url and who in {ADDRESSEE, DELEGATE, EX_DELEGATE}:
                continue  # their own notice that the letter came (it says nothing of its content)
            assert text.encode() not in body, url


def test_an_unconverted_letter_makes_no_case_and_changes_no_count(world: World) -> None:
    from sizhi.cases.models import Case

    extra_people(world)
    client = Client()
    client.force_login(world.user("town_dispatcher"))
    before_cases = Case.objects.count()
    before = client.get("/api/v1/cases").json()
    from sizhi.mailbox.tests.conftest import write_letter

    write_letter(world)
    assert Case.objects.count() == before_cases
    after = client.get("/api/v1/cases").json()
    assert after == before


def test_a_subject_marked_later_loses_his_delegation(mail: MailWorld) -> None:
    secretary, worker = mail.user(ADDRESSEE), mail.user(DELEGATE)
    assert permissions.can_view_letter(worker, mail.letter)
    services.letter_mark_subject(letter=mail.letter, actor=secretary, subject=worker)
    assert not permissions.can_view_letter(worker, mail.letter)
    assert mail.letter not in selectors.letters_for_user(worker)
    with pytest.raises(services.LetterError) as err:
        services.letter_delegate(letter=mail.letter, actor=secretary, delegate=worker)
    assert err.value.code == "letter_delegate_is_subject"


@pytest.mark.parametrize(
    ("who", "code"),
    [("village_cadre", "letter_delegate_is_subject"), ("system_admin", "letter_delegate_is_admin"),
     ("security_admin", "letter_delegate_is_admin"), ("audit_admin", "letter_delegate_is_admin"),
     ("town_dispatcher_b", "letter_delegate_out_of_area"), ("town_secretary", "letter_delegate_out_of_area"),
     ("citizen2", "letter_delegate_out_of_area"), ("party_secretary", "letter_delegate_is_addressee")],
)
def test_delegate_refusals(mail: MailWorld, who: str, code: str) -> None:
    before = snapshot(mail.letter)
    with pytest.raises(services.LetterError) as err:
        services.letter_delegate(letter=mail.letter, actor=mail.user(ADDRESSEE), delegate=mail.user(who))
    assert err.value.code == code
    assert snapshot(mail.letter) == before


def test_a_delegate_holding_an_admin_role_too_sees_nothing(mail: MailWorld) -> None:
    from sizhi.accounts.models import Membership, Role

    worker = mail.user(DELEGATE)
    Membership.objects.create(user=worker, role=Role.AUDIT_ADMIN)
    worker = User.objects.get(pk=worker.pk)
    assert not permissions.can_view_letter(worker, mail.letter)
    assert not selectors.letters_for_user(worker).exists()


# --- SECURITY.md abuse case 3 ---------------------------------------------------------------------


@pytest.mark.parametrize("who", [SUBJECT, SUPERIOR, "system_admin"])
def test_abuse_case_3_the_official_his_superior_and_the_admin_cannot_find_the_letter(
    mail: MailWorld, who: str
) -> None:
    """By id, by list, by search, by count: nothing, and each refusal is audited."""
    client = client_for(mail, who)
    letter = mail.letter
    before = snapshot(letter)
    # By id, and by the ids around it.
    for pk in (letter.pk - 1, letter.pk, letter.pk + 1):
        assert client.get(reverse("mailbox:inbox_detail", args=[pk])).status_code == 404
        assert client.post(reverse("mailbox:reply", args=[pk]), {"body": "x"}).status_code == 404
    # By list and by search.
    inbox = client.get(reverse("mailbox:inbox"))
    assert MARKER.encode() not in inbox.content
    for url in (f"/console/cases/?q={MARKER}", f"/api/v1/cases?q={MARKER}", f"/console/insight/cases/?q={MARKER}"):
        content = client.get(url).content
        assert f"{MARKER}标题".encode() not in content
        assert BODY_FRAGMENT.encode() not in content
    # By count: the selectors every page counts with hold nothing for them.
    user = mail.user(who)
    assert selectors.letters_for_user(user).count() == 0
    assert snapshot(letter) == before
    # The refused attempts to act are in the audit trail, with the result "denied".
    denied = AuditRecord.objects.filter(result="denied", actor_pk=user.pk)
    assert denied.count() >= 6


def test_abuse_case_3_a_letter_about_a_village_secretary_to_the_town_secretary(world: World) -> None:
    """The letter goes above the official it is about: he and the district above both miss it."""
    extra_people(world)
    village_secretary = world.user("party_secretary")
    submitted = services.letter_submit(
        writer=None, is_anonymous=True, village=world.village_a1, level=LetterLevel.TOWN,
        body=f"{MARKER} 村书记优亲厚友，低保评定不公。", subject_ids=[village_secretary.pk],
    )
    letter = submitted.letter
    assert letter.addressee == world.user("town_secretary")
    assert letter.status == LetterStatus.RECEIVED
    for who in ("party_secretary", "district_secretary", "town_dispatcher", "system_admin"):
        user = world.user(who)
        assert not permissions.can_view_letter(user, letter)
        client = Client()
        client.force_login(user)
        assert client.get(reverse("mailbox:inbox_detail", args=[letter.pk])).status_code == 404
        assert MARKER.encode() not in client.get(reverse("mailbox:inbox")).content
    with pytest.raises(services.LetterError):
        services.letter_delegate(letter=letter, actor=world.user("town_secretary"), delegate=village_secretary)


def test_writer_cannot_name_the_addressee_as_subject(world: World) -> None:
    extra_people(world)
    with pytest.raises(services.LetterError) as err:
        services.letter_submit(
            writer=None, is_anonymous=True, village=world.village_a1, level=LetterLevel.VILLAGE,
            body="反映书记本人的问题……", subject_ids=[world.user("party_secretary").pk],
        )
    assert err.value.code == "letter_subject_is_addressee"
