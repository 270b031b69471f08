"""Test helpers for the JSON API.

`api` is a client that checks every answer against the OpenAPI document the API publishes: the
status must be documented for that operation, and a JSON body must match its schema. A test
therefore cannot pass on an answer the document does not describe.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from django.core.cache import cache as django_cache
from django.test import Client
from django.urls import reverse
from jsonschema import Draft202012Validator

from sizhi.accounts.models import User
from sizhi.api.services import api_token_create
from sizhi.cases import services
from sizhi.cases.models import Case
from sizhi.cases.workflow import CaseStatus
from sizhi.conftest import World, inside

S = CaseStatus


@cache
def openapi() -> dict[str, Any]:
    from sizhi.api.api import api

    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    # Round-trip through JSON: exactly what a client downloads, and plain dicts for jsonschema.
    return json.loads(json.dumps(schema))


@cache
def _operations() -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    result = []
    for template, methods in openapi()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$")
        for method, operation in methods.items():
            result.append((pattern, method.upper(), operation))
    # Literal paths first, so that /grids/locate is never taken for a templated path.
    result.sort(key=lambda item: item[0].pattern.count("[^/]+"))
    return result


def find_operation(method: str, path: str) -> dict[str, Any] | None:
    for pattern, op_method, operation in _operations():
        if op_method == method and pattern.match(path):
            return operation
    return None


def error_schema() -> dict[str, Any]:
    return {"$ref": "#/components/schemas/ErrorOut"}


def validate_json(schema: dict[str, Any], body: Any) -> None:
    root = {**schema, "components": openapi()["components"]}
    Draft202012Validator(root).validate(body)


def check_against_openapi(method: str, path: str, response: Any) -> None:
    status = response.status_code
    content_type = response.get("Content-Type", "")
    operation = find_operation(method, path)
    if operation is None:
        # Not an operation (unknown path, wrong method): still the API's error format.
        assert status in {404, 405}, f"{method} {path} answered {status} but is no documented operation"
        validate_json(error_schema(), json.loads(response.content))
        return
    documented = operation["responses"].get(str(status))
    assert documented is not None, f"{method} {path} answered {status}, not documented ({list(operation['responses'])})"
    content = documented.get("content", {})
    if content_type.startswith("application/json"):
        assert "application/json" in content, f"{method} {path} {status}: JSON not documented"
        validate_json(content["application/json"]["schema"], json.loads(response.content))
    else:
        media = content_type.split(";")[0].strip()
        assert media in content, f"{method} {path} {status}: {media} not documented"


@dataclass
class ApiClient:
    """Django's test client plus a bearer token (or a session), every answer checked."""

    client: Client
    token: str | None = None

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        result = dict(headers or {})
        if self.token is not None:
            result.setdefault("Authorization", f"Bearer {self.token}")
        return result

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = self._headers(kwargs.pop("headers", None))
        path = path.removeprefix("http://testserver")
        full = path if path.startswith("/api/v1/") else "/api/v1" + path
        call = getattr(self.client, method.lower())
        response = call(full, headers=headers, **kwargs)
        check_against_openapi(method.upper(), full.split("?")[0], response)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: Any = None, *, form: bool = False, **kwargs: Any) -> Any:
        """JSON unless `form` (multipart/form-data, as Django's client sends dicts by default)."""
        if not form and "content_type" not in kwargs:
            kwargs["content_type"] = "application/json"
        return self.request("POST", path, data=data if data is not None else ({} if form else None), **kwargs)

    def post_raw(self, path: str, body: bytes | str, content_type: str = "application/json", **kwargs: Any) -> Any:
        return self.request("POST", path, data=body, content_type=content_type, **kwargs)


def token_for(user: User) -> str:
    _token, secret = api_token_create(user=user, name="tests")
    return secret


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    django_cache.clear()
    yield
    django_cache.clear()


@pytest.fixture
def as_user(world: World) -> Any:
    """as_user("town_dispatcher") → an ApiClient holding that user's token; as_user(None) → anonymous."""

    def make(name: str | None) -> ApiClient:
        if name is None:
            return ApiClient(Client())
        return ApiClient(Client(), token=token_for(world.user(name)))

    return make


# --- cases in a given state ---------------------------------------------------------------------


def reported(world: World, *, reporter: str | None = "citizen", grid: Any = None, anonymous: bool = False) -> Case:
    lat, lng = inside(grid or world.grid_a1)
    return services.report_submit(
        reporter=world.user(reporter) if reporter else None, description="金业路路口井盖缺失，夜间很危险",
        lat=lat, lng=lng, is_anonymous=anonymous,
    )


def _step(world: World, case: Case) -> None:
    u = world.user
    if case.status == S.REPORTED:
        services.case_accept(case=case, actor=u("town_dispatcher"))
    elif case.status == S.ACCEPTED:
        services.case_register(case=case, actor=u("town_dispatcher"), category=world.category)
    elif case.status == S.REGISTERED:
        services.case_dispatch(case=case, actor=u("town_dispatcher"), unit=world.village_a1_committee)
    elif case.status == S.DISPATCHED:
        services.case_sign_for(case=case, actor=u("village_cadre"))
    elif case.status == S.HANDLING:
        services.case_handle(case=case, actor=u("village_cadre"), result="已补装井盖")
    elif case.status == S.VERIFYING:
        services.case_verify(case=case, actor=u("grid_worker"), passed=True)
    elif case.status == S.VERIFIED:
        services.case_close(case=case, actor=u("town_dispatcher"))
    else:
        raise AssertionError(f"no ordinary step from {case.status}")


def case_in(world: World, status: str, **kwargs: Any) -> Case:
    case = reported(world, **kwargs)
    while case.status != status:
        _step(world, case)
    return case


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"api_v1:{name}", kwargs=kwargs)


def dispatched_with_assist(world: World) -> Case:
    """Dispatched by the district to the community committee (lead) with the district's city
    management bureau assisting (department_handler is its member)."""
    case = case_in(world, S.REGISTERED)
    services.case_dispatch(
        case=case, actor=world.user("district_dispatcher"), unit=world.village_a1_committee,
        assist_units=[world.district_a_dept],
    )
    return case


def handling(world: World) -> Case:
    return case_in(world, S.HANDLING)


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])
