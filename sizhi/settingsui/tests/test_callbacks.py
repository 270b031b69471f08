"""The call-back queue (回访): pending call-backs of cases in the dispatcher's scope, recorded
through cases.followup.callback_record; another town's call-backs are never seen or touched."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sizhi.cases.models import CallBack, CallBackStatus, Case
from sizhi.cases.workflow import CaseAction, Channel, Satisfaction
from sizhi.conftest import World
from sizhi.settingsui.tests.conftest import Things, closed_case_in_town_b, login


def test_a_town_dispatcher_sees_only_their_towns_callbacks(world: World, things: Things, client: Client) -> None:
    login(client, world, "town_dispatcher")
    html = client.get(reverse("settingsui:callbacks")).content.decode()
    assert things.callback_a.case.number in html
    assert things.callback_b.case.number not in html
    assert "张*" in html and "138****0001" in html and "13800000001" not in html  # masked reporter

    login(client, world, "town_dispatcher_b")
    html = client.get(reverse("settingsui:callbacks")).content.decode()
    assert things.callback_b.case.number in html and things.callback_a.case.number not in html

    login(client, world, "city_dispatcher")
    html = client.get(reverse("settingsui:callbacks")).content.decode()
    assert things.callback_a.case.number in html and things.callback_b.case.number in html


def test_another_towns_callback_is_not_found_and_not_recorded(world: World, things: Things, client: Client) -> None:
    login(client, world, "town_dispatcher")
    url = reverse("settingsui:callback_record", args=[things.callback_b.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"reached": "yes", "satisfaction": "satisfied"}).status_code == 404
    assert CallBack.objects.get(pk=things.callback_b.pk).status == CallBackStatus.PENDING
    assert client.get(reverse("settingsui:callback_record", args=[999999])).status_code == 404


def test_a_dispatcher_records_a_callback(world: World, things: Things, client: Client) -> None:
    login(client, world, "town_dispatcher")
    url = reverse("settingsui:callback_record", args=[things.callback_a.pk])
    page = client.get(url)
    assert page.status_code == 200 and things.callback_a.case.number in page.content.decode()
    response = client.post(url, {"reached": "yes", "satisfaction": Satisfaction.BASICALLY, "note": "路面已修好\x00"})
    assert response.status_code == 302 and response["Location"] == reverse("settingsui:callbacks")
    callback = CallBack.objects.get(pk=things.callback_a.pk)
    assert (callback.status, callback.reached, callback.satisfaction, callback.note, callback.done_by) == (
        CallBackStatus.DONE, True, Satisfaction.BASICALLY, "路面已修好", world.user("town_dispatcher")
    )
    assert callback.case.events.filter(action=CaseAction.CALLBACK).count() == 1
    html = client.get(reverse("settingsui:callbacks")).content.decode()
    assert f'data-case="{things.callback_a.case.number}"' not in html and "回访已登记" in html
    # A second attempt finds it done.
    again = client.post(url, {"reached": "no"})
    assert again.status_code == 302
    assert callback.case.events.filter(action=CaseAction.CALLBACK).count() == 1


def test_unreached_reporters_need_no_satisfaction(world: World, things: Things, client: Client) -> None:
    login(client, world, "city_dispatcher")
    url = reverse("settingsui:callback_record", args=[things.callback_b.pk])
    assert client.post(url, {"reached": "no", "satisfaction": "satisfied"}).status_code == 302
    callback = CallBack.objects.get(pk=things.callback_b.pk)
    assert (callback.reached, callback.satisfaction) == (False, "")


def test_the_form_explains_what_is_missing(world: World, things: Things, client: Client) -> None:
    login(client, world, "town_dispatcher")
    url = reverse("settingsui:callback_record", args=[things.callback_a.pk])
    for data in ({}, {"reached": "yes"}, {"reached": "maybe"}, {"reached": "yes", "satisfaction": "thrilled"},
                 {"reached": "no", "note": "长" * 2001}):
        response = client.post(url, data)
        assert response.status_code == 400, data
        assert 'class="field-error"' in response.content.decode(), data
    assert CallBack.objects.get(pk=things.callback_a.pk).status == CallBackStatus.PENDING


def test_the_queue_reads_a_fixed_number_of_queries(world: World, things: Things, client: Client) -> None:
    login(client, world, "city_dispatcher")
    client.get(reverse("settingsui:callbacks"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("settingsui:callbacks"))
    for _ in range(3):
        CallBack.objects.create(case=closed_case_in_town_b(world))
    with CaptureQueriesContext(connection) as more:
        html = client.get(reverse("settingsui:callbacks")).content.decode()
    assert html.count('data-testid="callback-row"') == 5
    assert len(more) == len(few)


def test_secretary_mailbox_letters_never_enter_the_queue(world: World, things: Things, client: Client) -> None:
    Case.objects.filter(pk=things.callback_a.case_id).update(channel=Channel.MAILBOX)
    login(client, world, "town_dispatcher")
    html = client.get(reverse("settingsui:callbacks")).content.decode()
    assert things.callback_a.case.number not in html
    assert client.get(reverse("settingsui:callback_record", args=[things.callback_a.pk])).status_code == 404
