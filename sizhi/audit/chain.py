"""The hash chain: appending under a lock and walking it back to check every link.

Each record's hash is SHA-256 over a canonical serialisation (sorted-key JSON) of every field
but the hash itself, including the previous record's hash; the head row keeps the last sequence
number and hash. Editing a field breaks that record's hash, removing a record leaves a gap in
the sequence and a broken link, and cutting off the tail disagrees with the head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.audit.models import GENESIS_HASH, AuditHead, AuditRecord

HEAD_PK = 1
# The head is read and written on every append: plain SQL, since the ORM's query building would
# cost more than the statements themselves (AuditHead._meta.db_table is "audit_audithead").
_HEAD_SELECT = "SELECT last_seq, last_hash FROM audit_audithead WHERE id = %s"
_HEAD_SELECT_LOCKED = "SELECT last_seq, last_hash FROM audit_audithead WHERE id = %s FOR UPDATE"
_HEAD_UPDATE = "UPDATE audit_audithead SET last_seq = %s, last_hash = %s WHERE id = %s"
# Every field the hash covers, in one place: the append and the check must agree exactly.
HASHED_FIELDS = (
    "seq", "at", "actor_pk", "actor_username", "actor_roles", "action", "target_type", "target_id",
    "result", "source_address", "detail", "prev_hash",
)
BATCH = 2000


class AuditChainError(RuntimeError):
    """The chain cannot be extended safely (its head is missing while records exist)."""


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(values: Mapping[str, Any]) -> bytes:
    data = {name: values[name] for name in HASHED_FIELDS}
    data["at"] = _timestamp(values["at"])
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(values: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(values)).hexdigest()


def _read_head(cursor: Any, sql: str) -> tuple[int, str] | None:
    cursor.execute(sql, [HEAD_PK])
    row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else None


def _locked_head(cursor: Any) -> tuple[int, str]:
    lock = _HEAD_SELECT_LOCKED if connection.features.has_select_for_update else _HEAD_SELECT
    head = _read_head(cursor, lock)
    if head is not None:
        return head
    # No head yet (fresh or flushed database). Starting a new chain is only right when there
    # is nothing to continue; otherwise the head was removed and we refuse to paper over it.
    if AuditRecord.objects.exists():
        raise AuditChainError("audit chain head is missing while records exist; run `sizhi audit verify`")
    try:
        with transaction.atomic():
            AuditHead.objects.create(pk=HEAD_PK, last_seq=0, last_hash=GENESIS_HASH)
    except IntegrityError:
        pass  # another writer created it first; the locked read below waits for it
    head = _read_head(cursor, lock)
    if head is None:
        raise AuditChainError("audit chain head could not be created")
    return head


def append(**values: Any) -> AuditRecord:
    """Append one record. Joins the caller's transaction when one is open, so a rolled-back
    business write takes its audit row with it.

    Serialised by the lock on the head row (SELECT ... FOR UPDATE on PostgreSQL; SQLite's
    IMMEDIATE transactions already admit one writer at a time): one locked read, one INSERT,
    one UPDATE.
    """
    # No savepoint: inside a business transaction a failed append must fail that transaction too,
    # and it saves two round trips.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        last_seq, last_hash = _locked_head(cursor)
        # The time is taken under the lock so that time order follows sequence order.
        record = AuditRecord(seq=last_seq + 1, at=timezone.now(), prev_hash=last_hash, **values)
        record.hash = record_hash({name: getattr(record, name) for name in HASHED_FIELDS})
        record.save(force_insert=True)
        cursor.execute(_HEAD_UPDATE, [record.seq, record.hash, HEAD_PK])
    return record


@dataclass
class ChainReport:
    ok: bool = True
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head_seq: int | None = None
    problems: list[str] = field(default_factory=list)
    # How many problems were found in total; `problems` keeps the first MAX_LISTED.
    problem_count: int = 0

    MAX_LISTED = 200

    def add(self, message: str) -> None:
        self.ok = False
        self.problem_count += 1
        if len(self.problems) < self.MAX_LISTED:
            self.problems.append(message)


def _batches(after: int, batch: int) -> Iterator[list[dict[str, Any]]]:
    # Keyset pages over the primary key: constant memory and no long-lived cursor or transaction
    # (which on SQLite would hold the write lock), so it works for millions of rows on either
    # database while the application keeps appending.
    fields = (*HASHED_FIELDS, "hash", "actor_id")
    while True:
        rows = list(AuditRecord.objects.filter(seq__gt=after).order_by("seq").values(*fields)[:batch])
        if not rows:
            return
        yield rows
        after = rows[-1]["seq"]


class _Walk:
    def __init__(self, report: ChainReport, progress: Callable[[int], None] | None, batch: int) -> None:
        self.report, self.progress, self.batch = report, progress, batch
        self.expected_seq = 1
        self.prev_hash = GENESIS_HASH

    def run(self) -> None:
        """Check every record after the last one seen so far."""
        report = self.report
        for rows in _batches(report.last_seq or 0, self.batch):
            for row in rows:
                self.check(row)
            if self.progress is not None:
                self.progress(len(rows))

    def check(self, row: dict[str, Any]) -> None:
        report = self.report
        seq = row["seq"]
        report.records += 1
        if report.first_seq is None:
            report.first_seq = seq
        if seq > self.expected_seq:
            before = self.expected_seq - 1
            missing = f"{self.expected_seq}" if seq == self.expected_seq + 1 else f"{self.expected_seq}–{seq - 1}"
            report.add(_("缺少记录 %(missing)s：序号从 %(before)s 跳到 %(after)s") % {
                "missing": missing, "before": before, "after": seq})
        elif seq < self.expected_seq:
            report.add(_("记录 %(seq)s：序号异常（插入的记录）") % {"seq": seq})
        if row["prev_hash"] != self.prev_hash:
            report.add(_("记录 %(seq)s：链接断开（前一条哈希与上一条记录不符）") % {"seq": seq})
        if record_hash(row) != row["hash"]:
            report.add(_("记录 %(seq)s：内容被篡改（哈希不符）") % {"seq": seq})
        if row["actor_id"] is not None and row["actor_id"] != row["actor_pk"]:
            report.add(_("记录 %(seq)s：操作人关联被改动（指向的账号与记录不符）") % {"seq": seq})
        # Continue from the stored hash so one edited record is reported once, not for the
        # whole rest of the chain.
        self.prev_hash = row["hash"]
        self.expected_seq = seq + 1
        report.last_seq = seq


CATCH_UP_ROUNDS = 5


def verify_chain(progress: Callable[[int], None] | None = None, *, batch: int = BATCH) -> ChainReport:
    """Walk the whole chain in sequence order and report every inconsistency found.

    The application may keep appending meanwhile: records that arrive during the walk are
    checked too (a few catch-up rounds), and a head that is still ahead at the end only counts
    as a cut-off tail when its last record does not exist.
    """
    report = ChainReport()
    walk = _Walk(report, progress, batch)
    walk.run()
    head = AuditHead.objects.filter(pk=HEAD_PK).first()
    for _round in range(CATCH_UP_ROUNDS):
        if head is None or head.last_seq <= (report.last_seq or 0):
            break
        seen = report.last_seq
        walk.run()
        if report.last_seq == seen:
            break
        head = AuditHead.objects.filter(pk=HEAD_PK).first()

    if head is None:
        if report.records:
            report.add(_("链头缺失"))
        return report
    report.head_seq = head.last_seq
    last_seq = report.last_seq or 0
    if head.last_seq > last_seq:
        # Appends commit the record and the head together: a head ahead of the walk whose last
        # record exists means the chain grew after the walk; one whose record is gone was cut off.
        if not AuditRecord.objects.filter(seq=head.last_seq).exists():
            report.add(_("尾部缺失：链头记载最后一条为 %(head)s，链止于 %(last)s") % {
                "head": head.last_seq, "last": last_seq})
    elif head.last_seq < last_seq:
        report.add(_("链头之后还有记录：链头记载为 %(head)s，链延续到 %(last)s（插入的记录）") % {
            "head": head.last_seq, "last": last_seq})
    elif head.last_hash != walk.prev_hash:
        report.add(_("链头哈希与记录 %(seq)s 不符") % {"seq": last_seq})
    return report


def head() -> tuple[int, str]:
    """(last sequence number, last hash): write these down elsewhere to anchor the chain."""
    row = AuditHead.objects.filter(pk=HEAD_PK).first()
    return (row.last_seq, row.last_hash) if row else (0, GENESIS_HASH)


def check_anchor(seq: int, expected_hash: str) -> str | None:
    """A problem message when record `seq` no longer has the hash noted down earlier."""
    row = AuditRecord.objects.filter(seq=seq).values_list("hash", flat=True).first()
    if row is None:
        return _("锚点 %(seq)s：记录缺失") % {"seq": seq}
    if row != expected_hash.lower():
        return _("锚点 %(seq)s：哈希与记下的不同（链被重写）") % {"seq": seq}
    return None
