"""report_submit(attributes=…): answers to the category's further questions are checked against
CategoryAttribute (required, datatype, allowed keys) and stored normalised on the case; a wrong
answer is refused with attribute_invalid naming the question, and nothing is created."""

from __future__ import annotations

import pytest

from sizhi.cases import selectors, services
from sizhi.cases.errors import ReportInvalid
from sizhi.cases.models import AttributeDatatype, Case, Category, CategoryAttribute
from sizhi.conftest import World, inside

DESCRIPTION = "金业路与中州路路口路面塌陷，车辆绕行"


def submit(world: World, category_code: str, attributes: dict | None) -> Case:
    lat, lng = inside(world.grid_a1)
    return services.report_submit(
        reporter=world.user("citizen"), description=DESCRIPTION, lat=lat, lng=lng,
        category=Category.objects.get(code=category_code), attributes=attributes,
    )


def refused(world: World, category_code: str, attributes: dict | None) -> ReportInvalid:
    before = Case.objects.count()
    with pytest.raises(ReportInvalid) as exc:
        submit(world, category_code, attributes)
    assert Case.objects.count() == before
    assert exc.value.code == "attribute_invalid"
    assert exc.value.field == "attributes"
    return exc.value


# --- stored answers ----------------------------------------------------------------------------


def test_answers_are_stored_by_code_with_list_keys_in_option_order(world: World) -> None:
    case = submit(world, "roads-damage", {"severity": "severe", "affected": ["pedestrian", "motor", "motor"]})

    case.refresh_from_db()
    assert case.attributes == {"severity": "severe", "affected": ["motor", "pedestrian"]}


def test_number_and_datetime_are_normalised(world: World) -> None:
    case = submit(world, "water-supply", {"households": "35", "outage-since": "2026-05-01T08:30:00Z"})

    case.refresh_from_db()
    assert case.attributes == {"households": 35, "outage-since": "2026-05-01T16:30:00+08:00"}


def test_a_datetime_without_offset_is_local_time(world: World) -> None:
    case = submit(world, "water-supply", {"outage-since": "2026-05-01T08:30"})

    assert case.attributes == {"outage-since": "2026-05-01T08:30:00+08:00"}


def test_decimal_number_stays_a_float(world: World) -> None:
    case = submit(world, "water-supply", {"households": 2.5})

    assert case.attributes == {"households": 2.5}


def test_unanswered_optional_questions_store_nothing(world: World) -> None:
    case = submit(world, "water-supply", {"households": "", "outage-since": None})

    assert case.attributes == {}


def test_answers_to_a_notice_are_dropped(world: World) -> None:
    # security-fire has only a notice (variable=False): there is nothing to answer
    case = submit(world, "security-fire", {"emergency-notice": "我看到了"})

    assert case.attributes == {}


def test_callers_that_ask_no_questions_are_not_held_to_required_ones(world: World) -> None:
    # given a hotline entry or an older form that knows nothing of further questions
    case = submit(world, "roads-damage", None)

    assert case.attributes == {}


# --- refused answers ---------------------------------------------------------------------------


def test_missing_required_answer_is_refused_naming_the_question(world: World) -> None:
    error = refused(world, "roads-damage", {})

    assert "损坏程度" in str(error.message)


def test_required_multivaluelist_with_no_choice_is_refused(world: World) -> None:
    error = refused(world, "environment-noise", {"noise-period": []})

    assert "噪声出现的时段" in str(error.message)


@pytest.mark.parametrize(
    ("category_code", "answers", "named"),
    [
        ("roads-damage", {"severity": "catastrophic"}, "损坏程度"),
        ("roads-damage", {"severity": ["minor", "severe"]}, "损坏程度"),
        ("roads-damage", {"severity": "minor", "affected": "motor"}, "影响到哪些通行"),
        ("roads-damage", {"severity": "minor", "affected": ["motor", "tank"]}, "影响到哪些通行"),
        ("water-supply", {"households": "三十户"}, "停水户数"),
        ("water-supply", {"households": "nan"}, "停水户数"),
        ("water-supply", {"households": True}, "停水户数"),
        ("water-supply", {"outage-since": "昨天早上"}, "从什么时候开始停水"),
        ("water-supply", {"outage-since": "2026-02-30T08:00:00+08:00"}, "从什么时候开始停水"),
        ("roads-streetlight", {"lamp-fault": "off", "lamp-number": "A-01\nA-02"}, "灯杆编号"),
        ("roads-streetlight", {"lamp-fault": "off", "lamp-number": "x" * 201}, "灯杆编号"),
        ("roads-streetlight", {"lamp-fault": "off", "lamp-number": 12}, "灯杆编号"),
    ],
)
def test_wrong_answers_are_refused_naming_the_question(
    world: World, category_code: str, answers: dict, named: str
) -> None:
    error = refused(world, category_code, answers)

    assert named in str(error.message)


def test_unknown_attribute_code_is_refused(world: World) -> None:
    error = refused(world, "roads-damage", {"severity": "minor", "colour": "red"})

    assert "colour" in str(error.message)


def test_answers_without_a_category_are_refused(world: World) -> None:
    lat, lng = inside(world.grid_a1)
    with pytest.raises(ReportInvalid) as exc:
        services.report_submit(
            reporter=None, description=DESCRIPTION, lat=lat, lng=lng, attributes={"severity": "minor"}
        )
    assert exc.value.code == "attribute_invalid"
    assert Case.objects.count() == 0


# --- the questions themselves ------------------------------------------------------------------


def test_category_attributes_lists_questions_in_order(world: World) -> None:
    questions = list(selectors.category_attributes(Category.objects.get(code="roads-damage")))

    assert [(q.order, q.code, q.datatype) for q in questions] == [
        (1, "severity", AttributeDatatype.SINGLEVALUELIST),
        (2, "affected", AttributeDatatype.MULTIVALUELIST),
    ]
    assert selectors.category_attributes(None).count() == 0


def test_seeded_questions_are_well_formed(db: None) -> None:
    for question in CategoryAttribute.objects.all():
        question.full_clean()


def test_list_question_without_options_is_invalid(db: None) -> None:
    from django.core.exceptions import ValidationError

    question = CategoryAttribute(
        category=Category.objects.get(code="roads-bridge"), code="kind", datatype=AttributeDatatype.SINGLEVALUELIST,
        order=1, description="桥梁类型", values=[],
    )
    with pytest.raises(ValidationError):
        question.full_clean()
