"""Open311 output: one Python structure rendered as XML (the spec's required format, no
namespace) or as JSON (the spec's "Spark convention" mapping of that XML).

In the structure a dict is an element with children, a list is an element whose items repeat
under the name ITEM_NAMES gives, and None is an empty element in XML and null in JSON.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Literal
from xml.etree import ElementTree as ET

from django.http import HttpResponse
from django.utils import timezone

Format = Literal["json", "xml"]
Value = None | str | int | float | bool | datetime | list["Value"] | dict[str, "Value"]

XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
CONTENT_TYPES: dict[str, str] = {
    "xml": "text/xml; charset=utf-8",
    "json": "application/json; charset=utf-8",
}
# The element each item of a list is wrapped in, by the list's own element name.
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "notes": "note",
    "service_requests_updates": "request_update",
    "service_request_updates": "request_update",
}
# Characters XML 1.0 cannot carry at all, not even escaped; stored text from older channels
# may still hold some, and one of them would make the whole document unreadable.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def w3c(moment: datetime) -> str:
    """ISO 8601 with the offset, in the platform's zone (Asia/Shanghai): 2026-05-01T08:30:00+08:00."""
    return timezone.localtime(moment).isoformat(timespec="seconds")


def _scalar_text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return w3c(value)
    return str(value)


def _add(parent: ET.Element, name: str, value: Value) -> None:
    element = ET.SubElement(parent, name)
    _fill(element, name, value)


def _fill(element: ET.Element, name: str, value: Value) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _add(element, key, child)
    elif isinstance(value, list):
        item_name = ITEM_NAMES[name]
        for item in value:
            _add(element, item_name, item)
    else:
        element.text = _NOT_XML.sub("", _scalar_text(value)) or None


def to_xml(root: str, value: Value) -> bytes:
    element = ET.Element(root)
    _fill(element, root, value)
    return (XML_DECLARATION + ET.tostring(element, encoding="unicode")).encode("utf-8")


def _json_ready(value: Value) -> object:
    if isinstance(value, datetime):
        return w3c(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def to_json(value: Value) -> bytes:
    return json.dumps(_json_ready(value), ensure_ascii=False).encode("utf-8")


def respond(fmt: Format, root: str, value: Value, *, status: int = 200) -> HttpResponse:
    body = to_xml(root, value) if fmt == "xml" else to_json(value)
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])


def error_response(fmt: Format, status: int, errors: list[tuple[str, str]]) -> HttpResponse:
    """`errors > error > code, description`; the code is the stable code of the failure
    (the spec allows codes more specific than the HTTP status, which carries the class)."""
    items: list[Value] = [{"code": code, "description": description} for code, description in errors]
    return respond(fmt, "errors", items, status=status)
