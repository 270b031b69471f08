"""The case matrix (sizhi/authz/matrix.py) over every channel that shows a case: for each role,
exactly the cases of its row show up, and every other case is a 404 where the channel is open to
the role. Where the console is closed to the role it answers as the row's `console` says (404 and
an audit record for the administrators, 403 for citizens, the login form for visitors), on every
page of CONSOLE_PAGES too."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django.http import HttpResponseBase
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from sizhi.audit.models import AuditRecord
from sizhi.authz.matrix import (
    ADMIN_ROLES,
    CASES,
    CONSOLE_PAGES,
    FORBIDDEN,
    HIDDEN,
    LOGIN,
    MATRIX,
    OPEN,
    OPEN311_PUBLIC,
    Row,
)
from sizhi.authz.tests.conftest import MatrixWorld

CLOSED = {302, 401, 403}
REFUSALS = {HIDDEN: 404, FORBIDDEN: 403, LOGIN: 302}


def _body(response: HttpResponseBase) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
    return bytes(content).decode("utf-8", "replace")


def _console_open(row: Row) -> bool:
    return row.console == OPEN


def _refusal(row: Row, *, json: bool = False) -> int:
    """What the console answers a role it is closed to (the pages' JSON does not redirect)."""
    return 401 if json and row.console == LOGIN else REFUSALS[row.console]


def _shown_links(mw: MatrixWorld, body: str) -> set[str]:
    return {key for key, case in mw.cases.items() if reverse("cases:detail", args=[case.pk]) + '"' in body}


def _shown_ids(mw: MatrixWorld, items: list[dict[str, object]]) -> set[str]:
    ids = {item["id"] for item in items}
    return {key for key, case in mw.cases.items() if case.pk in ids}


# --- channels ------------------------------------------------------------------------------------
# Each checks one role against every case and returns nothing: assertions inside.


def console_detail(mw: MatrixWorld, row: Row, client: Client) -> None:
    for key, case in mw.cases.items():
        response = client.get(reverse("cases:detail", args=[case.pk]))
        if key in row.sees and _console_open(row):
            assert response.status_code == 200, key
            assert case.number in _body(response)
        else:
            assert response.status_code == (404 if _console_open(row) else _refusal(row)), key
            assert case.number not in _body(response)


def console_list(mw: MatrixWorld, row: Row, client: Client) -> None:
    response = client.get(reverse("cases:list"))
    if not _console_open(row):
        assert response.status_code == _refusal(row)
        return
    assert response.status_code == 200
    assert _shown_links(mw, _body(response)) == {k for k in row.sees if _console_open(row)}


def console_search(mw: MatrixWorld, row: Row, client: Client) -> None:
    for key, case in mw.cases.items():
        response = client.get(reverse("cases:list"), {"q": case.number})
        if not _console_open(row):
            assert response.status_code == _refusal(row)
            continue
        assert response.status_code == 200
        assert _shown_links(mw, _body(response)) == ({key} if key in row.sees else set()), key


def dashboard_counts(mw: MatrixWorld, row: Row, client: Client) -> None:
    response = client.get(reverse("insight:data"))
    if not _console_open(row):
        assert response.status_code == _refusal(row, json=True)
        return
    assert response.status_code == 200
    kpis = {figure["key"]: figure["value"] for figure in response.json()["kpis"]}
    # Every matrix case is open and was reported today.
    assert kpis["open"] == len(row.sees)
    assert kpis["today_new"] == len(row.sees)


def dashboard_drill_list(mw: MatrixWorld, row: Row, client: Client) -> None:
    response = client.get(reverse("insight:cases"))
    if not _console_open(row):
        assert response.status_code == _refusal(row)
        return
    assert response.status_code == 200
    assert _shown_links(mw, _body(response)) == set(row.sees)


def console_queue(mw: MatrixWorld, row: Row, client: Client) -> None:
    """What waits for the role's action: a part of what it sees, never more."""
    response = client.get(reverse("cases:queue"))
    if not _console_open(row):
        assert response.status_code == _refusal(row)
        return
    assert response.status_code == 200
    queued = _shown_links(mw, _body(response))
    assert queued <= row.sees
    if row.role in {"town_dispatcher", "town_dispatcher_b"}:
        assert queued  # the town's intake (reported cases at town level) is there


def map_points(mw: MatrixWorld, row: Row, client: Client) -> None:
    """The case map's points over the whole test area (and the other city)."""
    response = client.get(reverse("insight:map_points"), {"bbox": "112.3,34.5,112.6,34.8"})
    if not _console_open(row):
        assert response.status_code == _refusal(row, json=True)
        return
    assert response.status_code == 200
    data = response.json()
    ids = {point["id"] for point in data["points"]}
    located = {k for k in row.sees if mw.cases[k].lat is not None}
    assert {k for k, c in mw.cases.items() if c.pk in ids} == located
    assert data["total"] == len(located)


def circular_export(mw: MatrixWorld, row: Row, client: Client) -> None:
    response = client.get(reverse("command:circular_xlsx"))
    if not _console_open(row):
        assert response.status_code == _refusal(row)
        return
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)  # type: ignore[attr-defined]
                                    if response.streaming else response.content), read_only=True)
    texts = {str(v) for ws in book.worksheets for r in ws.iter_rows(values_only=True) for v in r if v is not None}
    listed = {key for key, case in mw.cases.items() if case.number in texts}
    # Never a case outside the row, even when the unit it was red-carded at is in scope (b_dept
    # for the 老城区 district dispatcher).
    assert listed <= row.sees
    if row.role in {"town_dispatcher", "district_dispatcher", "city_dispatcher", "leader"}:
        assert "a1" in listed


def console_photo(mw: MatrixWorld, row: Row, client: Client) -> None:
    for key, case in mw.cases.items():
        response = client.get(reverse("cases:photo", args=[case.pk, mw.photos[key].pk]))
        if key in row.sees and _console_open(row):
            assert response.status_code == 200, key
            assert response["Content-Type"] == "image/jpeg"
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
        elif _console_open(row):
            assert response.status_code == 404, key
        else:
            assert response.status_code == _refusal(row), key


def _api_status_for_hidden(row: Row) -> set[int]:
    if row.role == "anonymous":
        return {401}
    if row.role in ADMIN_ROLES:
        return {403}  # told they see no case content, for every id alike
    return {404}


def api_detail(mw: MatrixWorld, row: Row, client: Client) -> None:
    for key, case in mw.cases.items():
        response = client.get(f"/api/v1/cases/{case.pk}")
        if key in row.sees:
            assert response.status_code == 200, key
            assert response.json()["number"] == case.number
        else:
            assert response.status_code in _api_status_for_hidden(row), key
            assert case.number not in _body(response)


def api_list_and_search(mw: MatrixWorld, row: Row, client: Client) -> None:
    response = client.get("/api/v1/cases", {"page_size": 100})
    if not _console_open(row):
        assert response.status_code in CLOSED
    else:
        assert response.status_code == 200
        assert _shown_ids(mw, response.json()["results"]) == set(row.sees)
        for key, case in mw.cases.items():
            found = client.get("/api/v1/cases", {"q": case.number}).json()["results"]
            assert _shown_ids(mw, found) == ({key} if key in row.sees else set()), key
    mine = client.get("/api/v1/me/cases")
    if row.role == "anonymous":
        assert mine.status_code == 401
    elif row.role in ADMIN_ROLES:
        assert mine.status_code == 403
    else:
        # Only what the user reported, whatever their scope.
        expected = {"a1"} if row.role == "citizen" else set()
        assert _shown_ids(mw, mine.json()["results"]) == expected


def api_photo(mw: MatrixWorld, row: Row, client: Client) -> None:
    for key, case in mw.cases.items():
        response = client.get(f"/api/v1/cases/{case.pk}/photos/{mw.photos[key].pk}")
        if key in row.sees:
            assert response.status_code == 200, key
            assert response["Content-Type"] == "image/jpeg"
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
        else:
            assert response.status_code in _api_status_for_hidden(row), key


def _unchanged(mw: MatrixWorld, key: str) -> None:
    before = mw.cases[key]
    after = type(before).objects.get(pk=before.pk)
    assert (after.status, after.version, after.assigned_unit_id) == (before.status, before.version,
                                                                      before.assigned_unit_id), key


def console_act(mw: MatrixWorld, row: Row, client: Client) -> None:
    """Editing by changing the id (abuse case 1): an action on a case outside the row is a 404
    and changes nothing. (What a role may do to the cases it sees is the workflow's business.)"""
    for key, case in mw.cases.items():
        if key in row.sees:
            continue
        response = client.post(reverse("cases:act", args=[case.pk, "accept"]), {"reason": "越权受理"})
        assert response.status_code == (404 if _console_open(row) else _refusal(row)), key
        _unchanged(mw, key)


def api_act(mw: MatrixWorld, row: Row, client: Client) -> None:
    for key, case in mw.cases.items():
        if key in row.sees:
            continue
        response = client.post(f"/api/v1/cases/{case.pk}/accept", {}, content_type="application/json")
        assert response.status_code in _api_status_for_hidden(row) | ({403} if row.role == "anonymous" else set()), key
        _unchanged(mw, key)


def console_pages(mw: MatrixWorld, row: Row, client: Client) -> None:
    """Every staff-only page and data URL answers the role as its row's `console` says, before it
    looks at any object; an administrator's refusal is a 404 that the audit log records."""
    user = mw.user(row.role)
    for page in CONSOLE_PAGES:
        url = reverse(page.name, kwargs=dict(page.kwargs))
        response = client.post(url) if page.method == "post" else client.get(url, dict(page.query))
        label = f"{page.method.upper()} {page.name}"
        if _console_open(row):
            if page.staff_status is not None:
                assert response.status_code == page.staff_status, label
            continue
        assert response.status_code == _refusal(row, json=page.json), label
        if row.console == LOGIN and not page.json:
            assert response["Location"].startswith(reverse("accounts:login")), label
        if row.console == HIDDEN:
            assert user is not None
            record = AuditRecord.objects.order_by("-seq").first()
            assert record is not None, label
            assert (record.actor_pk, record.result, record.detail.get("status")) == (user.pk, "denied", 404), label
            assert record.detail.get("route") == page.name, label


CHANNELS: dict[str, Callable[[MatrixWorld, Row, Client], None]] = {
    "console_detail": console_detail,
    "console_list": console_list,
    "console_search": console_search,
    "dashboard_counts": dashboard_counts,
    "dashboard_drill_list": dashboard_drill_list,
    "console_queue": console_queue,
    "map_points": map_points,
    "circular_export": circular_export,
    "console_photo": console_photo,
    "api_detail": api_detail,
    "api_list_and_search": api_list_and_search,
    "api_photo": api_photo,
    "console_act": console_act,
    "api_act": api_act,
    "console_pages": console_pages,
}


@pytest.mark.parametrize("channel", list(CHANNELS))
@pytest.mark.parametrize("row", MATRIX, ids=[r.role for r in MATRIX])
def test_matrix(mw: MatrixWorld, row: Row, channel: str) -> None:
    CHANNELS[channel](mw, row, mw.client(row.role))


def test_every_case_of_the_matrix_is_denied_to_someone_and_allowed_to_someone() -> None:
    # A matrix in which a case is visible to all or to nobody tests no scope rule.
    for key in CASES:
        seers = {r.role for r in MATRIX if key in r.sees}
        assert seers and len(seers) < len(MATRIX), key


@pytest.mark.parametrize("role", ["anonymous", "citizen2", "grid_worker"])
def test_open311_is_the_public_read_and_shows_no_reporter(mw: MatrixWorld, role: str) -> None:
    client = mw.client(role)
    for key in OPEN311_PUBLIC:
        case = mw.cases[key]
        response = client.get(f"/open311/v2/requests/{case.number}.json")
        assert response.status_code == 200, key
        body = _body(response)
        for private in ("13800000001", "张三", "citizen", case.tracking_code):
            assert private not in body


def test_a_tracking_code_shows_its_own_case_and_photo_only(mw: MatrixWorld) -> None:
    client = Client()
    a1, b1 = mw.cases["a1"], mw.cases["b1"]
    assert client.get(reverse("web:case_track", args=[a1.tracking_code])).status_code == 200
    own = client.get(reverse("web:case_photo", args=[a1.tracking_code, mw.photos["a1"].pk]))
    assert own.status_code == 200
    assert own["X-Content-Type-Options"] == "nosniff"
    assert own["Content-Security-Policy"] == "default-src 'none'; sandbox"
    # Another case's photo id under a valid code: 404, the code opens its own case only.
    assert client.get(reverse("web:case_photo", args=[a1.tracking_code, mw.photos["b1"].pk])).status_code == 404
    assert client.get(reverse("web:case_photo", args=[b1.tracking_code, mw.photos["a1"].pk])).status_code == 404


@pytest.mark.parametrize("channel", ["console", "api", "console_act"])
def test_a_refusal_by_changed_id_leaves_an_audit_record(mw: MatrixWorld, channel: str) -> None:
    """Abuse case 1 ends in a clean 404, an audit record (who, which object, denied) and nothing changed."""
    worker = mw.world.user("grid_worker")
    client = mw.client("grid_worker")
    target = mw.cases["b1"]
    url = {
        "console": reverse("cases:detail", args=[target.pk]),
        "api": f"/api/v1/cases/{target.pk}",
        "console_act": reverse("cases:act", args=[target.pk, "accept"]),
    }[channel]
    response = client.post(url, {"reason": "越权"}) if channel == "console_act" else client.get(url)
    assert response.status_code == 404
    record = AuditRecord.objects.order_by("-seq").first()
    assert record is not None
    assert (record.actor_pk, record.result) == (worker.pk, "denied")
    assert record.target_id == str(target.pk) or str(target.pk) in str(record.detail)
    _unchanged(mw, "b1")
