"""Objects every page of the settings app needs: one of each thing it configures, and a
pending call-back in each of the two towns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import Client
from django.utils import timezone

from sizhi.cases import services
from sizhi.cases.models import CallBack, Case, TimeLimit
from sizhi.cases.tests.test_services_transitions import advance, reported
from sizhi.cases.workflow import CaseStatus
from sizhi.conftest import World, inside
from sizhi.notify.models import WebhookEndpoint
from sizhi.regions.models import RegionLevel
from sizhi.units.models import ResponsibilityRule
from sizhi.units.services import rule_save
from sizhi.workdays.calendar import forget_overrides

ROLES = ["system_admin", "security_admin", "audit_admin", "city_dispatcher", "town_dispatcher", "leader", "citizen"]


@dataclass
class Things:
    rule: ResponsibilityRule
    default_limit: TimeLimit
    webhook: WebhookEndpoint
    callback_a: CallBack
    callback_b: CallBack


def closed_case_in_town_b(world: World) -> Case:
    """A closed case of 唐宫路社区 (town B): set up directly, the ordinary path belongs to town A's staff."""
    lat, lng = inside(world.grid_b1)
    case = services.report_submit(
        reporter=world.user("citizen2"), description="唐宫路路灯不亮已经一周", lat=lat, lng=lng,
    )
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.CLOSED, closed_at=timezone.now())
    case.refresh_from_db()
    return case


@pytest.fixture(autouse=True)
def _fresh_calendar_cache() -> Iterator[None]:
    # The overrides cache lives in the process; rows of earlier tests were rolled back.
    forget_overrides()
    yield
    forget_overrides()


@pytest.fixture
def things(world: World, settings) -> Things:
    settings.SIZHI_CALLBACK_PERCENT = 100
    case_a = advance(world, reported(world), CaseStatus.CLOSED)
    case_b = closed_case_in_town_b(world)
    return Things(
        rule=rule_save(category=world.category, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局"),
        default_limit=TimeLimit.objects.get(category__isnull=True, priority="normal"),
        webhook=WebhookEndpoint.objects.create(name="12345 热线", url="https://hotline.example.cn/hook", secret="s"),
        callback_a=CallBack.objects.get(case=case_a),
        callback_b=CallBack.objects.create(case=case_b),
    )


def login(client: Client, world: World, name: str) -> Client:
    client.force_login(world.user(name))
    return client


@pytest.fixture
def admin(client: Client, world: World) -> Client:
    return login(client, world, "system_admin")
