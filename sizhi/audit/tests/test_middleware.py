from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from sizhi.audit.chain import verify_chain
from sizhi.audit.middleware import AuditMiddleware, opaque, result_for, url_target
from sizhi.audit.models import AuditRecord
from sizhi.audit.services import suppress_source
from sizhi.cases import services
from sizhi.cases.models import Case
from sizhi.conftest import PASSWORD, World, inside

pytestmark = pytest.mark.django_db


def submit(world: World) -> Case:
    lat, lng = inside(world.grid_a1)
    return services.report_submit(
        reporter=None, description="金业路路口井盖缺失，夜间很危险", lat=lat, lng=lng, is_anonymous=True
    )


def test_case_action_post_is_recorded(world: World, client: Client) -> None:
    case = submit(world)
    user = world.user("town_dispatcher")
    client.force_login(user)
    before = AuditRecord.objects.count()
    response = client.post(reverse("cases:act", args=[case.pk, "accept"]), REMOTE_ADDR="10.1.2.3")
    assert response.status_code in (200, 302)
    record = AuditRecord.objects.order_by("-seq").first()
    assert record is not None and AuditRecord.objects.count() == before + 1
    assert record.action == "http.post"
    assert record.actor == user and record.actor_username == "town_dispatcher"
    assert record.actor_roles == "town_dispatcher"
    assert record.detail["route"] == "cases:act"
    assert record.detail["url_action"] == "accept"
    assert (record.target_type, record.target_id) == ("pk", str(case.pk))
    assert record.result == "ok" and record.source_address == "10.1.2.3"
    assert verify_chain().ok


def test_refused_action_is_recorded_as_denied(world: World, client: Client) -> None:
    case = submit(world)
    client.force_login(world.user("grid_worker"))
    response = client.post(reverse("cases:act", args=[case.pk, "accept"]))
    assert response.status_code == 403
    record = AuditRecord.objects.order_by("-seq").first()
    assert record is not None and record.result == "denied" and record.detail["status"] == 403


def test_out_of_scope_get_404_is_recorded(world: World, client: Client) -> None:
    case = submit(world)  # grid A1, town A
    client.force_login(world.user("town_dispatcher_b"))
    response = client.get(reverse("cases:detail", args=[case.pk]))
    assert response.status_code == 404
    record = AuditRecord.objects.exclude(action="auth.login").get()
    assert record.action == "http.get" and record.result == "denied"
    assert record.actor_username == "town_dispatcher_b"
    assert record.detail == {"route": "cases:detail", "status": 404}
    assert record.target_id == str(case.pk)


def test_ordinary_reads_and_anonymous_404s_are_not_recorded(world: World, client: Client) -> None:
    client.get("/no/such/page/")
    client.force_login(world.user("town_dispatcher"))
    assert client.get(reverse("cases:list")).status_code == 200
    assert list(AuditRecord.objects.values_list("action", flat=True)) == ["auth.login"]


def test_tracking_codes_in_urls_are_hashed(world: World, client: Client) -> None:
    case = submit(world)
    client.post(reverse("web:case_rate", args=[case.tracking_code]), {"rating": "5"})
    client.force_login(world.user("leader"))
    client.get(reverse("web:case_track", args=["NoSuchCode123456789abc"]))
    for record in AuditRecord.objects.all():
        text = f"{record.detail} {record.target_type} {record.target_id}"
        assert case.tracking_code not in text and "NoSuchCode" not in text
    # Whether or not the tracking views suppress their source, a code only ever shows hashed.
    hashed = AuditRecord.objects.filter(target_type="tracking_code")
    assert all(r.target_id.startswith("h:") for r in hashed)


def test_unresolved_path_is_hashed(world: World, client: Client) -> None:
    client.force_login(world.user("leader"))
    client.get("/secret-code-XYZ123/")
    record = AuditRecord.objects.exclude(action="auth.login").get()
    assert "XYZ123" not in str(record.detail)
    assert record.detail["path"] == opaque("/secret-code-XYZ123/")


def test_login_failed_login_and_logout(world: World, client: Client) -> None:
    url = reverse("accounts:login")
    client.post(url, {"username": "13800000001", "password": "wrong-password"}, REMOTE_ADDR="10.0.0.9")
    failed = AuditRecord.objects.get()
    assert failed.action == "auth.login_failed" and failed.result == "failed"
    assert failed.actor is None and failed.source_address == "10.0.0.9"
    assert "13800000001" not in str(failed.detail) and len(failed.detail["login"]) == 16
    # The same account typed another way gives the same index: attempts on one account group.
    client.post(url, {"username": "138 0000 0001", "password": "wrong-again"})
    again = AuditRecord.objects.order_by("-seq").first()
    assert again is not None and again.detail["login"] == failed.detail["login"]

    client.post(url, {"username": "13800000001", "password": PASSWORD})
    login = AuditRecord.objects.order_by("-seq").first()
    assert login is not None and login.action == "auth.login" and login.result == "ok"
    assert login.actor == world.user("citizen") and login.target_type == "accounts.user"

    client.post(reverse("accounts:logout"))
    logout = AuditRecord.objects.order_by("-seq").first()
    assert logout is not None and logout.action == "auth.logout" and logout.actor == world.user("citizen")
    # One record per sign-in attempt: the middleware adds no second http.post for them.
    actions = list(AuditRecord.objects.order_by("seq").values_list("action", flat=True))
    assert "http.post" not in actions
    assert [a for a in actions if a in ("auth.login_failed", "auth.login", "auth.logout")] == [
        "auth.login_failed", "auth.login_failed", "auth.login", "auth.logout",
    ]
    assert verify_chain().ok


def test_suppress_source_leaves_address_and_target_empty(world: World) -> None:
    def view(request: HttpRequest, tracking_code: str) -> HttpResponse:
        suppress_source(request)
        return HttpResponse("ok")

    request = RequestFactory().post("/track/abc/", REMOTE_ADDR="10.9.9.9")
    from django.urls import resolve

    request.resolver_match = resolve(reverse("web:case_track", args=["abc"]))
    AuditMiddleware(lambda r: view(r, "abc"))(request)
    record = AuditRecord.objects.get()
    assert record.source_address is None and record.target_type == "" and record.target_id == ""
    assert record.detail == {"route": "web:case_track", "status": 200, "source_suppressed": True}


def test_suppress_source_also_drops_a_signed_in_actor(world: World) -> None:
    # A signed-in citizen reporting anonymously: the record must not name the account either.
    def view(request: HttpRequest) -> HttpResponse:
        suppress_source(request)
        return HttpResponse("ok")

    request = RequestFactory().post("/report/", REMOTE_ADDR="10.9.9.9")
    request.user = world.user("citizen")
    from django.urls import resolve

    request.resolver_match = resolve(reverse("web:report"))
    AuditMiddleware(view)(request)
    record = AuditRecord.objects.get()
    assert record.actor_id is None and record.actor_username == "" and record.source_address is None


def test_streaming_response_is_untouched(world: World) -> None:
    def view(request: HttpRequest) -> StreamingHttpResponse:
        return StreamingHttpResponse(iter([b"a", b"b"]), status=200)

    request = RequestFactory().post("/stream/")
    response = AuditMiddleware(view)(request)
    assert isinstance(response, StreamingHttpResponse)
    assert b"".join(response.streaming_content) == b"ab"  # type: ignore[arg-type]
    assert AuditRecord.objects.get().result == "ok"


def test_static_paths_are_skipped(world: World) -> None:
    request = RequestFactory().post("/static/x.css")
    AuditMiddleware(lambda r: HttpResponse(status=403))(request)
    assert not AuditRecord.objects.exists()


@pytest.mark.parametrize(("status", "result"), [
    (200, "ok"), (201, "ok"), (302, "ok"), (400, "failed"), (401, "denied"), (403, "denied"),
    (404, "denied"), (405, "failed"), (409, "failed"), (429, "denied"), (500, "failed"), (503, "failed"),
])
def test_result_for_status(status: int, result: str) -> None:
    assert result_for(status) == result


def test_url_target_keeps_ints_and_hashes_the_rest() -> None:
    assert url_target({"pk": 5, "attachment_id": "7"}) == ("pk", "5", {"url_attachment_id": "7"})
    kind, ident, _extra = url_target({"tracking_code": "AbC-123_xyz"})
    assert kind == "tracking_code" and ident.startswith("h:") and "AbC" not in ident
    assert url_target({"pk": 1, "action": "accept"})[2] == {"url_action": "accept"}
    assert url_target({"pk": 1, "action": "Token123"})[2]["url_action"] != "Token123"
