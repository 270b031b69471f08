from sizhi.cases import services
from sizhi.cases.permissions import available_actions
from sizhi.cases.tests.test_services_transitions import advance, reported
from sizhi.cases.workflow import CaseAction, CaseStatus, Satisfaction
from sizhi.conftest import World


def test_reporter_may_rate_once_then_reopen_only_after_unsatisfied(world: World) -> None:
    case = advance(world, reported(world), CaseStatus.CLOSED)
    citizen = world.user("citizen")
    assert available_actions(citizen, case) == [CaseAction.RATE]
    services.case_rate(case=case, actor=citizen, satisfaction=Satisfaction.UNSATISFIED, comment="没修好")
    assert available_actions(citizen, case) == [CaseAction.REOPEN]
    assert available_actions(world.user("citizen2"), case) == []


def test_staff_see_what_their_role_may_do_now(world: World) -> None:
    case = reported(world)
    assert set(available_actions(world.user("town_dispatcher"), case)) >= {CaseAction.ACCEPT, CaseAction.REJECT}
    assert available_actions(world.user("leader"), case) == []
    assert available_actions(world.user("system_admin"), case) == []
