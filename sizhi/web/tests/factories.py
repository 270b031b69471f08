"""Cases in a given state for the citizen-page tests, each step taken through cases.services by
the person whose job it is in the test world."""

from __future__ import annotations

import uuid
from typing import Any

from sizhi.accounts.models import User
from sizhi.cases import services
from sizhi.cases.models import Case
from sizhi.cases.workflow import CaseStatus
from sizhi.conftest import World, inside, make_photo

DESCRIPTION = "金业路与中州路路口井盖缺失，夜间很危险"


def report_data(world: World, **overrides: Any) -> dict[str, Any]:
    """A valid POST body for the report form, at a point inside grid A1-1."""
    lat, lng = inside(world.grid_a1)
    data: dict[str, Any] = {
        "description": DESCRIPTION,
        "category": str(world.category.pk),
        "lat": f"{lat:.6f}",
        "lng": f"{lng:.6f}",
        "address": "",
        "idempotency_key": str(uuid.uuid4()),
        # world.category (道路破损塌陷) asks one required question.
        "attr-severity": "moderate",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def reported(world: World, *, reporter: User | None = None, anonymous: bool = False, photos: int = 0) -> Case:
    lat, lng = inside(world.grid_a1)
    return services.report_submit(
        reporter=reporter, description=DESCRIPTION, lat=lat, lng=lng, is_anonymous=anonymous,
        photos=[make_photo() for _ in range(photos)],
    )


def closed(world: World, case: Case) -> Case:
    u = world.user
    services.case_accept(case=case, actor=u("town_dispatcher"), reason="已受理")
    services.case_register(case=case, actor=u("town_dispatcher"), category=world.category)
    services.case_dispatch(case=case, actor=u("town_dispatcher"), unit=world.village_a1_committee)
    services.case_sign_for(case=case, actor=u("village_cadre"))
    services.case_handle(case=case, actor=u("village_cadre"), result="已补装井盖", photos=[make_photo()])
    services.case_verify(case=case, actor=u("grid_worker"), passed=True)
    services.case_close(case=case, actor=u("town_dispatcher"), reason="办结")
    assert case.status == CaseStatus.CLOSED
    return case
