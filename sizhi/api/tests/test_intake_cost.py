"""What one report through the API costs the database: a regression guard on the statement
count of the hot path (bench/intake.py measures the time; this only counts)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sizhi.api.services import api_token_create
from sizhi.conftest import World, inside

pytestmark = pytest.mark.django_db


def _post(client: Client, world: World, token: str) -> CaptureQueriesContext:
    lat, lng = inside(world.grid_a1)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/api/v1/reports",
            {"title": "井盖缺失", "description": "金业路路口井盖缺失，夜间很危险", "lat": lat, "lng": lng},
            HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
    assert response.status_code == 201, response.content
    return queries


def test_a_signed_in_report_costs_few_statements(world: World) -> None:
    _token, secret = api_token_create(user=world.user("citizen"), name="app")
    client = Client()
    _post(client, world, secret)  # the first request fills the per-process caches
    queries = _post(client, world, secret)
    statements = [q["sql"].split(" ", 1)[0] for q in queries.captured_queries]
    # Token; idempotency record; the grid; the dispatchers (read once for the level and the
    # notice); the earlier report; the case, its roll-up, its number, its event, the notice, the
    # idempotency record; three for the audit chain; the SAVEPOINT and RELEASE lines of the
    # request's transaction (BEGIN and COMMIT outside a test) and of the service's.
    assert len(statements) <= 18, statements
    assert statements.count("UPDATE") <= 2, statements  # the number and the audit chain head
    # A citizen's memberships are never read: a citizen holds no working role.
    own = f'"accounts_membership"."user_id" = {world.user("citizen").pk})'
    assert not [q for q in queries.captured_queries if own in q["sql"]]
