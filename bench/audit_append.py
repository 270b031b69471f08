"""Cost of one audit append (sizhi.audit.services.audit) on SQLite and PostgreSQL, against its floor.

Real: audit("bench.write", actor=…, target_type=…, target_id=…, detail=…): the locked read of the
chain head, the hash, one INSERT and one UPDATE of the head.
Floor: one ORM INSERT of the same row into a table with the same columns and indexes
(no head, no lock, no hash).

Each is measured two ways: inside a business transaction that is already open (what a service
pays on top of its own write; the commit is shared), and on its own with its commit. Real and
floor alternate in rounds so that the noise of a shared machine falls on both. Also reports how
fast `verify_chain` walks the records written.

Creates and drops its own databases: a temporary SQLite file and the PostgreSQL database
sizhi_bench_audit on 127.0.0.1:5432 (user postgres).

    .venv/bin/python bench/audit_append.py                 # 1000 appends per round, 3 rounds
    .venv/bin/python bench/audit_append.py --n 2000 --rounds 5 --only sqlite
"""

# ruff: noqa: S603 - runs only this script itself, with fixed arguments

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_DB = "sizhi_bench_audit"


def child(n: int, rounds: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sizhi.config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, models, transaction
    from django.utils import timezone

    from sizhi.accounts.models import User
    from sizhi.accounts.selectors import user_roles
    from sizhi.audit.chain import verify_chain
    from sizhi.audit.models import AuditRecord
    from sizhi.audit.services import audit

    call_command("migrate", verbosity=0)

    class FloorRecord(models.Model):  # noqa: DJ008 - a benchmark table, never shown
        # The columns and indexes of AuditRecord, nothing else.
        seq = models.BigIntegerField(primary_key=True)
        at = models.DateTimeField(db_index=True)
        actor = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
        actor_pk = models.BigIntegerField(null=True)
        actor_username = models.CharField(max_length=150)
        actor_roles = models.CharField(max_length=255)
        action = models.CharField(max_length=80, db_index=True)
        target_type = models.CharField(max_length=80)
        target_id = models.CharField(max_length=64)
        result = models.CharField(max_length=8)
        source_address = models.CharField(max_length=45, null=True)  # noqa: DJ001 - as AuditRecord
        detail = models.JSONField(default=dict)
        prev_hash = models.CharField(max_length=64)
        hash = models.CharField(max_length=64)

        class Meta:
            app_label = "audit"
            db_table = "bench_audit_floor"
            indexes = [
                models.Index(fields=["actor", "-seq"], name="bench_floor_actor_seq"),
                models.Index(fields=["target_type", "target_id"], name="bench_floor_target"),
            ]

    with connection.schema_editor() as editor:
        editor.create_model(FloorRecord)

    user = User.objects.create_user(username="bench_auditor", password=None)
    user_roles(user)  # loaded once per request in real use
    floor_seq = [0]

    def real(i: int) -> None:
        audit("bench.write", actor=user, target_type="cases.case", target_id=str(i), detail={"case": i})

    def floor(i: int) -> None:
        floor_seq[0] += 1
        FloorRecord(
            seq=floor_seq[0], at=timezone.now(), actor=user, actor_pk=user.pk, actor_username=user.username,
            actor_roles="", action="bench.write", target_type="cases.case", target_id=str(i), result="ok",
            source_address=None, detail={"case": i}, prev_hash="0" * 64, hash="1" * 64,
        ).save(force_insert=True)

    def measure(op: Any, nested: bool) -> list[float]:
        samples = []
        for i in range(n):
            if nested:
                with transaction.atomic():
                    User.objects.filter(pk=user.pk).update(last_name="")  # the business write
                    t = time.perf_counter()
                    op(i)
                    samples.append(time.perf_counter() - t)
            else:
                t = time.perf_counter()
                with transaction.atomic():
                    op(i)
                samples.append(time.perf_counter() - t)
        return samples

    for i in range(100):  # warm-up
        real(i)
        floor(i)
    results: dict[str, list[float]] = {}
    for r in range(rounds):
        order = [("real", real), ("floor", floor)] if r % 2 == 0 else [("floor", floor), ("real", real)]
        for nested in (True, False):
            for name, op in order:
                key = f"{name}_{'in_txn' if nested else 'own_commit'}"
                results.setdefault(key, []).extend(measure(op, nested))

    started = time.perf_counter()
    report = verify_chain()
    verify_s = time.perf_counter() - started
    assert report.ok, report.problems
    out: dict[str, Any] = {"vendor": connection.vendor, "records": AuditRecord.objects.count()}
    for key, samples in results.items():
        samples.sort()
        out[key] = {"median_us": round(statistics.median(samples) * 1e6),
                    "p95_us": round(samples[int(len(samples) * 0.95)] * 1e6)}
    out["verify_records_per_s"] = round(report.records / verify_s)
    return out


def run_child(database_url: str, n: int, rounds: int) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": database_url, "SIZHI_LOG_LEVEL": "WARNING"}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", "--n", str(n), "--rounds", str(rounds)],
        env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"benchmark on {database_url.split(':')[0]} failed")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="appends per measurement and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.n, args.rounds)))
        return

    results = []
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory(prefix="sizhi-bench-audit-") as folder:
            results.append(run_child(f"sqlite:///{folder}/audit.sqlite3", args.n, args.rounds))
    if args.only in (None, "postgresql"):
        pg_admin(f"DROP DATABASE IF EXISTS {PG_DB}")
        pg_admin(f"CREATE DATABASE {PG_DB}")
        try:
            results.append(run_child(f"postgres://postgres@127.0.0.1:5432/{PG_DB}", args.n, args.rounds))
        finally:
            pg_admin(f"DROP DATABASE IF EXISTS {PG_DB}")

    for r in results:
        print(f"{r['vendor']}: {r['records']} records, verify {r['verify_records_per_s']} records/s")
        for mode in ("in_txn", "own_commit"):
            real, floor = r[f"real_{mode}"], r[f"floor_{mode}"]
            ratio = real["median_us"] / max(floor["median_us"], 1)
            label = "inside an open transaction" if mode == "in_txn" else "own transaction + commit"
            print(f"  {label:28s} append median {real['median_us']:6d} µs (p95 {real['p95_us']:6d}) | "
                  f"floor INSERT {floor['median_us']:6d} µs (p95 {floor['p95_us']:6d}) | ×{ratio:.2f}")


if __name__ == "__main__":
    main()
