"""Helpers for the Open311 tests: the contract files in shared/data/open311 (JSON schemas, San
Francisco's real XML responses, the spec's own examples), a client with a key, and cases in
every state the API has to show."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest
from django.conf import settings
from django.test import Client
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from sizhi.cases import services as case_services
from sizhi.cases.models import Case, CaseEvent, Category
from sizhi.cases.workflow import Channel, RejectionKind
from sizhi.conftest import World, inside
from sizhi.open311.models import Open311Client, Open311Request
from sizhi.open311.services import client_create

OPEN311_DATA = Path(settings.PROJECT_DIR).parent / "shared" / "data" / "open311"
SCHEMA_FILES = ("request.json", "requests.json", "service.json", "services.json", "service-definition.json")
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
BASE = "/open311/v2"
DESCRIPTION = "金业路与中州路路口路面塌陷，车辆绕行"


class Response(Protocol):
    """What the helpers read of a test-client response (django-stubs types those apart)."""

    status_code: int
    content: bytes

    def __getitem__(self, header: str) -> str: ...


# --- the contract files ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def open311_data() -> Path:
    if not OPEN311_DATA.is_dir():
        pytest.skip(f"Open311 contract files not found at {OPEN311_DATA}")
    return OPEN311_DATA


RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _format_checker() -> FormatChecker:
    """date-time and uri checked for real: jsonschema skips both unless optional packages are
    installed, and "date-time" is exactly what the spec is strict about (offset required)."""
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        return bool(RFC3339.fullmatch(value)) and datetime.fromisoformat(value).tzinfo is not None

    @checker.checks("uri")
    def uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and parts.netloc) and " " not in value

    return checker


@dataclass(frozen=True)
class Schemas:
    registry: Registry
    base: Path

    def validate(self, instance: object, name: str) -> None:
        """Validate against one of the five schemas; their relative $refs resolve in the registry."""
        uri = (self.base / name).as_uri()
        Draft202012Validator({"$ref": uri}, registry=self.registry, format_checker=_format_checker()).validate(
            instance
        )

    def validate_inline(self, instance: object, schema: dict[str, Any]) -> None:
        Draft202012Validator(schema, registry=self.registry, format_checker=_format_checker()).validate(instance)


@pytest.fixture(scope="session")
def schemas(open311_data: Path) -> Schemas:
    base = open311_data / "jsonschema"
    resources = [
        (
            (base / name).as_uri(),
            Resource.from_contents(json.loads((base / name).read_text("utf-8")), default_specification=DRAFT202012),
        )
        for name in SCHEMA_FILES
    ]
    return Schemas(registry=Registry().with_resources(resources), base=base)


# Schemas for the responses the five files do not cover, written from the spec's tables and the
# swagger definitions (RequestResponse, TokenResponse) in spec/data_georeport_v2-1.yaml.
NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}]}
POST_RESPONSE = {
    "type": "array", "minItems": 1,
    "items": {
        "type": "object", "required": ["service_request_id"], "additionalProperties": False,
        "properties": {
            "service_request_id": {"type": "string", "minLength": 1},
            "service_notice": NULLABLE_STRING, "account_id": NULLABLE_STRING,
        },
    },
}
TOKEN_RESPONSE = {
    "type": "array", "minItems": 1,
    "items": {
        "type": "object", "required": ["service_request_id", "token"], "additionalProperties": False,
        "properties": {"service_request_id": {"type": "string"}, "token": {"type": "string"}},
    },
}
ERRORS = {
    "type": "array", "minItems": 1,
    "items": {
        "type": "object", "required": ["code", "description"], "additionalProperties": False,
        "properties": {"code": {"type": ["string", "integer"]}, "description": {"type": "string", "minLength": 1}},
    },
}
DISCOVERY = {
    "type": "object", "required": ["changeset", "contact", "key_service", "endpoints"],
    "properties": {
        "changeset": {"type": "string"}, "contact": {"type": "string"}, "key_service": {"type": "string"},
        "endpoints": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object", "required": ["specification", "url", "changeset", "type", "formats"],
                "properties": {
                    "specification": {"type": "string"}, "url": {"type": "string", "format": "uri"},
                    "changeset": {"type": "string"}, "type": {"enum": ["production", "test"]},
                    "formats": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                },
            },
        },
    },
}
UPDATES = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["update_id", "service_request_id", "status", "updated_datetime", "description"],
        "properties": {
            "update_id": {"type": "string"}, "service_request_id": {"type": "string"},
            "status": {"enum": ["open", "closed"]}, "updated_datetime": {"type": "string", "format": "date-time"},
            "description": NULLABLE_STRING, "media_url": {"type": "string", "format": "uri"},
        },
    },
}


# --- XML: the tag tree -------------------------------------------------------------------------

Shape = dict[str, "Shape"]


def _merge(into: Shape, other: Shape) -> None:
    for tag, child in other.items():
        _merge(into.setdefault(tag, {}), child)


def xml_shape(element: ET.Element) -> Shape:
    """Element names and nesting, without text or order; repeated siblings (the items of a
    list) are merged, so a list of two requests has the shape of one."""
    shape: Shape = {}
    for child in element:
        _merge(shape.setdefault(child.tag, {}), xml_shape(child))
    return shape


def root_shape(xml: bytes) -> Shape:
    # Our own responses and the checked-in fixtures: no untrusted XML is parsed in these tests.
    root = ET.fromstring(xml)  # noqa: S314
    return {root.tag: xml_shape(root)}


def assert_same_shape(ours: Shape, theirs: Shape, *, may_omit: Iterable[str] = (), path: str = "") -> None:
    """Our tree has exactly the fixture's elements at every level, except that the elements
    named in `may_omit` (the spec's "may not be returned") may be absent."""
    optional = set(may_omit)
    foreign = sorted(set(ours) - set(theirs))
    missing = sorted(set(theirs) - set(ours) - optional)
    assert not foreign, f"elements the fixture does not have under /{path}: {foreign}"
    assert not missing, f"elements missing under /{path}: {missing}"
    for tag in set(ours) & set(theirs):
        assert_same_shape(ours[tag], theirs[tag], may_omit=optional, path=f"{path}/{tag}".lstrip("/"))


def fixture_xml(open311_data: Path, name: str) -> bytes:
    return (open311_data / "fixtures-sf311" / name).read_bytes()


def spec_xml_example(open311_data: Path, spec_file: str, root: str) -> bytes:
    """The first XML example of `root` written in the spec's own Markdown page."""
    text = (open311_data / "spec" / spec_file).read_text("utf-8")
    match = re.search(rf"<\?xml[^>]*\?>\s*<{root}>.*?</{root}>", text, re.DOTALL)
    assert match, f"no <{root}> example in {spec_file}"
    return match.group(0).encode("utf-8")


def assert_xml_response(response: Response, status: int = 200) -> bytes:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    body = response.content
    assert body.startswith(XML_DECLARATION + b"\n")
    assert b"xmlns" not in body
    ET.fromstring(body)  # noqa: S314 - our own response
    return body


def json_body(response: Response, status: int = 200) -> Any:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(response.content)


def error_of(response: Response, status: int, fmt: str = "json") -> tuple[str, str]:
    """The one (code, description) of an error response, checked for the spec's format."""
    assert response.status_code == status, response.content[:500]
    if fmt == "json":
        body = json_body(response, status)
        assert isinstance(body, list) and len(body) == 1
        return str(body[0]["code"]), body[0]["description"]
    xml = assert_xml_response(response, status)
    root = ET.fromstring(xml)  # noqa: S314 - our own response
    assert root.tag == "errors"
    errors = root.findall("error")
    assert len(errors) == 1
    assert [child.tag for child in errors[0]] == ["code", "description"]
    return errors[0].findtext("code") or "", errors[0].findtext("description") or ""


# --- data ----------------------------------------------------------------------------------------


@dataclass
class ApiClient:
    client: Open311Client
    key: str


@pytest.fixture
def api_client(world: World) -> ApiClient:
    client, key = client_create(name="测试接入方")
    return ApiClient(client=client, key=key)


@pytest.fixture
def web(client: Client) -> Client:
    return client


def post_request(web: Client, fmt: str = "json", **data: Any) -> Response:
    return web.post(f"{BASE}/requests.{fmt}", data)


def valid_post(world: World, key: str, **overrides: Any) -> dict[str, Any]:
    lat, lng = inside(world.grid_a1)
    data: dict[str, Any] = {
        "api_key": key, "service_code": "roads-damage", "lat": str(lat), "long": str(lng),
        "description": DESCRIPTION, "attribute[severity]": "severe",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def report(world: World, *, channel: str = Channel.APP, category: str | None = "roads-damage", **kwargs: Any) -> Case:
    lat, lng = inside(world.grid_a1)
    kwargs.setdefault("reporter", world.user("citizen"))
    return case_services.report_submit(
        description=kwargs.pop("description", DESCRIPTION), lat=lat, lng=lng, channel=channel,
        category=Category.objects.get(code=category) if category else None, **kwargs,
    )


def close(world: World, case: Case, *, handling: str = "已修补路面") -> Case:
    u = world.user
    case_services.case_accept(case=case, actor=u("town_dispatcher"))
    case_services.case_register(case=case, actor=u("town_dispatcher"))
    case_services.case_dispatch(
        case=case, actor=u("town_dispatcher"), unit=world.village_a1_committee, reason="请尽快处置"
    )
    case_services.case_sign_for(case=case, actor=u("village_cadre"))
    case_services.case_handle(case=case, actor=u("village_cadre"), result=handling)
    case_services.case_verify(case=case, actor=u("grid_worker"), passed=True)
    case_services.case_close(case=case, actor=u("town_dispatcher"), reason="已办结")
    return case


def reject(world: World, case: Case, reason: str = "经核实为重复上报以外的无效信息") -> Case:
    case_services.case_reject(case=case, actor=world.user("town_dispatcher"), kind=RejectionKind.INVALID, reason=reason)
    return case


def counts() -> tuple[int, int, int]:
    return Case.objects.count(), CaseEvent.objects.count(), Open311Request.objects.count()


def unchanged_after(action: Callable[[], Response]) -> Response:
    before = counts()
    response = action()
    assert counts() == before, "a refused request changed the database"
    return response
