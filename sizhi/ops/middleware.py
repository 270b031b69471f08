"""Database outages answer 503 at once instead of a 500 page or a hung request.

When PostgreSQL is down or restarting, every query raises OperationalError (InterfaceError on a
connection that died under us). The JSON API already maps both to 503 itself (api.errors); this
covers the web pages. The answer is a small fixed page that touches neither the database nor a
template, with Retry-After so clients and proxies back off. Django closes the broken connection
at the end of the request, and CONN_HEALTH_CHECKS makes the next request open a fresh one, so
the platform recovers by itself when the database is back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils.html import escape
from django.utils.translation import gettext as _

logger = logging.getLogger("sizhi.ops")
RETRY_AFTER_SECONDS = 15


def unavailable_response() -> HttpResponse:
    message = escape(_("服务暂时不可用，请稍后再试。"))
    body = (
        '<!doctype html><html lang="zh-hans"><meta charset="utf-8">'
        f"<title>503</title><p>{message}</p></html>"
    )
    response = HttpResponse(body, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            logger.warning("database unavailable on %s %s: %s", request.method, request.path, type(exception).__name__)
            return unavailable_response()
        return None
