"""Residents: registration with validation, encrypted columns, scoped search, unmasking."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from sizhi.audit.models import AuditRecord
from sizhi.conftest import World
from sizhi.privacy import selectors, services
from sizhi.privacy.idcards import id_number_blind_index
from sizhi.privacy.models import UnmaskRecord
from sizhi.privacy.tests.helpers import FULL_WIDTH, id_ending_in_x, make_id
from sizhi.regions.models import Household, Resident

ID_A = make_id("410302", datetime.date(1968, 11, 2), "215")
ID_X = id_ending_in_x()
PHONE = "13612345678"


@pytest.fixture
def homes(world: World) -> dict[str, Household]:
    return {
        "a1": Household.objects.create(grid=world.grid_a1, door="金业路 1 号"),
        "a1b": Household.objects.create(grid=world.grid_a1b, door="金业路 9 号"),
        "b1": Household.objects.create(grid=world.grid_b1, door="唐宫路 3 号"),
    }


@pytest.fixture
def resident(world: World, homes: dict[str, Household]) -> Resident:
    return services.resident_register(
        actor=world.user("grid_worker"), household=homes["a1"], name="王秀兰", id_number=ID_A, phone=PHONE,
        relation="户主",
    )


def raw_row(resident: Resident) -> tuple[str, str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_number, id_number_index, phone, phone_index FROM regions_resident WHERE id = %s",
            [resident.pk],
        )
        row = cursor.fetchone()
    return row


# --- registration ----------------------------------------------------------------------------


def test_register_normalises_and_stores_only_ciphertext(resident: Resident) -> None:
    resident.refresh_from_db()
    assert resident.id_number == ID_A
    assert resident.phone == PHONE
    assert resident.birth_year == 1968
    raw = raw_row(resident)
    assert raw[0].startswith("v1.") and raw[2].startswith("v1.")
    text = " ".join(raw)
    for secret in (ID_A, PHONE, ID_A[6:14], PHONE[3:]):
        assert secret not in text
    assert raw[1] == id_number_blind_index(ID_A)


@pytest.mark.parametrize(
    ("typed_id", "typed_phone"),
    [
        (ID_X.lower(), "+86 136 1234 5678"),
        (ID_X.translate(FULL_WIDTH), "１３６１２３４５６７８"),
        (f"\u200b{ID_X[:6]} {ID_X[6:]}\ufeff", "136-1234-5678"),
    ],
)
def test_register_accepts_typed_forms(
    world: World, homes: dict[str, Household], typed_id: str, typed_phone: str
) -> None:
    r = services.resident_register(
        actor=world.user("village_cadre"), household=homes["a1"], name="李四", id_number=typed_id, phone=typed_phone
    )
    r.refresh_from_db()
    assert (r.id_number, r.phone) == (ID_X, PHONE)


def test_register_legacy_15_digit_number(world: World, homes: dict[str, Household]) -> None:
    r = services.resident_register(
        actor=world.user("grid_worker"), household=homes["a1"], name="老张", id_number="410302500101123"
    )
    assert r.id_number == make_id("410302", datetime.date(1950, 1, 1), "123")
    assert r.birth_year == 1950


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"name": ""}, {"name"}),
        ({"id_number": ID_A[:17] + ("0" if ID_A[17] != "0" else "1")}, {"id_number"}),
        ({"id_number": "41030219681302215X"}, {"id_number"}),
        ({"phone": "12345678901"}, {"phone"}),
        ({"phone": "+1 415 555 0100", "id_number": "123", "name": "x" * 51}, {"phone", "id_number", "name"}),
    ],
)
def test_register_rejects_with_messages_and_keeps_nothing(
    world: World, homes: dict[str, Household], fields: dict[str, str], errors: set[str]
) -> None:
    data: dict[str, Any] = {"name": "王五", "id_number": "", "phone": "", **fields}
    with pytest.raises(ValidationError) as info:
        services.resident_register(actor=world.user("grid_worker"), household=homes["a1"], **data)
    assert set(info.value.message_dict) == errors
    assert not Resident.objects.exists()
    assert not AuditRecord.objects.filter(action="resident.register").exists()


def test_same_id_number_twice_is_refused_however_typed(
    world: World, homes: dict[str, Household], resident: Resident
) -> None:
    with pytest.raises(ValidationError) as info:
        services.resident_register(
            actor=world.user("town_dispatcher"), household=homes["a1b"], name="王秀兰",
            id_number=ID_A.translate(FULL_WIDTH),
        )
    assert "已登记" in info.value.message_dict["id_number"][0]


def test_register_outside_scope_is_refused(world: World, homes: dict[str, Household]) -> None:
    for who in ("grid_worker", "town_dispatcher", "department_handler", "leader", "system_admin"):
        with pytest.raises(PermissionDenied):
            services.resident_register(actor=world.user(who), household=homes["b1"], name="赵六")
    assert not Resident.objects.exists()


def test_register_and_update_are_audited_without_values(world: World, resident: Resident) -> None:
    services.resident_update(
        actor=world.user("grid_worker"), resident=resident, name="王秀兰", id_number=ID_A, phone="13712345678",
        relation="户主",
    )
    resident.refresh_from_db()
    assert resident.phone == "13712345678"
    records = list(AuditRecord.objects.filter(action__startswith="resident.").order_by("pk"))
    assert [r.action for r in records] == ["resident.register", "resident.update"]
    assert records[1].detail == {"fields": "phone"}
    for record in records:
        assert record.target_id == str(resident.pk)
        assert PHONE not in repr(record.detail) and "13712345678" not in repr(record.detail)


def test_update_can_remove_a_number(world: World, resident: Resident) -> None:
    services.resident_update(actor=world.user("grid_worker"), resident=resident, name="王秀兰", relation="户主")
    resident.refresh_from_db()
    assert resident.id_number is None and resident.phone is None
    assert raw_row(resident) == (None, None, None, None)


# --- search ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [ID_A, ID_A.translate(FULL_WIDTH), f" {ID_A[:6]} {ID_A[6:]} ", "+86 136 1234 5678", "１３６１２３４５６７８"],
)
def test_search_by_id_number_or_phone_in_any_form(world: World, resident: Resident, query: str) -> None:
    found = selectors.resident_search(world.user("town_dispatcher"), query)
    assert [r.pk for r in found.residents] == [resident.pk]


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("grid_worker", True), ("village_cadre", True), ("party_secretary", True), ("town_dispatcher", True),
        ("district_dispatcher", True), ("city_dispatcher", True),
        ("grid_worker_b", False), ("town_dispatcher_b", False), ("department_handler", False), ("leader", False),
        ("system_admin", False), ("security_admin", False), ("audit_admin", False), ("citizen", False),
    ],
)
def test_search_is_scoped(world: World, resident: Resident, who: str, sees: bool) -> None:
    found = selectors.resident_search(world.user(who), ID_A)
    assert bool(found.residents) is sees
    assert (selectors.resident_get_for_user(world.user(who), resident.pk) is not None) is sees


def test_search_with_a_bad_number_says_why(world: World) -> None:
    found = selectors.resident_search(world.user("town_dispatcher"), "41030219681102")
    assert found.residents == [] and "18 位" in found.error


# --- unmasking -------------------------------------------------------------------------------


def test_unmask_needs_purpose_and_reason(world: World, resident: Resident) -> None:
    actor = world.user("grid_worker")
    for purpose, reason, bad in [("", "上门核实低保申请材料", "purpose"), ("visit", "上门核实低保申请材料", "purpose"),
                                  ("verify_identity", "看看", "reason"), ("verify_identity", "  \u200b  ", "reason")]:
        with pytest.raises(ValidationError) as info:
            services.unmask_resident(actor=actor, resident=resident, field="id_number", purpose=purpose, reason=reason)
        assert bad in info.value.message_dict
    assert not UnmaskRecord.objects.exists()
    assert not AuditRecord.objects.filter(action="privacy.unmask").exists()


def test_unmask_returns_the_value_and_is_audited_without_it(world: World, resident: Resident) -> None:
    value = services.unmask_resident(
        actor=world.user("grid_worker"), resident=resident, field="id_number", purpose="verify_identity",
        reason="上门核实低保申请材料",
    )
    assert value == ID_A
    record = AuditRecord.objects.get(action="privacy.unmask")
    row = UnmaskRecord.objects.get()
    assert record.result == "ok" and record.target_id == str(resident.pk)
    assert record.detail == {"field": "id_number", "reason_code": "verify_identity", "record": row.pk}
    assert (row.user, row.field, row.reason) == (world.user("grid_worker"), "id_number", "上门核实低保申请材料")
    assert ID_A not in repr(AuditRecord.objects.values_list()) + repr(UnmaskRecord.objects.values_list())


@pytest.mark.parametrize(
    "who", ["grid_worker_b", "town_dispatcher_b", "department_handler", "leader", "system_admin", "security_admin",
            "audit_admin", "citizen"],
)
def test_unmask_deny_matrix(world: World, resident: Resident, who: str) -> None:
    with pytest.raises(PermissionDenied):
        services.unmask_resident(
            actor=world.user(who), resident=resident, field="phone", purpose="contact", reason="联系核实房屋情况",
        )
    record = AuditRecord.objects.get(action="privacy.unmask")
    assert (record.result, record.detail) == ("denied", {"field": "phone"})
    assert not UnmaskRecord.objects.exists()


def test_admin_role_never_unmasks_even_with_a_scoped_role(world: World, resident: Resident) -> None:
    """An account wrongly carrying an admin role next to a register role still cannot unmask."""
    from sizhi.accounts.models import Membership, Role

    worker = world.user("grid_worker")
    Membership.objects.create(user=worker, role=Role.AUDIT_ADMIN)
    worker = type(worker).objects.get(pk=worker.pk)
    with pytest.raises(PermissionDenied):
        services.unmask_resident(actor=worker, resident=resident, field="phone", purpose="contact",
                                 reason="联系核实房屋情况")


def test_unmask_of_a_missing_value(world: World, homes: dict[str, Household]) -> None:
    r = services.resident_register(actor=world.user("grid_worker"), household=homes["a1"], name="无证人")
    with pytest.raises(ValidationError):
        services.unmask_resident(actor=world.user("grid_worker"), resident=r, field="id_number",
                                 purpose="verify_identity", reason="上门核实低保申请材料")
