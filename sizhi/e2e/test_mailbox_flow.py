"""书记信箱 end to end in the browser: a villager, not signed in, writes to the party secretary of
his village with a photo and keeps the one-time code; the secretary signs in, finds the letter
in the console's 书记信箱, opens it (photo included), replies and turns it into a case without
the writer's identity; the villager looks the letter up by code and sees the reply and
"已转为办件". No page may log an error, fail a request or reach any host but the test server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from sizhi.cases.models import Case
from sizhi.cases.workflow import Channel
from sizhi.conftest import World
from sizhi.e2e.conftest import Stage, log_in
from sizhi.mailbox.models import Letter, LetterStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

BODY = "书记您好：村口的路灯坏了快两个月，晚上老人出门很不方便，希望能尽快修好。"
REPLY = "来信收到，已安排村委会联系供电所，本周内修复。"


def test_letter_to_the_secretary_through_the_browser(world: World, stage: Stage, tmp_path: Path) -> None:
    photo = tmp_path / "lamp.jpg"
    Image.new("RGB", (320, 240), (30, 60, 90)).save(photo, format="JPEG")

    # The villager writes, anonymously (not signed in), from his phone.
    villager = stage.open("villager", viewport="mobile")
    page = villager.page
    page.goto("/")
    page.get_by_test_id("home-mailbox").click()
    page.get_by_test_id("letter-town").select_option(world.town_a.code)
    page.get_by_test_id("letter-place-submit").click()
    page.get_by_test_id("letter-village").select_option(world.village_a1.code)
    page.get_by_test_id("letter-place-submit").click()
    expect(page.get_by_test_id("letter-addressee")).to_contain_text(world.village_a1.name)
    expect(page.get_by_test_id("letter-anonymous-notice")).to_be_visible()
    page.get_by_test_id("letter-body").fill(BODY)
    page.get_by_test_id("letter-photos").set_input_files(photo)
    page.get_by_test_id("letter-submit").click()
    code_box = page.get_by_test_id("letter-receipt-code")
    expect(code_box).to_be_visible()
    code = code_box.inner_text().strip()
    assert len(code) == 32
    letter = Letter.objects.get()
    assert letter.is_anonymous and letter.writer_id is None and letter.photos.count() == 1

    # The secretary signs in and works the letter from the console.
    secretary = stage.open("secretary")
    spage = secretary.page
    log_in(spage, "party_secretary")
    spage.goto("/console/")
    spage.get_by_test_id("nav-mailbox").click()
    spage.get_by_test_id("letter-link").first.click()
    expect(spage.get_by_test_id("letter-body")).to_contain_text("路灯坏了快两个月")
    image = spage.get_by_test_id("letter-photos").locator("img")
    expect(image).to_be_visible()
    spage.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=image.element_handle())
    assert spage.evaluate("el => el.naturalWidth", image.element_handle()) == 320
    spage.get_by_test_id("letter-reply-body").fill(REPLY)
    spage.get_by_test_id("letter-reply-submit").click()
    expect(spage.get_by_test_id("letter-status")).to_have_attribute("data-status", LetterStatus.REPLIED)
    form = spage.get_by_test_id("letter-convert-form")
    expect(form.locator("input[type=radio]")).to_have_count(1)  # an anonymous letter: no identity at all
    form.locator("input[type=radio]").check()
    spage.get_by_test_id("convert-title").fill("村口路灯损坏")
    spage.get_by_test_id("convert-description").fill("村口路灯损坏近两个月，请安排维修。")
    spage.get_by_test_id("letter-convert-submit").click()
    expect(spage.get_by_test_id("letter-status")).to_have_attribute("data-status", LetterStatus.CONVERTED)
    case = Case.objects.get()
    assert case.channel == Channel.MAILBOX and case.reporter_id is None and case.is_anonymous
    expect(spage.get_by_test_id("letter-case")).to_contain_text(case.number)

    # Back on the phone: the code shows the reply and the case.
    page.goto("/mailbox/track/")
    page.get_by_test_id("letter-track-code").fill(code)
    page.get_by_test_id("letter-track-submit").click()
    expect(page.get_by_test_id("letter-status")).to_have_attribute("data-status", LetterStatus.CONVERTED)
    expect(page.get_by_test_id("letter-reply")).to_contain_text(REPLY)
    expect(page.get_by_test_id("letter-converted")).to_contain_text("已转为办件")
    expect(page.get_by_test_id("letter-case-code")).to_have_text(case.tracking_code)

    stage.settle()
    assert stage.problems == []
