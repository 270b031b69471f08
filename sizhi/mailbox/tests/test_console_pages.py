"""The secretary's pages: the console link, refusals shown beside the form, nothing changed."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.mailbox.models import LetterDelegate
from sizhi.mailbox.tests.conftest import MailWorld


def secretary_client(mail: MailWorld) -> Client:
    client = Client()
    client.force_login(mail.user("party_secretary"))
    return client


@pytest.mark.parametrize(("who", "shown"), [("party_secretary", True), ("grid_worker", True),
                                            ("town_dispatcher", True), ("citizen", False)])
def test_console_nav_links_the_letter_inbox_for_staff(mail: MailWorld, who: str, shown: bool) -> None:
    client = Client()
    client.force_login(mail.user(who))
    page = client.get("/console/cases/") if shown else client.get("/")
    assert (b'data-testid="nav-mailbox"' in page.content and reverse("mailbox:inbox").encode() in page.content) == shown


def test_citizen_nav_and_home_link_the_mailbox(mail: MailWorld) -> None:
    page = Client().get("/")
    assert b'data-testid="home-mailbox"' in page.content
    assert reverse("mailbox:write").encode() in page.content


@pytest.mark.parametrize(
    ("who", "message"),
    [("system_admin", "管理员账号不能查看来信"), ("village_cadre", "来信反映的人员不能查看这封信"),
     ("town_dispatcher_b", "只能指定本辖区的工作人员")],
)
def test_refused_delegate_is_explained_and_nothing_changes(mail: MailWorld, who: str, message: str) -> None:
    before = LetterDelegate.objects.count()
    response = secretary_client(mail).post(reverse("mailbox:delegate", args=[mail.letter.pk]),
                                           {"user": mail.user(who).pk})
    assert response.status_code == 400
    assert message.encode() in response.content
    assert LetterDelegate.objects.count() == before


def test_detail_shows_writer_subjects_and_delegates_to_the_addressee(mail: MailWorld) -> None:
    page = secretary_client(mail).get(reverse("mailbox:inbox_detail", args=[mail.letter.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "张三" in text and "138****0001" in text and "13800000001" not in text
    assert 'data-testid="letter-subjects"' in text and "village_cadre" in text
    assert 'data-testid="letter-delegate"' in text and "grid_worker" in text
    # Only the current delegate: the ex-delegate is in the history, not in the list.
    delegates = text.split('data-testid="letter-delegates"')[1].split("</ul>")[0]
    assert "cadre2" not in delegates


def test_the_delegate_sees_no_addressee_controls(mail: MailWorld) -> None:
    client = Client()
    client.force_login(mail.user("grid_worker"))
    page = client.get(reverse("mailbox:inbox_detail", args=[mail.letter.pk]))
    assert page.status_code == 200
    assert b'data-testid="letter-reply-form"' in page.content
    for testid in (b"letter-convert-form", b"letter-delegate-form", b"letter-close-form", b"letter-undelegate"):
        assert testid not in page.content


def test_the_full_phone_needs_a_purpose_and_is_audited(mail: MailWorld) -> None:
    from sizhi.audit.models import AuditRecord

    client = secretary_client(mail)
    url = reverse("mailbox:unmask_phone", args=[mail.letter.pk])
    assert client.post(url, {}).status_code == 400
    shown = client.post(url, {"purpose": "call_back"})
    assert shown.status_code == 200 and b"13800000001" in shown.content
    record = AuditRecord.objects.filter(action="letter.unmask").get()
    assert record.target_id == str(mail.letter.pk) and "13800000001" not in str(record.detail)
    delegate = Client()
    delegate.force_login(mail.user("grid_worker"))
    assert delegate.post(url, {"purpose": "call_back"}).status_code == 404
