"""Triage and 并案 on the console detail page: the classifier's suggested category with its
confidence, alternatives and the unit the responsibility matrix names; the register form
preselecting it; similar open cases with score, distance and a merge form; merging by number
(only into a case in scope); supporters and the merged case's link to its primary."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.cases import merging, services
from sizhi.cases import views as case_views
from sizhi.cases.models import Case, CaseEvent, CaseSupporter, Category
from sizhi.cases.workflow import CaseAction, CaseStatus, Channel
from sizhi.conftest import World, inside
from sizhi.insight import services as insight
from sizhi.insight.classifier import Prediction, TrainedClassifier, train
from sizhi.units.models import ResponsibilityRule, UnitKind

A = CaseAction
S = CaseStatus

# A handful of made-up reports per top-level category: enough for a linear model to separate.
TRAINING = {
    "roads": ["路面坑洼破损", "道路塌陷有大坑", "路灯不亮晚上很黑", "桥面裂缝需要维修", "人行道砖块松动"],
    "sanitation": ["垃圾堆放没人清运", "垃圾桶满了发臭", "公厕脏乱无人打扫", "楼道堆满生活垃圾", "死老鼠没人处理"],
    "water": ["小区停水三天", "下水道堵塞污水外溢", "自来水浑浊发黄", "暴雨后路口积水严重", "水管爆裂漏水"],
}
ROAD_REPORT = "金业路路面坑洼破损，道路塌陷有大坑，晚上路过很危险"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    titles, details, labels = [], [], []
    for label, phrases in TRAINING.items():
        for i, phrase in enumerate(phrases):
            for place in ("金业路", "周公庙", "唐宫路"):
                titles.append(f"{place}{phrase}")
                details.append(f"{place}附近{phrase}，{phrases[(i + 1) % len(phrases)]}，请尽快处理。")
                labels.append(label)
    model = train(titles, details, labels, source="csv")
    return model.save(tmp_path_factory.mktemp("classifier") / "tiny.joblib")


@pytest.fixture
def active_model(model_file: Path, settings: Any, tmp_path: Path) -> TrainedClassifier:
    settings.DATA_DIR = tmp_path  # the registered copy goes to this test's own folder
    insight.classifier_register(path=model_file, source="csv")
    model = insight.active_classifier()
    assert model is not None and model.labels == ["roads", "sanitation", "water"]
    return model


def submit(world: World, *, description: str = ROAD_REPORT, grid=None, reporter: str | None = None,
           **kwargs: Any) -> Case:
    lat, lng = inside(grid or world.grid_a1)
    return services.report_submit(
        reporter=world.user(reporter) if reporter else None, description=description, lat=lat, lng=lng, **kwargs
    )


def accepted(world: World, case: Case) -> Case:
    services.case_accept(case=case, actor=world.user("town_dispatcher"))
    return case


def registered(world: World, case: Case) -> Case:
    accepted(world, case)
    services.case_register(case=case, actor=world.user("town_dispatcher"), category=world.category)
    return case


def page(client: Client, world: World, case: Case, who: str = "town_dispatcher") -> str:
    client.force_login(world.user(who))
    response = client.get(reverse("cases:detail", args=[case.pk]))
    assert response.status_code == 200
    return response.content.decode()


def act(client: Client, world: World, case: Case, action: str, data: dict[str, Any], who: str = "town_dispatcher"):
    client.force_login(world.user(who))
    return client.post(reverse("cases:act", args=[case.pk, action]), data)


def selected_category(html: str) -> str | None:
    select = re.search(r'<select name="category"[^>]*id="id_register_category".*?</select>', html, re.S)
    assert select is not None, "register form missing"
    found = re.search(r'<option value="(\d+)"[^>]*selected', select.group(0))
    return found.group(1) if found else None


def roads() -> Category:
    return Category.objects.get(code="roads")


# --- triage ------------------------------------------------------------------------------------


def test_suggestion_with_confidence_alternatives_and_matrix_unit(
    world: World, client: Client, active_model: TrainedClassifier
) -> None:
    ResponsibilityRule.objects.create(
        category=roads(), level="village", lead_unit_kind=UnitKind.VILLAGE_COMMITTEE,
    )
    case = submit(world)
    html = page(client, world, case)

    assert 'data-testid="triage"' in html and 'data-label="roads"' in html
    assert re.search(r'data-testid="triage-category">道路桥梁<', html)
    confidence = re.search(r'data-testid="triage-confidence"[^>]*>置信度 (\d+)%<', html)
    assert confidence is not None and 34 <= int(confidence.group(1)) <= 100
    alternatives = re.findall(r'data-testid="triage-alternative" data-label="([a-z-]+)">([^<]+)<', html)
    assert {label for label, _ in alternatives} == {"sanitation", "water"}
    assert {"环境卫生", "供水排水"} <= {text.split(" ")[0] for _, text in alternatives}
    unit = re.search(r'data-testid="triage-unit">(.*?)</p>', html, re.S)
    assert unit is not None and world.village_a1_committee.name in unit.group(1)


def test_without_a_matching_rule_the_panel_says_so(world: World, client: Client, active_model) -> None:
    html = page(client, world, submit(world))
    assert "权责清单中没有适用于此处的承办单位" in html


def test_register_form_preselects_the_suggested_top_level_category(
    world: World, client: Client, active_model
) -> None:
    case = accepted(world, submit(world))
    html = page(client, world, case)
    assert selected_category(html) == str(roads().pk)
    assert "道路桥梁（大类，未细分）" in html

    # The dispatcher confirms the suggestion as it stands.
    response = act(client, world, case, A.REGISTER, {"category": str(roads().pk)})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.REGISTERED and case.category == roads()


def test_the_reporters_category_within_the_suggestion_is_kept(world: World, client: Client, active_model) -> None:
    case = accepted(world, submit(world, category=world.category, attributes=None))
    html = page(client, world, case)
    assert selected_category(html) == str(world.category.pk)
    assert 'data-testid="triage-differs"' not in html


def test_a_different_reporter_category_is_pointed_out_and_the_suggestion_preselected(
    world: World, client: Client, active_model
) -> None:
    other = Category.objects.get(code="water-supply")
    case = accepted(world, submit(world, category=other))
    html = page(client, world, case)
    assert selected_category(html) == str(roads().pk)
    assert 'data-testid="triage-differs"' in html and other.name in html


def test_dispatcher_can_correct_the_suggestion(world: World, client: Client, active_model) -> None:
    case = accepted(world, submit(world))
    other = Category.objects.get(code="sanitation-garbage")
    assert act(client, world, case, A.REGISTER, {"category": str(other.pk)}).status_code == 302
    case.refresh_from_db()
    assert case.category == other


@pytest.mark.parametrize("status", [S.REPORTED, S.ACCEPTED, S.REGISTERED])
def test_suggestion_shown_in_the_three_statuses_before_dispatch(
    world: World, client: Client, active_model, status: str
) -> None:
    case = submit(world)
    if status != S.REPORTED:
        accepted(world, case)
    if status == S.REGISTERED:
        services.case_register(case=case, actor=world.user("town_dispatcher"), category=world.category)
    assert case.status == status
    assert 'data-testid="triage"' in page(client, world, case)


def test_no_suggestion_and_no_classifier_call_after_dispatch(
    world: World, client: Client, active_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = registered(world, submit(world))
    services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)

    def must_not_run(**kwargs: object) -> None:
        raise AssertionError("the classifier ran for a dispatched case")

    monkeypatch.setattr(case_views, "suggest_category", must_not_run)
    html = page(client, world, case)
    assert 'data-testid="triage"' not in html and "智能分类建议" not in html


def test_nothing_at_all_without_an_active_model(world: World, client: Client) -> None:
    case = accepted(world, submit(world))
    html = page(client, world, case)
    assert 'data-testid="triage"' not in html
    assert "智能分类建议" not in html and "置信度" not in html
    assert "大类，未细分" not in html
    assert selected_category(html) is None


def test_suggestion_is_computed_on_every_request(
    world: World, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def fake(*, title: str, detail: str) -> Prediction:
        calls.append(title)
        return Prediction("water", 0.61, [("water", 0.61), ("roads", 0.3), ("unknown-label", 0.09)])

    monkeypatch.setattr(case_views, "suggest_category", fake)
    case = submit(world)
    html = page(client, world, case)
    page(client, world, case)
    assert len(calls) == 2
    assert re.search(r'data-testid="triage-category">供水排水<', html)
    # A label that names no category is shown as it is, never as a link or a unit.
    assert 'data-label="unknown-label">unknown-label 9%<' in html


# --- similar cases and merging -----------------------------------------------------------------


def test_similar_open_cases_with_score_distance_and_merge_forms(world: World, client: Client) -> None:
    primary = registered(world, submit(world, reporter="citizen"))
    copy = submit(world, reporter="citizen2")
    submit(world, description="邻居装修噪声扰民，每天晚上十点以后还在施工")  # unrelated wording
    html = page(client, world, copy)

    items = re.findall(r'data-testid="similar-case" data-number="([^"]+)"', html)
    assert items == [primary.number]
    assert re.search(r'data-testid="similar-score">匹配度 \d+%<', html)
    assert 'data-testid="similar-distance">相距约 0 米<' in html
    assert f'data-testid="merge-form-{primary.number}"' in html
    assert 'data-testid="action-form-merge"' in html


def test_similar_panel_stays_within_the_users_scope(world: World, client: Client) -> None:
    copy = submit(world)
    elsewhere = submit(world, grid=world.grid_b1)
    Case.objects.filter(pk=elsewhere.pk).update(lat=copy.lat, lng=copy.lng)  # same spot, other town's case
    html = page(client, world, copy)
    assert elsewhere.number not in html
    assert 'data-testid="similar-none"' in html


def test_no_merge_form_for_those_who_may_not_merge(world: World, client: Client) -> None:
    primary = registered(world, submit(world))
    copy = registered(world, submit(world))
    services.case_dispatch(case=copy, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
    html = page(client, world, copy, who="village_cadre")
    assert primary.number in html  # the suggestion is shown ...
    assert "merge-form-" not in html and 'data-testid="action-form-merge"' not in html  # ... but no merging


def test_merge_through_the_console(world: World, client: Client) -> None:
    primary = registered(world, submit(world, reporter="citizen"))
    copy = submit(world, reporter="citizen2")

    response = act(client, world, copy, A.MERGE, {"into": primary.number, "reason": ""})
    assert response.status_code == 302 and response["Location"] == reverse("cases:detail", args=[copy.pk])

    copy.refresh_from_db()
    assert copy.status == S.MERGED and copy.duplicate_of == primary
    assert merging.supporters(primary) == 1
    html = page(client, world, copy)
    assert 'data-testid="case-status">已并案<' in html
    link = reverse("cases:detail", args=[primary.pk])
    assert f'href="{link}" data-testid="merged-into-link">{primary.number}<' in html
    assert f"并入案件 {primary.number}" in html  # the MERGE event on the timeline
    assert 'data-testid="similar-cases"' not in html  # a merged case is no longer open

    html = page(client, world, primary)
    assert 'data-testid="field-supporters">1<' in html
    merged_here = re.search(r'data-testid="field-merged-here">(.*?)</dd>', html)
    assert merged_here is not None and copy.number in merged_here.group(1)
    assert f"案件 {copy.number} 并入本案" in html and "附议人数：1" in html


def test_me_too_events_on_the_timeline_name_no_one(world: World, client: Client) -> None:
    case = submit(world, reporter="citizen")
    merging.case_support(case=case, user=world.user("citizen2"))
    html = page(client, world, case)
    assert 'data-testid="field-supporters">1<' in html
    event = re.search(r'data-action="support".*?</li>', html, re.S)
    assert event is not None
    assert "附议人数：1" in event.group(0) and "群众" in event.group(0)
    assert "李四" not in html and "13800000002" not in html


@pytest.mark.parametrize("target", ["elsewhere", "missing", "blank"])
def test_merge_into_a_case_out_of_scope_or_unknown_is_a_field_error(
    world: World, client: Client, target: str
) -> None:
    copy = submit(world, reporter="citizen2")
    elsewhere = registered_b = submit(world, grid=world.grid_b1)
    services.case_accept(case=registered_b, actor=world.user("town_dispatcher_b"))
    number = {"elsewhere": elsewhere.number, "missing": "NO-SUCH-CASE", "blank": ""}[target]
    events = CaseEvent.objects.count()

    response = act(client, world, copy, A.MERGE, {"into": number})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="merge-error-into"' in html
    assert 'data-error-code="form_invalid"' in html
    copy.refresh_from_db()
    assert copy.status == S.REPORTED and copy.duplicate_of_id is None
    assert CaseEvent.objects.count() == events and not CaseSupporter.objects.exists()


def test_merge_into_a_mailbox_letter_is_refused_on_the_field(world: World, client: Client) -> None:
    copy = submit(world)
    letter = submit(world, channel=Channel.MAILBOX)
    response = act(client, world, copy, A.MERGE, {"into": letter.number})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-error-code="merge_target_not_found"' in html and 'data-testid="merge-error-into"' in html
    assert Case.objects.get(pk=copy.pk).status == S.REPORTED


def test_merge_into_itself_and_into_a_closed_case_are_refused(world: World, client: Client) -> None:
    copy = submit(world)
    response = act(client, world, copy, A.MERGE, {"into": copy.number})
    assert response.status_code == 400 and 'data-error-code="merge_into_self"' in response.content.decode()
    rejected = submit(world)
    services.case_reject(case=rejected, actor=world.user("town_dispatcher"), kind="invalid", reason="无效")
    response = act(client, world, copy, A.MERGE, {"into": rejected.number})
    assert response.status_code == 400 and 'data-error-code="merge_target_closed"' in response.content.decode()
    assert Case.objects.get(pk=copy.pk).status == S.REPORTED


def test_merge_by_someone_not_entitled_or_from_a_later_status_is_refused(world: World, client: Client) -> None:
    primary = registered(world, submit(world))
    copy = submit(world)
    response = act(client, world, copy, A.MERGE, {"into": primary.number}, who="village_cadre")
    assert response.status_code == 403
    dispatched = registered(world, submit(world))
    services.case_dispatch(case=dispatched, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
    response = act(client, world, dispatched, A.MERGE, {"into": primary.number})
    assert response.status_code == 409
    assert Case.objects.get(pk=copy.pk).status == S.REPORTED
    assert Case.objects.get(pk=dispatched.pk).status == S.DISPATCHED
    assert merging.supporters(primary) == 0


def test_the_panel_names_the_active_model_and_its_measured_accuracy(
    world: World, client: Client, active_model
) -> None:
    from sizhi.insight.models import ClassifierModel

    ClassifierModel.objects.filter(is_active=True).update(accuracy=0.9353, macro_f1=0.9337)
    html = page(client, world, submit(world))
    model = ClassifierModel.objects.get(is_active=True)
    assert f"模型 v{model.version}" in html
    assert "实测准确率 0.935，宏平均 F1 0.934" in html
