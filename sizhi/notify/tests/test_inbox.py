from django.test import Client
from django.urls import reverse

from sizhi.conftest import PASSWORD, World
from sizhi.notify.models import Notification
from sizhi.notify.services import notify_users


def login(client: Client, username: str) -> None:
    assert client.login(username=username, password=PASSWORD)


def test_each_user_sees_only_their_own_messages(world: World, client: Client) -> None:
    notify_users(users=[world.user("citizen")], subject="您的反映已受理", body="编号 1", link="/track/x/")
    notify_users(users=[world.user("citizen2")], subject="别人的消息", body="编号 2")
    login(client, "citizen")
    html = client.get(reverse("notify:inbox")).content.decode()
    assert "您的反映已受理" in html and "别人的消息" not in html
    assert 'data-testid="inbox-unread"' in html


def test_opening_marks_read_and_never_redirects_off_site(world: World, client: Client) -> None:
    notify_users(users=[world.user("town_dispatcher")], subject="新上报", body="x", link="/console/")
    row = Notification.objects.get(recipient=world.user("town_dispatcher"), channel="inbox")
    login(client, "town_dispatcher")
    response = client.post(reverse("notify:mark_read"), {"id": row.pk, "next": "https://evil.example/"})
    assert response["Location"] == reverse("notify:inbox")
    row.refresh_from_db()
    assert row.read_at is not None
    # Someone else's message id changes nothing.
    other = notify_users(users=[world.user("citizen")], subject="s", body="b")
    assert other == 1
    theirs = Notification.objects.get(recipient=world.user("citizen"), channel="inbox")
    client.post(reverse("notify:mark_read"), {"id": theirs.pk})
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_inbox_needs_login(client: Client, db: None) -> None:
    assert client.get(reverse("notify:inbox")).status_code == 302
