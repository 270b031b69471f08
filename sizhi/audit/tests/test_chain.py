from __future__ import annotations

import itertools
import threading

import pytest
from django.db import connection, connections, transaction

from sizhi.audit.chain import AuditChainError, verify_chain
from sizhi.audit.guard import SensitiveDetailError, clean_detail, looks_sensitive
from sizhi.audit.models import GENESIS_HASH, AuditHead, AuditRecord
from sizhi.audit.services import audit
from sizhi.conftest import World

pytestmark = pytest.mark.django_db


def _raw(sql: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # What an attacker with database access would do first. (The pending deferred
            # foreign-key checks of this test's transaction must run before ALTER TABLE.)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditrecord DISABLE TRIGGER audit_record_append_only")
        cursor.execute(sql, params or [])
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditrecord ENABLE TRIGGER audit_record_append_only")


def _fill(n: int = 5) -> None:
    for i in range(n):
        audit("test.write", target_type="cases.case", target_id=str(i), detail={"n": i})


def test_records_link_up_and_verify() -> None:
    _fill(5)
    rows = list(AuditRecord.objects.order_by("seq"))
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
        assert after.at >= before.at
    head = AuditHead.objects.get()
    assert (head.last_seq, head.last_hash) == (5, rows[-1].hash)
    report = verify_chain()
    assert report.ok and report.records == 5 and report.problems == []


def test_empty_chain_verifies() -> None:
    report = verify_chain()
    assert report.ok and report.records == 0


def test_actor_snapshot(world: World) -> None:
    user = world.user("town_dispatcher")
    audit("case.test", actor=user, target=world.town_a_centre)
    record = AuditRecord.objects.get()
    assert record.actor == user and record.actor_pk == user.pk
    assert record.actor_username == "town_dispatcher" and record.actor_roles == "town_dispatcher"
    assert record.target_type == "units.handlingunit" and record.target_id == str(world.town_a_centre.pk)
    assert record.source_address is None and record.result == "ok"


def test_edited_record_is_detected() -> None:
    _fill(5)
    _raw("UPDATE audit_auditrecord SET result = 'denied' WHERE seq = 3")
    report = verify_chain()
    assert not report.ok
    assert report.problems == ["记录 3：内容被篡改（哈希不符）"]


def test_edited_detail_is_detected() -> None:
    _fill(3)
    _raw("UPDATE audit_auditrecord SET detail = %s WHERE seq = 2", ['{"n": 7}'])
    report = verify_chain()
    assert any("记录 2：内容被篡改" in p for p in report.problems)


def test_deleted_record_is_detected() -> None:
    _fill(5)
    _raw("DELETE FROM audit_auditrecord WHERE seq = 2")
    report = verify_chain()
    assert not report.ok
    assert any("缺少记录 2：" in p for p in report.problems)
    assert any("记录 3：链接断开" in p for p in report.problems)


def test_deleted_tail_is_detected() -> None:
    _fill(5)
    _raw("DELETE FROM audit_auditrecord WHERE seq = 5")
    report = verify_chain()
    assert not report.ok
    assert report.problems == ["尾部缺失：链头记载最后一条为 5，链止于 4"]


def test_rewritten_hash_still_breaks_the_next_link() -> None:
    # An attacker who edits a record and recomputes its hash breaks the link of the next one.
    _fill(4)
    from sizhi.audit.chain import HASHED_FIELDS, record_hash

    row = AuditRecord.objects.filter(seq=2).values(*HASHED_FIELDS).get()
    row["result"] = "failed"
    _raw("UPDATE audit_auditrecord SET result = 'failed', hash = %s WHERE seq = 2", [record_hash(row)])
    report = verify_chain()
    assert report.problems == ["记录 3：链接断开（前一条哈希与上一条记录不符）"]


def test_inserted_record_is_detected() -> None:
    _fill(3)
    last = AuditRecord.objects.get(seq=3)
    AuditRecord.objects.create(
        seq=4, at=last.at, action="test.forged", result="ok", prev_hash=last.hash, hash="f" * 64
    )
    report = verify_chain()
    assert any("记录 4：内容被篡改" in p for p in report.problems)
    assert any("链头之后还有记录" in p for p in report.problems)


def test_missing_head_with_records_refuses_to_start_a_new_chain() -> None:
    _fill(2)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_audithead DISABLE TRIGGER audit_head_keep")
        cursor.execute("DELETE FROM audit_audithead")
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_audithead ENABLE TRIGGER audit_head_keep")
    # A failed append fails the transaction it joined (here the test's own savepoint).
    with pytest.raises(AuditChainError), transaction.atomic():
        audit("test.write")
    assert verify_chain().problems == ["链头缺失"]


def test_rolled_back_write_leaves_no_record() -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        audit("test.write")
        raise Boom
    assert not AuditRecord.objects.exists()
    audit("test.write")
    assert AuditRecord.objects.get().seq == 1
    assert verify_chain().ok


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_database_refuses_update_and_delete() -> None:
    from django.db import DatabaseError

    _fill(2)
    for sql in ("UPDATE audit_auditrecord SET result = 'denied'", "DELETE FROM audit_auditrecord",
                "DELETE FROM audit_audithead"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert verify_chain().ok


def test_deleting_an_account_keeps_the_chain_valid(world: World) -> None:
    user = world.user("grid_worker")
    audit("test.write", actor=user)
    user.delete()
    record = AuditRecord.objects.get()
    assert record.actor is None and record.actor_pk is not None and record.actor_username == "grid_worker"
    assert verify_chain().ok


def test_reassigned_actor_is_detected(world: World) -> None:
    audit("test.write", actor=world.user("grid_worker"))
    _raw("UPDATE audit_auditrecord SET actor_id = %s", [world.user("leader").pk])
    assert verify_chain().problems == ["记录 1：操作人关联被改动（指向的账号与记录不符）"]


def test_verify_walks_in_batches_with_progress() -> None:
    _fill(7)
    seen: list[int] = []
    report = verify_chain(seen.append, batch=3)
    assert seen == [3, 3, 1] and report.ok and report.records == 7


@pytest.mark.parametrize("value", [
    "13800138000", "+86 138 0013 8000", "138-0013-8000", "１３８００１３８０００", "电话13800138000",
    "410302199001011234", "41030219900101123x", "410302900101123", 13800138000, "4103\u200b02199001011234",
])
def test_guard_refuses_phone_and_id_numbers(value: object) -> None:
    with pytest.raises(SensitiveDetailError):
        audit("test.write", detail={"value": value})  # type: ignore[dict-item]
    assert not AuditRecord.objects.exists()


@pytest.mark.parametrize("value", [1.5, ["a"], {"a": 1}, "x" * 201, "a\x00b"])
def test_guard_refuses_non_scalars(value: object) -> None:
    with pytest.raises(SensitiveDetailError):
        clean_detail({"value": value})


def test_guard_allows_ids_and_codes() -> None:
    detail = {"case": 12345, "number": "LY2026112700000123", "status": "closed", "flag": True, "none": None}
    assert clean_detail(detail) == detail
    assert not looks_sensitive("roads-damage")


def test_guard_drops_in_production(settings: object) -> None:
    settings.SIZHI_AUDIT_STRICT = False  # type: ignore[attr-defined]
    audit("test.write", detail={"phone": "13800138000", "case": 7})
    assert AuditRecord.objects.get().detail == {"case": 7, "dropped": 1}


def test_bad_action_and_result_are_refused() -> None:
    with pytest.raises(ValueError):
        audit("Bad Action")
    with pytest.raises(ValueError):
        audit("test.write", result="maybe")


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_appends_make_one_gap_free_chain() -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(200):
                audit("test.concurrent", target_id=f"{n}-{i}")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seqs = list(AuditRecord.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 401))
    report = verify_chain()
    assert report.ok and report.records == 400


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_verify_while_appending_reports_no_false_problem() -> None:
    _fill(50)
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            while not done.is_set():
                audit("test.concurrent")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        reports = [verify_chain(batch=7) for _ in range(5)]
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert all(r.ok for r in reports), [r.problems for r in reports]
    assert verify_chain().ok
