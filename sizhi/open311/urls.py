"""GeoReport v2 resources under /open311/v2/, each as .xml and .json (the format is part of the
URL, as the spec has it)."""

from django.urls import path, re_path

from sizhi.open311 import api

app_name = "open311"
FMT = r"\.(?P<fmt>json|xml)"
urlpatterns = [
    # The spec suggests answering the endpoint's root with the discovery document.
    path("", api.discovery, name="root"),
    re_path(rf"^discovery{FMT}$", api.discovery, name="discovery"),
    re_path(rf"^services{FMT}$", api.service_list, name="services"),
    re_path(rf"^services/(?P<service_code>[-a-zA-Z0-9_]{{1,40}}){FMT}$", api.service_definition, name="service"),
    re_path(rf"^requests{FMT}$", api.requests_collection, name="requests"),
    re_path(rf"^requests/(?P<service_request_id>[-A-Za-z0-9_]{{1,40}}){FMT}$", api.request_detail, name="request"),
    re_path(rf"^tokens/(?P<token>[-A-Za-z0-9._~]{{1,64}}){FMT}$", api.token_detail, name="token"),
    re_path(rf"^servicerequestupdates{FMT}$", api.request_updates, name="updates"),
    # Everything else is a resource that does not exist, answered in the spec's error format.
    re_path(rf"^(?P<path>.*?){FMT}$", api.unknown_resource),
    re_path(r"^(?P<path>.+)$", api.unknown_resource),
]
