"""Mounted at /api/v1/ by config.urls.

Ninja answers a wrong method on a known path with a bare 405 of its own, and a path it does not
know falls through to the site's HTML 404; both are wrapped here so that every answer under
/api/v1/ has the API's JSON error format.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import URLPattern, URLResolver, re_path
from django.views.decorators.csrf import csrf_exempt

from sizhi.api.api import NAMESPACE, api
from sizhi.api.errors import http_error_body
from sizhi.api.responses import CONTENT_TYPE

# A report may carry SIZHI_MAX_PHOTOS photos of SIZHI_MAX_PHOTO_BYTES each, plus its text; anything
# larger is refused from its Content-Length before a byte of the body is read.
FORM_OVERHEAD = 1024 * 1024


def max_request_bytes() -> int:
    return settings.SIZHI_MAX_PHOTOS * settings.SIZHI_MAX_PHOTO_BYTES + FORM_OVERHEAD


def _json_error(status: int) -> HttpResponse:
    return HttpResponse(json.dumps(http_error_body(status)), status=status, content_type=CONTENT_TYPE)


def _guard(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > max_request_bytes():
            return _json_error(413)
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            # Only ninja's root view raises it (the operations answer their own 404s).
            return _json_error(404)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json"):
            allow = response.get("Allow", "")
            response = _json_error(405)
            response["Allow"] = allow
        return response

    return wrapper


def _wrap(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = _guard(pattern.callback)
    return patterns


@csrf_exempt
def _not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return _json_error(404)


app_name = NAMESPACE
urlpatterns = [*_wrap(api.urls[0]), re_path(r"^.*$", _not_found, name="not_found")]
