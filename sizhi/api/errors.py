"""One error format for every answer of the JSON API:

    {"error": {"code": "...", "message": "...", "fields": {"name": "message"}}}

Codes are stable (clients branch on them); messages are in the user's language and never carry
exception text, so nothing internal leaks whatever the input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from sizhi.accounts.throttle import Refusal
from sizhi.api.services import TokenError
from sizhi.cases.errors import CaseError

logger = logging.getLogger("sizhi.api")
E = TypeVar("E", bound=Exception)


class ApiError(Exception):
    """An error the API layer itself decides (not found, bad filter, unknown id)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str | Promise,
        *,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = str(message)
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})


def error_body(code: str, message: str | Promise, fields: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": str(message), "fields": dict(fields or {})}}


def not_found() -> ApiError:
    # One answer for "does not exist" and "exists but not yours": ids cannot be probed.
    return ApiError(404, "not_found", _("找不到该资源，或您无权访问。"))


def forbidden(message: str | Promise | None = None) -> ApiError:
    return ApiError(403, "forbidden", message or _("您无权执行此操作。"))


def rate_limited(retry_after: int) -> ApiError:
    return ApiError(
        429, "rate_limited", _("操作过于频繁，请稍后再试。"), headers={"Retry-After": str(retry_after)}
    )


def report_rate_limited(refusal: Refusal) -> ApiError:
    message = _("提交过于频繁，请 %(n)d 分钟后再试。如情况紧急，请拨打 12345 或 110。") % {"n": refusal.minutes}
    return ApiError(429, "rate_limited", message, headers={"Retry-After": str(refusal.retry_after)})


# --- validation messages -------------------------------------------------------------------------


def _validation_message(error: Mapping[str, Any]) -> str:
    """A pydantic error type in the user's language (pydantic's own text is English only)."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return _("此项为必填项。")
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return _("请输入整数。")
    if kind in {"float_parsing", "float_type", "finite_number"}:
        return _("请输入有效的数字。")
    if kind in {"bool_parsing", "bool_type"}:
        return _("请输入 true 或 false。")
    if kind in {"date_parsing", "date_from_datetime_parsing", "date_type", "date_from_datetime_inexact"}:
        return _("请输入有效的日期（YYYY-MM-DD）。")
    if kind in {"datetime_parsing", "datetime_type", "datetime_from_date_parsing"}:
        return _("请输入有效的时间（ISO 8601）。")
    if kind in {"string_type", "string_unicode"}:
        return _("请输入文本。")
    if kind == "string_too_long":
        return _("不能超过 %(n)s 个字符。") % {"n": ctx.get("max_length", "")}
    if kind == "string_too_short":
        return _("至少需要 %(n)s 个字符。") % {"n": ctx.get("min_length", "")}
    if kind == "string_pattern_mismatch":
        return _("格式不正确。")
    if kind in {"greater_than_equal", "greater_than"}:
        return _("不能小于 %(n)s。") % {"n": ctx.get("ge", ctx.get("gt", ""))}
    if kind in {"less_than_equal", "less_than"}:
        return _("不能大于 %(n)s。") % {"n": ctx.get("le", ctx.get("lt", ""))}
    if kind in {"enum", "literal_error"}:
        return _("取值无效，可选：%(values)s。") % {"values": ctx.get("expected", "")}
    if kind in {"list_type", "too_long", "too_short"}:
        return _("数量或格式不正确。")
    if kind in {"model_type", "model_attributes_type", "dict_type", "json_invalid", "json_type"}:
        return _("请求内容的格式不正确。")
    if kind == "value_error":
        return _("取值无效。")
    return _("取值无效。")


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """("query", "page") → "page"; ("body", "payload", "reason") → "reason"; the source and the
    name of the single body parameter say nothing to a client."""
    parts = [str(p) for p in loc]
    if not parts:
        return "request"
    source, rest = parts[0], parts[1:]
    if source == "body" and len(rest) > 1:
        rest = rest[1:]
    return ".".join(rest) or source


def validation_fields(errors: list[dict[str, Any]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in errors:
        fields.setdefault(_field_name(error.get("loc", ())), _validation_message(error))
    return fields


# --- handlers ------------------------------------------------------------------------------------

_HTTP_CODES = {
    400: ("bad_request", "请求格式不正确。"),
    401: ("unauthenticated", "请先登录，或在 Authorization 头中提供有效的令牌。"),
    403: ("forbidden", "您无权执行此操作。"),
    404: ("not_found", "找不到该资源，或您无权访问。"),
    405: ("method_not_allowed", "不支持该请求方法。"),
    413: ("request_too_large", "请求内容过大。"),
    429: ("too_many_requests", "请求过于频繁，请稍后再试。"),
}


def http_error_body(status: int) -> dict[str, Any]:
    code, message = _HTTP_CODES.get(status, ("error", "请求失败。"))
    return error_body(code, _(message))


def install_error_handlers(api: NinjaAPI) -> None:
    def respond(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
        return api.create_response(request, body, status=status)

    def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        response = respond(request, exc.status, error_body(exc.code, exc.message, exc.fields))
        for name, value in exc.headers.items():
            response[name] = value
        return response

    def on_case_error(request: HttpRequest, exc: CaseError) -> HttpResponse:
        message = str(exc.message)
        fields = {exc.field: message} if exc.field else {}
        return respond(request, exc.http_status, error_body(exc.code, message, fields))

    def on_token_error(request: HttpRequest, exc: TokenError) -> HttpResponse:
        fields = {exc.field: exc.message} if exc.field else {}
        return respond(request, 400, error_body(exc.code, exc.message, fields))

    def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return respond(
            request, 400, error_body("validation_error", _("请检查填写的内容。"), validation_fields(exc.errors))
        )

    def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = respond(request, 401, http_error_body(401))
        response["WWW-Authenticate"] = 'Bearer realm="sizhi"'
        return response

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        # Ninja's own texts ("Cannot parse request body", "CSRF check Failed") are English and
        # internal; the status alone chooses the answer.
        if exc.status_code == 403:
            return respond(request, 403, error_body("csrf_failed", _("CSRF 校验失败，请刷新页面后重试。")))
        return respond(request, exc.status_code, http_error_body(exc.status_code))

    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return respond(request, 404, http_error_body(404))

    def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return respond(request, 403, http_error_body(403))

    def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return respond(request, 413, http_error_body(413))

    def on_too_many(request: HttpRequest, exc: Exception) -> HttpResponse:
        return respond(request, 400, error_body("too_many_parts", _("请求中的字段或文件过多。")))

    def on_bad_request(request: HttpRequest, exc: Exception) -> HttpResponse:
        return respond(request, 400, http_error_body(400))

    def on_database_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        # Operational errors (database down, lock timeout) are worth a retry; say so with 503.
        logger.warning("api database error: %s", type(exc).__name__)
        response = respond(request, 503, error_body("service_unavailable", _("服务暂时不可用，请稍后再试。")))
        response["Retry-After"] = "30"
        return response

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("api unexpected error on %s %s", request.method, request.path)
        return respond(request, 500, error_body("server_error", _("服务器内部错误，请稍后再试。")))

    def on(exc_class: type[E], handler: Callable[[HttpRequest, E], HttpResponse]) -> None:
        # Ninja types a handler as taking "the exception or its class"; ours take the instance,
        # which is what ninja passes.
        api.add_exception_handler(exc_class, handler)  # type: ignore[arg-type]

    on(ApiError, on_api_error)
    on(CaseError, on_case_error)
    on(TokenError, on_token_error)
    on(ValidationError, on_validation_error)
    on(AuthenticationError, on_authentication_error)
    on(HttpError, on_http_error)
    on(Http404, on_not_found)
    on(PermissionDenied, on_permission_denied)
    on(RequestDataTooBig, on_too_big)
    on(TooManyFieldsSent, on_too_many)
    on(TooManyFilesSent, on_too_many)
    on(MultiPartParserError, on_bad_request)
    on(SuspiciousOperation, on_bad_request)
    on(BadRequest, on_bad_request)
    on(UnicodeDecodeError, on_bad_request)
    on(OperationalError, on_database_error)
    on(InterfaceError, on_database_error)
    on(Exception, on_unexpected)
