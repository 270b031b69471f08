"""The browsable API page at /api/v1/docs: Swagger UI, from our own static files, renders the
operations of the live document with no error box, no console error and nothing loaded from
another host.

Swagger UI parses the document with js-yaml, which refuses a key that appears twice in one
object ("duplicated mapping key") and then shows no operation at all, while Python's JSON reader
silently keeps the last one; hence the first test, which needs no browser."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import expect

from sizhi.e2e.conftest import Stage


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    assert not duplicated, f"key(s) {duplicated} appear twice in one object of the OpenAPI document"
    return dict(pairs)


@pytest.mark.django_db
def test_openapi_document_has_no_duplicated_key() -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = json.loads(response.content, object_pairs_hook=_refuse_duplicates)
    photo = doc["paths"]["/api/v1/cases/{case_id}/photos/{photo_id}"]["get"]["responses"]["200"]
    # The JPEG the photo endpoint documents in openapi_extra is merged into ninja's 200, not beside it.
    assert "image/jpeg" in photo["content"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_swagger_ui_lists_the_operations_without_errors(stage: Stage) -> None:
    page = stage.open("developer").page
    response = page.goto("/api/v1/docs")
    assert response is not None and response.ok
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Sizhi API")
    report_submit = page.locator(".opblock-post").filter(
        has=page.locator(".opblock-summary-path", has_text="/api/v1/reports")
    )
    expect(report_submit.first).to_be_visible()
    expect(report_submit.first.locator(".opblock-summary-method")).to_have_text("POST")
    expect(page.locator(".opblock-get").filter(has_text="/api/v1/cases/{case_id}")).not_to_have_count(0)
    stage.settle()
    # Swagger UI reports a document it cannot read in an error box rather than by throwing.
    expect(page.locator(".swagger-ui .errors-wrapper")).to_have_count(0)
    expect(page.get_by_text("YAMLException")).to_have_count(0)
    assert stage.problems == []

