"""The resident pages and the case reporter unmask page over HTTP."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.audit.models import AuditRecord
from sizhi.cases import services as case_services
from sizhi.cases.models import Case
from sizhi.cases.workflow import Channel
from sizhi.conftest import World, inside
from sizhi.privacy import services
from sizhi.privacy.models import UnmaskRecord
from sizhi.privacy.tests.helpers import FULL_WIDTH, make_id
from sizhi.regions.models import Household, Resident

ID_A = make_id("410302", datetime.date(1982, 7, 19), "318")
PHONE = "15912345678"
WRONG_CHECK = ID_A[:17] + ("1" if ID_A[17] != "1" else "2")
SEARCH = reverse("privacy:search")


@pytest.fixture
def resident(world: World) -> Resident:
    home = Household.objects.create(grid=world.grid_a1, door="金业路 2 号")
    return services.resident_register(
        actor=world.user("grid_worker"), household=home, name="周桂英", id_number=ID_A, phone=PHONE
    )


def as_user(world: World, name: str) -> Client:
    client = Client()
    client.force_login(world.user(name))
    return client


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def test_search_page_shows_masked_results(world: World, resident: Resident) -> None:
    client = as_user(world, "town_dispatcher")
    assert client.get(SEARCH).status_code == 200
    response = client.post(SEARCH, {"q": ID_A.translate(FULL_WIDTH)})
    assert response.status_code == 200
    body = text(response)
    assert 'data-kind="id_number"' in body and 'data-count="1"' in body
    assert "4103**********" + ID_A[-4:] in body and "159****5678" in body
    assert ID_A not in body and PHONE not in body and ID_A.translate(FULL_WIDTH) not in body
    assert "no-store" in response["Cache-Control"]


def test_search_error_does_not_echo_the_number(world: World, resident: Resident) -> None:
    response = as_user(world, "town_dispatcher").post(SEARCH, {"q": ID_A[:17]})
    assert response.status_code == 400
    assert "18 位" in text(response) and ID_A[:17] not in text(response)


def test_search_by_get_parameter_is_ignored(world: World, resident: Resident) -> None:
    """Numbers never travel in the URL: a GET with ?q= searches nothing."""
    response = as_user(world, "town_dispatcher").get(SEARCH, {"q": ID_A})
    assert "resident-results" not in text(response)


def test_detail_is_masked_and_scoped(world: World, resident: Resident) -> None:
    url = reverse("privacy:detail", args=[resident.pk])
    body = text(as_user(world, "grid_worker").get(url))
    assert "4103**********" in body and ID_A not in body and PHONE not in body
    assert as_user(world, "town_dispatcher_b").get(url).status_code == 404
    assert as_user(world, "grid_worker_b").get(url).status_code == 404
    for admin in ("system_admin", "security_admin", "audit_admin"):
        assert as_user(world, admin).get(url).status_code == 404, admin
    for other in ("leader", "department_handler", "citizen"):
        assert as_user(world, other).get(url).status_code == 403, other
    assert Client().get(url).status_code == 302


def test_unmask_page_shows_the_value_once_and_audits(world: World, resident: Resident) -> None:
    client = as_user(world, "village_cadre")
    url = reverse("privacy:unmask", args=[resident.pk])
    refused = client.post(url, {"field": "id_number", "purpose": "verify_identity", "reason": "短"})
    assert refused.status_code == 400 and ID_A not in text(refused)
    assert "至少" in text(refused)
    shown = client.post(url, {"field": "id_number", "purpose": "verify_identity", "reason": "办理居住证明核验身份"})
    assert shown.status_code == 200
    assert ID_A in text(shown)
    assert "no-store" in shown["Cache-Control"]
    assert UnmaskRecord.objects.get().purpose == "verify_identity"
    assert AuditRecord.objects.filter(action="privacy.unmask", result="ok", target_id=str(resident.pk)).count() == 1
    # the detail page lists the access, without the value
    detail = text(client.get(reverse("privacy:detail", args=[resident.pk])))
    assert "核验身份" in detail and ID_A not in detail


def test_unmask_out_of_scope_or_by_an_admin_is_404(world: World, resident: Resident) -> None:
    url = reverse("privacy:unmask", args=[resident.pk])
    data = {"field": "phone", "purpose": "contact", "reason": "联系核实房屋出租情况"}
    assert as_user(world, "town_dispatcher_b").post(url, data).status_code == 404
    assert as_user(world, "system_admin").post(url, data).status_code == 404
    assert as_user(world, "grid_worker").get(url).status_code == 405
    assert not UnmaskRecord.objects.exists()


def test_register_page(world: World) -> None:
    home = Household.objects.create(grid=world.grid_a1, door="金业路 5 号")
    other = Household.objects.create(grid=world.grid_b1, door="唐宫路 8 号")
    client = as_user(world, "grid_worker")
    page = text(client.get(reverse("privacy:new")))
    assert "金业路 5 号" in page and "唐宫路 8 号" not in page
    bad = client.post(reverse("privacy:new"), {"household": home.pk, "name": "钱七", "id_number": WRONG_CHECK})
    assert bad.status_code == 200 and "校验位" in text(bad) and ID_A[:17] not in text(bad)
    foreign = client.post(reverse("privacy:new"), {"household": other.pk, "name": "钱七"})
    assert "请选择所在户" in text(foreign)
    made = client.post(
        reverse("privacy:new"),
        {"household": home.pk, "name": "钱七", "id_number": ID_A.lower(), "phone": "+86 159 1234 5678"},
    )
    assert made.status_code == 302
    assert Resident.objects.get().id_number == ID_A


# --- the case reporter ------------------------------------------------------------------------


@pytest.fixture
def case(world: World) -> Case:
    lat, lng = inside(world.grid_a1)
    return case_services.report_submit(
        description="路灯坏了好几天，晚上很黑", lat=lat, lng=lng, channel=Channel.APP, category=world.category,
        reporter=world.user("citizen"),
    )


def test_case_page_links_to_the_unmask_page_for_those_who_may(world: World, case: Case) -> None:
    detail = reverse("cases:detail", args=[case.pk])
    page = text(as_user(world, "town_dispatcher").get(detail))
    assert "138****0001" in page and "13800000001" not in page
    assert 'data-testid="reporter-unmask-link"' in page
    assert 'data-testid="reporter-unmask-link"' not in text(as_user(world, "leader").get(detail))


def test_case_reporter_unmask(world: World, case: Case) -> None:
    url = reverse("privacy:case_reporter", args=[case.pk])
    client = as_user(world, "town_dispatcher")
    form = client.get(url)
    assert form.status_code == 200 and "13800000001" not in text(form)
    assert client.post(url, {"field": "phone", "purpose": "contact", "reason": ""}).status_code == 400
    shown = client.post(url, {"field": "phone", "purpose": "contact", "reason": "回访核实路灯是否修复"})
    assert "13800000001" in text(shown)
    record = AuditRecord.objects.get(action="privacy.unmask", result="ok")
    assert record.target_type == "cases.case" and record.detail["field"] == "phone"


@pytest.mark.parametrize(("who", "status"), [("town_dispatcher_b", 404), ("leader", 403), ("system_admin", 404)])
def test_case_reporter_unmask_denied(world: World, case: Case, who: str, status: int) -> None:
    url = reverse("privacy:case_reporter", args=[case.pk])
    response = as_user(world, who).post(url, {"field": "phone", "purpose": "contact", "reason": "回访核实路灯是否修复"})
    assert response.status_code == status
    assert "13800000001" not in text(response)
    assert not UnmaskRecord.objects.exists()


def test_anonymous_report_has_no_phone_to_unmask(world: World) -> None:
    lat, lng = inside(world.grid_a1)
    case = case_services.report_submit(
        description="小区门口垃圾堆放多日", lat=lat, lng=lng, channel=Channel.APP, category=world.category,
        reporter=world.user("citizen"), is_anonymous=True,
    )
    url = reverse("privacy:case_reporter", args=[case.pk])
    response = as_user(world, "town_dispatcher").post(url, {"purpose": "contact", "reason": "回访核实处理结果"})
    assert response.status_code == 403


def test_console_navigation_links_the_register_for_those_who_keep_it(world: World) -> None:
    page = text(as_user(world, "grid_worker").get(SEARCH))
    assert 'data-testid="nav-residents"' in page and 'aria-current="page"' in page
    assert 'data-testid="nav-residents"' in text(as_user(world, "town_dispatcher").get(reverse("cases:list")))
    assert 'data-testid="nav-residents"' not in text(as_user(world, "department_handler").get(reverse("cases:list")))


def test_unmasking_is_limited_per_hour(world: World, resident: Resident) -> None:
    from django.core.cache import cache

    from sizhi.privacy.services import UNMASKS_PER_USER

    cache.clear()
    client = as_user(world, "grid_worker")
    url = reverse("privacy:unmask", args=[resident.pk])
    data = {"field": "phone", "purpose": "contact", "reason": "联系核实房屋出租情况"}
    for _ in range(UNMASKS_PER_USER.count):
        assert client.post(url, data).status_code == 200
    limited = client.post(url, data)
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert "上限" in text(limited) and PHONE not in text(limited)
    assert UnmaskRecord.objects.count() == UNMASKS_PER_USER.count
    assert AuditRecord.objects.filter(action="privacy.unmask", result="denied").exists()
    cache.clear()
