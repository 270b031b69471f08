"""Rendering a schema into the API's JSON exactly as ninja renders its own answers, for the
operations that build their response themselves (every POST, so that its body can be stored
for idempotent replays)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Schema
from ninja.renderers import JSONRenderer

_renderer = JSONRenderer()
CONTENT_TYPE = f"{_renderer.media_type}; charset={_renderer.charset}"


def respond(request: HttpRequest, status: int, body: Schema) -> HttpResponse:
    content = _renderer.render(request, body.model_dump(), response_status=status)
    return HttpResponse(content, status=status, content_type=CONTENT_TYPE)
