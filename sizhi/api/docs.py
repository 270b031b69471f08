"""The browsable API page: Swagger UI from the npm package swagger-ui-dist, served from our own
static files. Ninja's default page loads Swagger UI from a CDN, which a government network
neither reaches nor should trust; this page loads nothing from outside, and its
Content-Security-Policy makes the browser refuse anything that would."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja.openapi.docs import DocsBase

if TYPE_CHECKING:
    from ninja import NinjaAPI

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class LocalSwagger(DocsBase):
    settings: dict[str, Any] = {
        "layout": "BaseLayout",
        "deepLinking": True,
        # Swagger UI would otherwise send the document to validator.swagger.io for a badge.
        "validatorUrl": None,
        "persistAuthorization": False,
    }

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        context = {"api": api, "swagger_settings": settings}
        response = render(request, "api/swagger.html", context)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
