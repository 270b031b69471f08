"""The Open311 GeoReport v2 endpoints (mounted at /open311/v2/): parse the request, call a
selector or a service, render XML or JSON. Status codes as the spec asks: 404 for what does
not exist, 403 for a missing or wrong API key, 400 for every other refusal; a refused request
changes nothing.

Extensions beyond the spec: `page`/`page_size` and `extensions=true` on GET requests (as
Mark-a-Spot and FixMyStreet offer), a client `token` on POST requests that makes a retry safe,
and mySociety's servicerequestupdates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from functools import wraps
from typing import Concatenate, ParamSpec

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from sizhi.accounts import throttle
from sizhi.audit.middleware import mark_repeated_refusal
from sizhi.cases.errors import CaseError
from sizhi.cases.models import AttributeDatatype, Case, CaseEvent, Category, CategoryAttribute
from sizhi.cases.services import NOTE_MAX
from sizhi.config.env import env_str
from sizhi.open311 import selectors
from sizhi.open311.formats import Format, Value, error_response, respond
from sizhi.open311.models import Open311Client
from sizhi.open311.permissions import client_for_api_key
from sizhi.open311.services import request_submit, update_submit
from sizhi.regions.models import Region

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# The date this API's shape last changed; the discovery changeset is never older.
API_CHANGESET = "2026-11-27 00:00"
MAX_WINDOW = timedelta(days=90)
DESCRIPTION_MAX = 4000
MEDIA_URL_MAX = 500
SHORT_FIELD_MAX = 64
TOKEN = re.compile(r"[A-Za-z0-9._~-]{1,40}")
ATTRIBUTE_KEY = re.compile(r"attribute\[([^\[\]]{1,40})\](\[\])?")
W3C_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})")
W3C_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A '+' sent unencoded in a query string arrives as a space: "…T08:00:00 08:00".
SPACE_FOR_PLUS = re.compile(r"(?<=\d) (\d{2}:\d{2})$")
_media_url_validator = URLValidator(schemes=["http", "https"])

P = ParamSpec("P")


class Open311Error(Exception):
    def __init__(self, status: int, code: str, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.retry_after = retry_after


def _bad(code: str, description: str) -> Open311Error:
    return Open311Error(400, code, description)


def _not_found(description: str) -> Open311Error:
    return Open311Error(404, "not_found", description)


def _has_nul(params: QueryDict) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in params.lists())


View = Callable[Concatenate[HttpRequest, P], HttpResponse]


def open311_endpoint(*methods: str) -> Callable[[View[P]], View[P]]:
    """Method check, NUL refusal and the error format shared by every endpoint. The format
    comes from the URL (…/services.json), so even an error is answered in the format asked."""

    def decorate(view: View[P]) -> View[P]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
            fmt: Format = kwargs.get("fmt", "xml")  # type: ignore[assignment]
            try:
                if request.method not in methods:
                    raise _bad("method_not_allowed", _("此地址只接受 %(m)s 请求。") % {"m": " / ".join(methods)})
                # PostgreSQL cannot store a NUL and no legitimate text holds one: refuse the request
                # outright rather than silently store something other than what was sent.
                if _has_nul(request.GET) or (request.method == "POST" and _has_nul(request.POST)):
                    raise _bad("nul_byte", _("请求中含有空字符（NUL），无法处理。"))
                return view(request, *args, **kwargs)
            except Open311Error as exc:
                response = error_response(fmt, exc.status, [(exc.code, exc.description)])
                if exc.retry_after is not None:
                    response["Retry-After"] = str(exc.retry_after)
                return response
            except CaseError as exc:
                return error_response(fmt, 404 if exc.http_status == 404 else 400, [(exc.code, str(exc.message))])

        return csrf_exempt(wrapped)

    return decorate


# --- parameters ----------------------------------------------------------------------------


def _param(params: QueryDict, name: str) -> str:
    # "Optional" in the spec: a parameter sent empty is the same as one not sent.
    return (params.get(name) or "").strip()


def _csv(params: QueryDict, name: str) -> list[str]:
    items: list[str] = []
    for raw in params.getlist(name):
        items.extend(part.strip() for part in raw.split(",") if part.strip())
    return list(dict.fromkeys(items))


def parse_w3c(value: str, name: str) -> datetime:
    """A W3C datetime with its offset (or a bare date, taken as local midnight)."""
    text = SPACE_FOR_PLUS.sub(r"+\1", value.strip())
    try:
        if W3C_DATETIME.fullmatch(text):
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        if W3C_DATE.fullmatch(text):
            return timezone.make_aware(datetime.combine(date.fromisoformat(text), time.min))
    except ValueError:
        pass
    raise _bad(
        "date_invalid",
        _("%(name)s 应为带时区的 W3C 日期时间，例如 2026-05-01T00:00:00+08:00。") % {"name": name},
    )


def _window(params: QueryDict) -> tuple[datetime, datetime]:
    start_text, end_text = _param(params, "start_date"), _param(params, "end_date")
    start = parse_w3c(start_text, "start_date") if start_text else None
    end = parse_w3c(end_text, "end_date") if end_text else None
    if start is not None and end is not None:
        if end < start:
            raise _bad("date_range_invalid", _("end_date 不能早于 start_date。"))
        if end - start > MAX_WINDOW:
            raise _bad("date_window_too_long", _("start_date 与 end_date 之间不能超过 90 天。"))
        return start, end
    if start is not None:
        return start, start + MAX_WINDOW
    if end is not None:
        return end - MAX_WINDOW, end
    now = timezone.now()
    return now - MAX_WINDOW, now


def _positive_int(params: QueryDict, name: str, default: int, maximum: int) -> int:
    text = _param(params, name)
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= maximum:
        raise _bad("parameter_invalid", _("%(name)s 应为 1 到 %(max)d 之间的整数。") % {"name": name, "max": maximum})
    return int(text)


def _flag(params: QueryDict, name: str) -> bool:
    text = _param(params, name).lower()
    if text in ("", "false", "0"):
        return False
    if text in ("true", "1"):
        return True
    raise _bad("parameter_invalid", _("%(name)s 只能是 true 或 false。") % {"name": name})


def _short(params: QueryDict, name: str, limit: int = SHORT_FIELD_MAX) -> str:
    text = _param(params, name)
    if len(text) > limit:
        raise _bad("parameter_invalid", _("%(name)s 不能超过 %(n)d 个字符。") % {"name": name, "n": limit})
    return text


def _media_url(params: QueryDict) -> str:
    url = _param(params, "media_url")
    if not url:
        return ""
    try:
        if len(url) > MEDIA_URL_MAX:
            raise ValidationError("too long")
        _media_url_validator(url)
    except ValidationError as exc:
        raise _bad("media_url_invalid", _("media_url 应为不超过 500 个字符的 http 或 https 链接。")) from exc
    return url


def _api_client(request: HttpRequest) -> Open311Client:
    key = request.POST.get("api_key") or request.GET.get("api_key")
    client = client_for_api_key(key)
    if client is None:
        reason = _("缺少 api_key。") if not key else _("api_key 无效或已吊销。")
        raise Open311Error(403, "api_key_invalid", reason)
    return client


def _attribute_answers(params: QueryDict, questions: list[CategoryAttribute]) -> dict[str, object]:
    """attribute[CODE]=v, repeated or as attribute[CODE][]=v for a multivaluelist. Codes the
    service does not define are left out: some clients (FixMyStreet among them) send their own
    extra attributes to every server."""
    by_code = {q.code: q for q in questions}
    sent: dict[str, list[str]] = {}
    for key, values in params.lists():
        match = ATTRIBUTE_KEY.fullmatch(key)
        if match and match.group(1) in by_code:
            sent.setdefault(match.group(1), []).extend(values)
    answers: dict[str, object] = {}
    for code, values in sent.items():
        if by_code[code].datatype == AttributeDatatype.MULTIVALUELIST:
            answers[code] = values
        else:
            answers[code] = values[0] if len(values) == 1 else values
    return answers


# --- rendering ---------------------------------------------------------------------------------


def _address(case: Case) -> str | None:
    if case.address:
        return case.address
    # No street address: the divisions, most specific first, as the spec orders an address.
    names: list[str] = []
    region: Region | None = case.region
    while region is not None and len(names) < 4:
        names.append(region.name)
        region = region.parent
    return "，".join(names) or None


def _status(status: str) -> str:
    return "closed" if selectors.is_closed(status) else "open"


def _updated(case: Case) -> datetime:
    # The spec: for a closed request, the time it was closed.
    if selectors.is_closed(case.status) and case.closed_at is not None:
        return case.closed_at
    return case.updated_at


def _notes(case: Case) -> list[Value]:
    events: list[CaseEvent] = getattr(case, "published_events", [])
    return [
        {
            "datetime": event.created_at,
            "status": _status(event.to_status),
            "action": event.action,
            "action_name": str(event.get_action_display()),
            "description": selectors.update_description(event),
        }
        for event in events
    ]


def request_row(case: Case, *, extensions: bool = False) -> dict[str, Value]:
    """One request in the order of the spec's example. No reporter, phone or tracking code is
    ever part of it. A report's photos are not linked: the only photo route is keyed by the
    tracking code, which would let anyone rate or reopen the case."""
    link = selectors.open311_request_for(case)
    category = case.category
    row: dict[str, Value] = {
        "service_request_id": case.number,
        "status": _status(case.status),
        "status_notes": selectors.status_notes(case),
        "service_name": category.name if category else None,
        "service_code": category.code if category else "",
        "description": case.description[:DESCRIPTION_MAX],
        "agency_responsible": case.assigned_unit.name if case.assigned_unit else None,
        "service_notice": None,
        "requested_datetime": case.created_at,
        "updated_datetime": _updated(case),
        # 办结时限: when the city has committed to finish, which is what the spec asks for.
        "expected_datetime": case.due_at,
        "address": _address(case),
        "address_id": (link.address_id or None) if link else None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lng,
    }
    if link is not None and link.media_url:
        row["media_url"] = link.media_url
    if extensions:
        row["extended_attributes"] = {"notes": _notes(case)}
    return row


def _service_row(category: Category) -> dict[str, Value]:
    group = category.parent.name if category.parent else None
    # Synonyms from the names themselves: "饮水安全与停水" is found by 停水 as well.
    words = [group] if group else []
    words += [w for w in re.split(r"[与和及、/]", category.name) if w]
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": f"{group} · {category.name}" if group else category.name,
        "metadata": bool(getattr(category, "has_attributes", False)),
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys(words)),
        "group": group,
    }


def _attribute_row(question: CategoryAttribute) -> dict[str, Value]:
    values: list[Value] = [{"key": str(v["key"]), "name": str(v["name"])} for v in question.values or []]
    return {
        "variable": question.variable,
        "code": question.code,
        "datatype": question.datatype,
        "required": question.required,
        "datatype_description": None,
        "order": question.order,
        "description": question.description,
        "values": values,
    }


# --- discovery ---------------------------------------------------------------------------------


def _endpoint_url(request: HttpRequest, setting: str) -> str:
    configured = getattr(settings, setting, None) or env_str(setting, "")
    return str(configured).rstrip("/") or request.build_absolute_uri(reverse("open311:root")).rstrip("/")


def _changeset() -> str:
    latest = CategoryAttribute.objects.aggregate(latest=Max("updated_at"))["latest"]
    stamp = f"{timezone.localtime(latest):%Y-%m-%d %H:%M}" if latest else ""
    return max(API_CHANGESET, stamp)


def _setting_text(name: str, default: str) -> str:
    return str(getattr(settings, name, None) or env_str(name, default))


@open311_endpoint("GET")
def discovery(request: HttpRequest, fmt: Format = "xml") -> HttpResponse:
    changeset = _changeset()
    formats: list[Value] = ["text/xml", "application/json"]
    endpoints: list[Value] = [
        {
            "specification": SPECIFICATION,
            "url": _endpoint_url(request, f"SIZHI_OPEN311_{kind.upper()}_URL"),
            "changeset": changeset,
            "type": kind,
            "formats": formats,
        }
        for kind in ("production", "test")
    ]
    body: dict[str, Value] = {
        "changeset": changeset,
        "contact": _setting_text("SIZHI_OPEN311_CONTACT", _("如需帮助，请联系本平台的运维单位。")),
        "key_service": _setting_text(
            "SIZHI_OPEN311_KEY_SERVICE",
            _("提交请求需要 API 密钥，请向本平台的运维单位申请（sizhi open311 create-client）。"),
        ),
        "endpoints": endpoints,
    }
    return respond(fmt, "discovery", body)


# --- services ----------------------------------------------------------------------------------


@open311_endpoint("GET")
def service_list(request: HttpRequest, fmt: Format) -> HttpResponse:
    rows: list[Value] = [_service_row(c) for c in selectors.services()]
    return respond(fmt, "services", rows)


@open311_endpoint("GET")
def service_definition(request: HttpRequest, service_code: str, fmt: Format) -> HttpResponse:
    category = selectors.service_by_code(service_code)
    if category is None:
        raise _not_found(_("没有编码为 %(code)s 的服务类型。") % {"code": service_code})
    attributes: list[Value] = [_attribute_row(q) for q in selectors.service_attributes(category)]
    return respond(fmt, "service_definition", {"service_code": category.code, "attributes": attributes})


# --- requests ----------------------------------------------------------------------------------


@open311_endpoint("GET", "POST")
def requests_collection(request: HttpRequest, fmt: Format) -> HttpResponse:
    if request.method == "POST":
        return _create_request(request, fmt)
    params = request.GET
    ids = _csv(params, "service_request_id")
    extensions = _flag(params, "extensions")
    if ids:
        if len(ids) > selectors.MAX_RESULTS:
            raise _bad("parameter_invalid", _("一次最多查询 1000 个 service_request_id。"))
        query = selectors.RequestQuery(service_request_ids=ids)
    else:
        codes = _csv(params, "service_code")
        unknown = sorted(set(codes) - selectors.category_codes_known(codes))
        if unknown:
            raise _bad("service_code_unknown", _("没有编码为 %(code)s 的服务类型。") % {"code": ", ".join(unknown)})
        statuses = [s.lower() for s in _csv(params, "status")]
        if any(s not in ("open", "closed") for s in statuses):
            raise _bad("parameter_invalid", _("status 只能是 open 或 closed。"))
        start, end = _window(params)
        query = selectors.RequestQuery(
            service_codes=codes, statuses=statuses, start=start, end=end,
            page=_positive_int(params, "page", 1, 1_000_000),
            page_size=_positive_int(params, "page_size", selectors.MAX_RESULTS, selectors.MAX_RESULTS),
        )
    found = selectors.requests_matching(query, timeline=extensions)
    rows: list[Value] = [request_row(case, extensions=extensions) for case in found]
    return respond(fmt, "service_requests", rows)


def _throttle_create(request: HttpRequest, params: QueryDict) -> None:
    """Per sending address (a partner system relays many residents, so its budget is large) and
    per resident phone, the latter shared with the web form and the JSON API."""
    refusal = throttle.hit_all([
        (throttle.OPEN311_PER_ADDRESS, throttle.client_address(request)),
        (throttle.REPORTS_PER_PHONE, throttle.phone_subject(_param(params, "phone"))),
    ])
    if refusal is not None:
        if refusal.repeated:
            mark_repeated_refusal(request)
        raise Open311Error(
            429, "rate_limited",
            _("提交过于频繁，请 %(n)d 分钟后再试。") % {"n": refusal.minutes}, retry_after=refusal.retry_after,
        )


def _create_request(request: HttpRequest, fmt: Format) -> HttpResponse:
    client = _api_client(request)
    params = request.POST
    _throttle_create(request, params)
    code = _param(params, "service_code")
    if not code:
        raise _bad("service_code_required", _("缺少 service_code。"))
    category = selectors.service_by_code(code)
    if category is None:
        raise _bad("service_code_unknown", _("没有编码为 %(code)s 的服务类型。") % {"code": code[:40]})

    lat, lng = _param(params, "lat"), _param(params, "long")
    address_string = _param(params, "address_string")
    address_id = _short(params, "address_id")
    if bool(lat) != bool(lng):
        raise _bad("location_invalid", _("lat 和 long 必须同时提供。"))
    if not (lat or address_string or address_id):
        raise _bad("location_required", _("请提供位置：lat 和 long，或 address_string，或 address_id。"))

    description = _param(params, "description")
    if len(description) > DESCRIPTION_MAX:
        raise _bad("description_too_long", _("description 不能超过 4000 个字。"))
    token = _param(params, "token")
    if token and not TOKEN.fullmatch(token):
        raise _bad("token_invalid", _("token 只能由字母、数字和 ._~- 组成，最长 40 个字符。"))

    # email, first_name, last_name, phone and device_id are accepted and not kept: the only place
    # a case has for them is its description, and that is published by GET requests.
    link = request_submit(
        client=client,
        category=category,
        description=description,
        lat=lat or None,
        lng=lng or None,
        address_string=address_string,
        address_id=address_id,
        attributes=_attribute_answers(params, selectors.service_attributes(category)),
        media_url=_media_url(params),
        account_id=_short(params, "account_id"),
        token=token,
    )
    row: dict[str, Value] = {
        "service_request_id": link.case.number,
        "service_notice": None,
        "account_id": link.account_id or None,
    }
    return respond(fmt, "service_requests", [row])


@open311_endpoint("GET")
def request_detail(request: HttpRequest, service_request_id: str, fmt: Format) -> HttpResponse:
    extensions = _flag(request.GET, "extensions")
    case = selectors.request_by_id(service_request_id, timeline=extensions)
    if case is None:
        raise _not_found(_("没有编号为 %(id)s 的请求。") % {"id": service_request_id})
    return respond(fmt, "service_requests", [request_row(case, extensions=extensions)])


# A token may be a case's tracking code: misses count per address like the citizen pages' lookups,
# and an address over the limit is not even looked up (hits and misses then look alike).
TOKEN_MISSES_PER_ADDRESS = throttle.Limit("open311-token-address", 60, 10 * 60)


@open311_endpoint("GET")
def token_detail(request: HttpRequest, token: str, fmt: Format) -> HttpResponse:
    address = throttle.client_address(request)
    if throttle.exceeded(TOKEN_MISSES_PER_ADDRESS, address):
        wait = TOKEN_MISSES_PER_ADDRESS.retry_after(address)
        raise Open311Error(
            429, "rate_limited", _("查询过于频繁，请 %(n)d 分钟后再试。") % {"n": math.ceil(wait / 60)},
            retry_after=wait,
        )
    found = selectors.requests_for_token(token)
    if not found:
        throttle.hit(TOKEN_MISSES_PER_ADDRESS, address)
        raise _not_found(_("没有与 token %(token)s 对应的请求。") % {"token": token})
    rows: list[Value] = [{"service_request_id": case.number, "token": t} for case, t in found]
    return respond(fmt, "service_requests", rows)


# --- mySociety's servicerequestupdates -----------------------------------------------------------


@open311_endpoint("GET", "POST")
def request_updates(request: HttpRequest, fmt: Format) -> HttpResponse:
    if request.method == "POST":
        return _create_update(request, fmt)
    start, end = _window(request.GET)
    rows: list[Value] = []
    for event in selectors.updates_between(start, end):
        row: dict[str, Value] = {
            "update_id": str(event.pk),
            "service_request_id": event.case.number,
            "status": _status(event.to_status),
            "updated_datetime": event.created_at,
            "description": selectors.update_description(event),
        }
        if isinstance(event.data, Mapping) and event.data.get("media_url"):
            row["media_url"] = str(event.data["media_url"])
        rows.append(row)
    return respond(fmt, "service_requests_updates", rows)


def _create_update(request: HttpRequest, fmt: Format) -> HttpResponse:
    client = _api_client(request)
    params = request.POST
    service_request_id = _param(params, "service_request_id")
    if not service_request_id:
        raise _bad("service_request_id_required", _("缺少 service_request_id。"))
    case = selectors.request_by_id(service_request_id)
    if case is None:
        raise _not_found(_("没有编号为 %(id)s 的请求。") % {"id": service_request_id[:40]})
    status = _param(params, "status")
    if len(status) > 40:
        raise _bad("parameter_invalid", _("status 不能超过 40 个字符。"))
    if _param(params, "updated_datetime"):
        parse_w3c(_param(params, "updated_datetime"), "updated_datetime")
    description = _param(params, "description")
    if not description:
        raise _bad("description_required", _("缺少 description。"))
    # An update becomes a note, whose text is limited like every event's reason.
    if len(description) > NOTE_MAX:
        raise _bad("description_too_long", _("description 不能超过 %(n)d 个字。") % {"n": NOTE_MAX})
    event = update_submit(
        client=client, case=case, description=description, update_id=_short(params, "update_id"),
        media_url=_media_url(params),
    )
    return respond(fmt, "service_request_updates", [{"update_id": str(event.pk)}])


# --- anything else under /open311/v2/ ---------------------------------------------------------------


@open311_endpoint("GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS")
def unknown_resource(request: HttpRequest, path: str, fmt: Format = "xml") -> HttpResponse:
    raise _not_found(_("没有这个资源：%(path)s") % {"path": path[:100]})
