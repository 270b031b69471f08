"""The audit admin's pages in a real browser: the log with its chart, a record, and "verify now",
with no console error, no failed request and no inline script blocked by the CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sizhi.audit.services import audit
from sizhi.conftest import World
from sizhi.e2e.conftest import Stage, _fresh_throttles, browser, log_in, stage  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_audit_admin_reads_the_log_and_verifies_the_chain(world: World, stage: Stage) -> None:  # noqa: F811
    audit("case.test", actor=world.user("town_dispatcher"), target_type="cases.case", target_id="1")
    audit("case.test", actor=world.user("leader"), result="denied")

    page = stage.open("audit_admin", viewport="desktop").page
    log_in(page, "audit_admin")
    page.goto("/console/audit/")
    expect(page.get_by_test_id("audit-row").first).to_be_visible()
    expect(page.locator("#audit-chart canvas")).to_be_attached()
    page.locator('[data-testid="audit-row"][data-result="denied"] a').first.click()
    expect(page.get_by_test_id("record-check")).to_contain_text("内容与哈希一致")

    page.get_by_test_id("nav-audit-verify").click()
    page.get_by_test_id("audit-verify-submit").click()
    expect(page.get_by_test_id("audit-report")).to_have_attribute("data-ok", "true")

    stage.settle()
    assert stage.problems == []
