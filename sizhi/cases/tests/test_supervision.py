"""督办: who may issue an order to whom, the response, and what the unit's queue shows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from sizhi.cases import services, supervision
from sizhi.cases.errors import CaseError, CasePermissionDenied
from sizhi.cases.models import SupervisionOrder
from sizhi.cases.tests.test_services_transitions import advance, reported
from sizhi.cases.workflow import CaseAction, CaseStatus
from sizhi.conftest import World
from sizhi.notify.models import Notification


def dispatched_case(world: World):
    case = advance(world, reported(world), CaseStatus.REGISTERED)
    services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
    return case


def test_a_higher_level_supervises_the_case_unit_and_the_unit_answers(world: World) -> None:
    case = dispatched_case(world)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    Notification.objects.all().delete()

    order = supervision.supervision_issue(
        actor=world.user("town_dispatcher"), unit=world.village_a1_committee, case=case,
        reason="群众多次反映，请加快处置", respond_by=tomorrow,
    )

    assert order.issuer_level == "town"
    assert case.events.filter(action=CaseAction.SUPERVISE).count() == 1
    told = set(Notification.objects.values_list("recipient__username", "channel"))
    assert ("village_cadre", "inbox") in told
    assert list(supervision.supervision_orders_for_user(world.user("village_cadre"))) == [order]
    assert list(supervision.supervision_orders_for_user(world.user("town_dispatcher_b"))) == []

    with pytest.raises(CasePermissionDenied):
        supervision.supervision_respond(order=order, actor=world.user("department_handler"), response="收到")
    supervision.supervision_respond(order=order, actor=world.user("village_cadre"), response="已安排今日修复")
    order.refresh_from_db()
    assert order.status == "answered" and order.responded_by == world.user("village_cadre")
    assert case.events.filter(action=CaseAction.SUPERVISION_REPLY).get().data["late"] is False
    with pytest.raises(CaseError) as exc:
        supervision.supervision_respond(order=order, actor=world.user("village_cadre"), response="再次")
    assert exc.value.code == "supervision_already_answered"


@pytest.mark.parametrize("issuer", ["town_dispatcher_b", "village_cadre", "department_handler", "system_admin"])
def test_only_a_higher_level_in_scope_may_supervise(world: World, issuer: str) -> None:
    case = dispatched_case(world)
    with pytest.raises(CasePermissionDenied):
        supervision.supervision_issue(
            actor=world.user(issuer), unit=world.village_a1_committee, case=case, reason="督办",
            respond_by=timezone.localdate(),
        )
    assert not SupervisionOrder.objects.exists()


def test_the_same_level_cannot_supervise_its_peer_department(world: World) -> None:
    # The district's own dispatcher is not above the district's department.
    with pytest.raises(CasePermissionDenied):
        supervision.supervision_issue(
            actor=world.user("district_dispatcher"), unit=world.district_a_dept, reason="督办",
            respond_by=timezone.localdate(),
        )
    order = supervision.supervision_issue(
        actor=world.user("leader"), unit=world.district_a_dept, reason="本月超期较多，请说明原因",
        respond_by=timezone.localdate(),
    )
    assert order.case is None and order.issuer_level == "city"


def test_order_must_target_the_case_unit_and_a_future_date(world: World) -> None:
    case = dispatched_case(world)
    with pytest.raises(CaseError) as exc:
        supervision.supervision_issue(actor=world.user("city_dispatcher"), unit=world.district_a_dept, case=case,
                                      reason="督办", respond_by=timezone.localdate())
    assert exc.value.code == "supervision_wrong_unit"
    with pytest.raises(CaseError) as exc:
        supervision.supervision_issue(actor=world.user("city_dispatcher"), unit=world.village_a1_committee,
                                      case=case, reason="督办", respond_by=timezone.localdate() - dt.timedelta(days=1))
    assert exc.value.code == "supervision_date_past"
