"""One case from the citizen's phone to the citizen's rating, every step through the pages.

A citizen signs in with her phone number, reports through 有事您说话 with a point and a photo
and keeps the receipt; the town dispatcher accepts (受理), registers (立案) and dispatches (派遣)
it to the village committee; the village cadre signs for it (签收) and handles it (处置) with a
photo; the grid worker, a different person, verifies it (核查通过); the dispatcher closes it
(结案); the citizen looks it up with her tracking code, sees 已结案 and rates it 满意. Each
person works in their own browser context; no page may log an error, fail a request or reach
any host but the test server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from sizhi.cases.models import Attachment, AttachmentKind, Case
from sizhi.cases.workflow import CaseAction, CaseStatus, Satisfaction
from sizhi.conftest import World, inside
from sizhi.e2e.conftest import Stage, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DESCRIPTION = "金业路与中州路路口的井盖缺失，晚上路过很危险，请尽快处理。"
ADDRESS = "金业路与中州路交叉口东北角"
COMMENT = "修得很快，谢谢网格员和村里的同志！"


def jpeg(path: Path, colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", (320, 240), colour).save(path, format="JPEG", quality=85)
    return path


def answer_required_questions(page: Page, category_pk: int) -> int:
    """Answer the chosen category's required further questions (补充信息), which the page fetches
    when the category changes: the first option of a choice, a short answer otherwise. Generic on
    purpose, so that editing a category's questions does not break this test."""
    questions = page.locator("#category-questions [data-testid=questions-fieldset]")
    expect(questions).to_have_attribute("data-category", str(category_pk))
    answered = 0
    for question in questions.locator(".question").all():
        if question.locator(".required").count() == 0:
            continue
        choices = question.locator("input[type=radio], input[type=checkbox]")
        if choices.count():
            choices.first.check()
        elif question.locator("input[type=number]").count():
            question.locator("input[type=number]").fill("3")
        elif question.locator("input[type=datetime-local]").count():
            question.locator("input[type=datetime-local]").fill("2026-05-01T08:30")
        else:
            question.locator("input, textarea").first.fill("见照片")
        answered += 1
    return answered


def act(page: Page, action: str, *, to: str, fill: dict[str, str] | None = None,
        select: dict[str, str] | None = None, files: dict[str, Path] | None = None) -> None:
    """Fill one action form of the console detail page, submit it and wait for the new status."""
    panel = "verify" if action.startswith("verify_") else action
    form = page.locator(f"#action-form-{panel}")
    expect(form).to_be_visible()
    for name, value in (select or {}).items():
        page.locator(f"#id_{panel}_{name}").select_option(value)
    for name, value in (fill or {}).items():
        page.locator(f"#id_{panel}_{name}").fill(value)
    for name, path in (files or {}).items():
        page.locator(f"#id_{panel}_{name}").set_input_files(path)
    page.locator(f"#action-submit-{action}").click()
    expect(page.get_by_test_id("case-detail")).to_have_attribute("data-status", to)
    expect(page.get_by_test_id("message-success")).to_be_visible()
    expect(page.get_by_test_id("action-error")).to_have_count(0)


def test_report_to_rating_through_the_browser(world: World, stage: Stage, tmp_path: Path) -> None:
    citizen_user = world.user("citizen")
    assert citizen_user.phone is not None
    lat, lng = inside(world.grid_a1)

    # --- the citizen reports -----------------------------------------------------------------
    citizen = stage.open("citizen", viewport="mobile")
    page = citizen.page
    log_in(page, citizen_user.phone)
    page.goto("/")
    page.get_by_test_id("home-report").click()
    form = page.get_by_test_id("report-form")
    expect(form).to_be_visible()
    page.get_by_test_id("description-input").fill(DESCRIPTION)
    page.get_by_test_id("category-select").select_option(str(world.category.pk))
    answered = answer_required_questions(page, world.category.pk)
    # A tap on the map places the pin and fills the hidden inputs (Leaflet, served locally) ...
    expect(page.locator("#report-map.leaflet-container")).to_be_visible()
    page.get_by_test_id("report-map").click()
    expect(page.get_by_test_id("lat-input")).not_to_have_value("")
    expect(page.get_by_test_id("location-chosen")).to_contain_text("已选位置")
    # ... then the point is moved into grid 金业路社区 A1-1, as a tap there would.
    page.get_by_test_id("lat-input").evaluate("(el, v) => { el.value = v; }", f"{lat:.6f}")
    page.get_by_test_id("lng-input").evaluate("(el, v) => { el.value = v; }", f"{lng:.6f}")
    page.get_by_test_id("address-input").fill(ADDRESS)
    page.get_by_test_id("photos-input").set_input_files(jpeg(tmp_path / "manhole.jpg", (90, 90, 95)))
    expect(page.get_by_test_id("photos-count")).to_have_text("1 / 9")
    expect(page.get_by_test_id("anonymous-checkbox")).not_to_be_checked()
    page.get_by_test_id("report-submit").click()

    expect(page.get_by_test_id("receipt")).to_be_visible()
    number = page.get_by_test_id("receipt-number").inner_text().strip()
    code = page.get_by_test_id("receipt-tracking-code").inner_text().strip()
    assert number and code
    case = Case.objects.get(number=number)
    assert case.tracking_code == code
    assert case.reporter_id == citizen_user.pk and not case.is_anonymous
    assert case.status == CaseStatus.REPORTED
    assert case.grid_id == world.grid_a1.pk and case.category_id == world.category.pk
    assert case.address == ADDRESS
    assert len(case.attributes or {}) >= answered
    assert Attachment.objects.filter(case=case, kind=AttachmentKind.REPORT).count() == 1

    # --- the town dispatcher: 受理 → 立案 → 派遣 -----------------------------------------------
    dispatcher = stage.open("town_dispatcher")
    log_in(dispatcher.page, "town_dispatcher")
    desk = dispatcher.page
    desk.goto(f"/console/cases/{case.pk}/")
    expect(desk.get_by_test_id("case-detail")).to_have_attribute("data-status", CaseStatus.REPORTED)
    expect(desk.get_by_test_id("field-description")).to_contain_text(DESCRIPTION)
    expect(desk.get_by_test_id("report-photo")).to_have_count(1)
    expect(desk.locator("#case-map[data-ready='true']")).to_be_visible()
    act(desk, "accept", to=CaseStatus.ACCEPTED, fill={"reason": "群众反映属实，予以受理。"})
    act(desk, "register", to=CaseStatus.REGISTERED, select={"category": str(world.category.pk)},
        fill={"reason": "道路设施损坏，立案办理。"})
    act(desk, "dispatch", to=CaseStatus.DISPATCHED, select={"unit": str(world.village_a1_committee.pk)},
        fill={"reason": "请村委会两日内补装井盖。"})
    expect(desk.get_by_test_id("field-unit")).to_have_text(world.village_a1_committee.name)

    # --- the village committee: 签收 → 处置 ---------------------------------------------------
    cadre = stage.open("village_cadre")
    log_in(cadre.page, "village_cadre")
    unit = cadre.page
    unit.goto(f"/console/cases/{case.pk}/")
    act(unit, "sign_for", to=CaseStatus.HANDLING)
    act(unit, "handle", to=CaseStatus.VERIFYING, fill={"result": "已补装井盖并设置警示标志。"},
        files={"photos": jpeg(tmp_path / "fixed.jpg", (40, 140, 60))})
    expect(unit.get_by_test_id("handling-photo")).to_have_count(1)

    # --- the grid worker, not the handler: 核查通过 ------------------------------------------
    grid_worker = stage.open("grid_worker")
    log_in(grid_worker.page, "grid_worker")
    checker = grid_worker.page
    checker.goto(f"/console/cases/{case.pk}/")
    act(checker, "verify_pass", to=CaseStatus.VERIFIED, fill={"reason": "现场复核，井盖已补装牢固。"})

    # --- the dispatcher again: 结案 -----------------------------------------------------------
    desk.goto(f"/console/cases/{case.pk}/")
    act(desk, "close", to=CaseStatus.CLOSED, fill={"reason": "处置到位，予以结案。"})
    expect(desk.get_by_test_id("field-closed")).to_be_visible()
    desk.get_by_test_id("logout-submit").click()
    expect(desk.get_by_test_id("nav-login")).to_be_visible()

    # --- the citizen looks it up with her code and rates it ----------------------------------
    page.goto("/")
    page.get_by_test_id("home-track").click()
    page.get_by_test_id("track-code-input").fill(code)
    page.get_by_test_id("track-submit").click()
    status = page.get_by_test_id("case-status")
    expect(status).to_have_attribute("data-status", CaseStatus.CLOSED)
    expect(status).to_have_text("已结案")
    expect(page.get_by_test_id("case-photo")).to_have_count(1)
    expect(page.locator(f"[data-testid=timeline-event][data-action={CaseAction.CLOSE}]")).to_have_count(1)
    page.get_by_test_id(f"rate-{Satisfaction.SATISFIED}").check()
    page.get_by_test_id("rate-comment").fill(COMMENT)
    page.get_by_test_id("rate-submit").click()
    expect(page.get_by_test_id("message-success")).to_have_text("感谢您的评价。")
    rating = page.get_by_test_id("case-satisfaction")
    expect(rating).to_have_attribute("data-satisfaction", Satisfaction.SATISFIED)
    expect(rating).to_contain_text("满意")
    expect(rating).to_contain_text(COMMENT)
    expect(page.get_by_test_id("rate-form")).to_have_count(0)
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", CaseStatus.CLOSED)

    # --- the record ---------------------------------------------------------------------------
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED
    assert case.satisfaction == Satisfaction.SATISFIED and case.rating_comment == COMMENT
    assert case.rated_at is not None and case.closed_at is not None
    assert case.assigned_unit_id == world.village_a1_committee.pk
    assert case.handler_id == world.user("village_cadre").pk
    steps: list[tuple[str, Any]] = list(
        case.events.exclude(action=CaseAction.CALLBACK).order_by("created_at", "pk")
        .values_list("action", "actor__username")
    )
    assert steps == [
        (CaseAction.SUBMIT, "citizen"),
        (CaseAction.ACCEPT, "town_dispatcher"),
        (CaseAction.REGISTER, "town_dispatcher"),
        (CaseAction.DISPATCH, "town_dispatcher"),
        (CaseAction.SIGN_FOR, "village_cadre"),
        (CaseAction.HANDLE, "village_cadre"),
        (CaseAction.VERIFY_PASS, "grid_worker"),
        (CaseAction.CLOSE, "town_dispatcher"),
        (CaseAction.RATE, "citizen"),
    ]
    assert Attachment.objects.filter(case=case, kind=AttachmentKind.HANDLING).count() == 1

    stage.settle()
    assert stage.problems == []
    for actor in stage.actors:
        assert actor.watch.requests, actor.name
