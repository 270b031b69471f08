"""The JSON API under /api/v1/, built with django-ninja: typed pydantic schemas, one OpenAPI 3
document generated from the same types, one error format (see errors.py)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from ninja.parser import Parser

from sizhi.api.docs import LocalSwagger
from sizhi.api.endpoints import cases, linkage, reference, supervision, track
from sizhi.api.errors import install_error_handlers

NAMESPACE = "api_v1"

DESCRIPTION = """
四治（Sizhi）JSON API。

* 认证：`Authorization: Bearer <令牌>`（在“账户 → API 令牌”页面创建），或网页会话（POST 需 CSRF 令牌）。
  令牌与其用户的权限与管辖范围完全相同。
* 错误：一律为 `{"error": {"code": "...", "message": "...", "fields": {...}}}`，`code` 稳定可供程序判断。
* 列表：`page`、`page_size`（≤100），返回 `count`、`next`、`previous`、`results`。
* 频率：上报按来源地址、账号和手机号限流（与网页表单共用额度），凭查询码的操作按来源地址限流，附议按账号限流；
  超出时返回 429 `rate_limited`，`Retry-After` 头为距可再次提交的秒数。
* 幂等：每个 POST 都接受 `Idempotency-Key` 头；同一标识重复提交同一请求返回首次结果（头 `Idempotent-Replayed: true`），
  同一标识用于不同请求返回 422 `idempotency_key_reused`。标识保留 24 小时。
"""


class ObjectBodyParser(Parser):
    """Every JSON body of this API is an object. Ninja would take `null`, `[1]` or `"x"` as an
    empty body and run the operation with its defaults; here they are a 400 like any unparsable
    body (ninja turns the exception into one)."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data


class SizhiAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # The view's own name (case_accept, region_get…) is unique in this API and readable in
        # generated clients, unlike ninja's default module-qualified name.
        return operation.view_func.__name__

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for methods in schema["paths"].values():
            for operation in methods.values():
                operation["responses"] = merge_status_codes(operation["responses"])
        return schema


def merge_status_codes(responses: dict[int | str, Any]) -> dict[str, Any]:
    """Ninja keys the responses it generates by int status code; an `openapi_extra` that adds to
    one (as JSON needs, by string "200") lands beside it instead of merging, and the document then
    carries the key twice. Python's JSON reader takes the last, but Swagger UI's parser (js-yaml)
    rejects the whole document ("duplicated mapping key"), so the docs page shows no operation."""
    merged: dict[str, Any] = {}
    # Ninja's int entries first, then the string ones of openapi_extra, which refine them.
    for status, entry in sorted(responses.items(), key=lambda item: isinstance(item[0], str)):
        key = str(status)
        merged[key] = _deep_merge(merged[key], entry) if key in merged else entry
    return merged


def _deep_merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        merged = {key: _deep_merge(base[key], value) if key in base else value for key, value in extra.items()}
        return {**base, **merged}
    return extra


api = SizhiAPI(
    title="Sizhi API",
    version="1.0.0",
    description=DESCRIPTION,
    urls_namespace=NAMESPACE,
    docs=LocalSwagger(),
    docs_url="/docs",
    parser=ObjectBodyParser(),
)
install_error_handlers(api)
api.add_router("", cases.router)
api.add_router("", linkage.router)
api.add_router("", supervision.router)
api.add_router("", track.router)
api.add_router("", reference.router)
