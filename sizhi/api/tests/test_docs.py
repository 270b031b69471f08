"""The OpenAPI document and the browsable docs page, which must load nothing from the internet."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from sizhi.api.tests.conftest import openapi

pytestmark = pytest.mark.django_db


def test_openapi_document_is_served() -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert doc == openapi()
    operations = {op["operationId"] for methods in doc["paths"].values() for op in methods.values()}
    assert {
        "report_submit", "my_cases", "case_list", "case_get", "case_photo", "case_accept", "case_reject",
        "case_register", "case_dispatch", "case_sign_for", "case_return", "case_handle", "case_verify",
        "case_close", "case_rate", "case_reopen", "category_list", "region_roots", "region_get",
        "region_children", "region_grids", "grid_locate", "unit_list",
        "case_escalate", "case_delegate", "assignment_finish", "assignment_waive", "extension_request",
        "extension_decide", "case_suspend", "case_resume", "case_merge", "case_support", "case_note",
        "supervision_list", "supervision_issue", "supervision_respond", "callback_record", "track_rate", "track_reopen",
    } <= operations
    assert set(doc["components"]["securitySchemes"]) == {"BearerToken", "SessionCookie"}


def test_rate_limited_operations_document_429() -> None:
    limited = {"case_support", "track_rate", "track_reopen"}
    for methods in openapi()["paths"].values():
        for op in methods.values():
            if op["operationId"] in limited:
                schema = op["responses"]["429"]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}
                limited.discard(op["operationId"])
    assert not limited


def test_every_operation_documents_the_error_format() -> None:
    for path, methods in openapi()["paths"].items():
        for method, op in methods.items():
            for status in ("400", "401", "404"):
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, status)


def test_docs_page_loads_nothing_from_outside() -> None:
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"(?:src|href)=[\"']?(?:https?:)?//", html), "external resource in the docs page"
    assert "cdn" not in html.lower()
    assert "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/static/api/swagger-init.js" in html
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert '"validatorUrl": null' in html


def test_docs_page_assets_are_installed_locally() -> None:
    # node_modules is mounted as /static/vendor/ (config.settings.STATICFILES_DIRS).
    bundle = Path(settings.NODE_MODULES_DIR) / "swagger-ui-dist" / "swagger-ui-bundle.js"
    assert bundle.is_file()
    assert finders.find("vendor/swagger-ui-dist/swagger-ui.css")
    assert finders.find("api/swagger-init.js")
