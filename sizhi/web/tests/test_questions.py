"""The chosen category's further questions on the report form: the fragment the page fetches
when the category changes, answers stored on the case, and errors beside the question."""

from __future__ import annotations

from typing import Any
from unittest import mock

from django.test import Client
from django.urls import reverse

from sizhi.cases import services
from sizhi.cases.models import Case, Category
from sizhi.conftest import World
from sizhi.web.tests.factories import report_data

QUESTIONS = reverse("web:report_questions")
REPORT = reverse("web:report")


def html_of(response: Any) -> str:
    return response.content.decode()


def category(code: str) -> Category:
    return Category.objects.get(code=code)


# --- the fragment ------------------------------------------------------------------------------


def test_fragment_renders_every_kind_of_question(world: World, client: Client) -> None:
    html = html_of(client.get(QUESTIONS, {"category": world.category.pk}))
    assert 'data-testid="questions-fieldset"' in html
    assert "损坏程度" in html and 'type="radio" name="attr-severity" value="severe"' in html
    assert 'type="checkbox" name="attr-affected" value="pedestrian"' in html
    severity = html[html.index('data-testid="question-severity"'):html.index('data-testid="question-affected"')]
    assert "required" in severity
    water = html_of(client.get(QUESTIONS, {"category": category("water-supply").pk}))
    assert 'type="number" step="any" inputmode="decimal" name="attr-households"' in water
    assert 'type="datetime-local" name="attr-outage-since"' in water
    light = html_of(client.get(QUESTIONS, {"category": category("roads-streetlight").pk}))
    assert 'type="text" name="attr-lamp-number"' in light
    fire = html_of(client.get(QUESTIONS, {"category": category("security-fire").pk}))
    assert 'data-testid="question-notice-emergency-notice"' in fire and "119" in fire
    assert 'name="attr-emergency-notice"' not in fire  # a notice asks nothing


def test_fragment_is_empty_without_questions_and_404_for_unknown_categories(world: World, client: Client) -> None:
    assert html_of(client.get(QUESTIONS, {"category": category("roads-bridge").pk})).strip() == ""
    assert html_of(client.get(QUESTIONS)).strip() == ""
    assert client.get(QUESTIONS, {"category": "999999"}).status_code == 404
    assert client.get(QUESTIONS, {"category": "abc"}).status_code == 404
    Category.objects.filter(pk=world.category.pk).update(is_active=False)
    assert client.get(QUESTIONS, {"category": world.category.pk}).status_code == 404


def test_report_page_has_the_questions_box_and_no_questions_before_a_category(world: World, client: Client) -> None:
    html = html_of(client.get(REPORT))
    assert f'data-testid="category-questions" aria-live="polite"\n       data-url="{QUESTIONS}"' in html
    assert 'data-testid="questions-fieldset"' not in html


# --- round trip --------------------------------------------------------------------------------


def test_answers_are_stored_on_the_case(world: World, client: Client) -> None:
    data = report_data(world, **{"attr-severity": "severe", "attr-affected": ["pedestrian", "motor"]})
    response = client.post(REPORT, data)
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.attributes == {"severity": "severe", "affected": ["motor", "pedestrian"]}


def test_number_and_datetime_answers(world: World, client: Client) -> None:
    data = report_data(
        world, category=str(category("water-supply").pk),
        **{"attr-severity": None, "attr-households": "12", "attr-outage-since": "2026-05-01T08:30"},
    )
    assert client.post(REPORT, data).status_code == 302
    assert Case.objects.get().attributes == {"households": 12, "outage-since": "2026-05-01T08:30:00+08:00"}


def test_category_without_questions_passes_none(world: World, client: Client) -> None:
    data = report_data(world, category=str(category("roads-bridge").pk), **{"attr-severity": None})
    with mock.patch.object(services, "report_submit", wraps=services.report_submit) as spy:
        assert client.post(REPORT, data).status_code == 302
    assert spy.call_args.kwargs["attributes"] is None
    data = report_data(world, category="", **{"attr-severity": None})
    with mock.patch.object(services, "report_submit", wraps=services.report_submit) as spy:
        assert client.post(REPORT, data).status_code == 302
    assert spy.call_args.kwargs["attributes"] is None


def test_answers_to_another_categorys_questions_are_not_sent(world: World, client: Client) -> None:
    data = report_data(world, category=str(category("roads-bridge").pk), **{"attr-severity": "severe"})
    assert client.post(REPORT, data).status_code == 302
    assert Case.objects.get().attributes == {}


# --- errors ------------------------------------------------------------------------------------


def test_unanswered_required_question_is_marked_and_nothing_is_created(world: World, client: Client) -> None:
    data = report_data(world, **{"attr-severity": None, "attr-affected": ["motor"]})
    response = client.post(REPORT, data)
    assert response.status_code == 400
    html = html_of(response)
    errors = html.index('data-testid="question-errors-severity"')
    assert html.index('data-testid="question-severity"') < errors < html.index('data-testid="question-affected"')
    assert "请回答这个问题。" in html
    # What was typed comes back: the category, and the answers already given.
    assert 'value="motor" id="id_attr-affected-1" data-testid="attr-affected-motor" checked' in html
    assert not Case.objects.exists()


def test_service_error_is_shown_beside_its_question(world: World, client: Client) -> None:
    response = client.post(REPORT, report_data(world, **{"attr-severity": "bogus"}))
    assert response.status_code == 400
    html = html_of(response)
    section = html[html.index('data-testid="question-severity"'):html.index('data-testid="question-affected"')]
    assert 'data-testid="question-errors-severity"' in section and "选项无效" in section
    assert not Case.objects.exists()

    water = str(category("water-supply").pk)
    response = client.post(REPORT, report_data(world, category=water, **{"attr-households": "很多"}))
    assert response.status_code == 400
    html = html_of(response)
    assert 'data-testid="question-errors-households"' in html and "应填写数字" in html
    assert 'value="很多"' in html
    assert not Case.objects.exists()


def test_other_errors_keep_the_answers(world: World, client: Client) -> None:
    response = client.post(REPORT, report_data(world, description="", **{"attr-severity": "minor"}))
    assert response.status_code == 400
    html = html_of(response)
    assert 'data-testid="description-errors"' in html
    assert 'value="minor" id="id_attr-severity-1" data-testid="attr-severity-minor" checked' in html
