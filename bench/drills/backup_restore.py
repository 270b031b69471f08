"""Drill 4, long form: `sizhi backup` of a platform with N reports (each with a photo and an audit
record), `sizhi restore --verify` onto an EMPTY database and media folder, then tampering (a
deleted photo, a changed row, a removed audit record) that `--verify-only` must catch.

    .venv/bin/python bench/drills/backup_restore.py [--reports 2000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/drills/backup_restore.py

SQLite files in a temporary folder by default; on PostgreSQL two databases of their own on that
server (created and dropped). Prints sizes and times; last line: the summary.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sizhi.ops.drills import Sandbox


def timed(label: str, action: object) -> float:
    started = time.monotonic()
    action()  # type: ignore[operator]
    seconds = time.monotonic() - started
    print(f"{label}: {seconds:.1f} s", flush=True)
    return seconds


def tamper(box: Sandbox) -> None:
    photo = next(p for p in box.media.rglob("*.jpg"))
    photo.unlink()
    statements = [
        "UPDATE cases_case SET title = 'tampered' WHERE id = (SELECT MIN(id) FROM cases_case)",
        "DELETE FROM audit_auditrecord WHERE seq = 2",
    ]
    if box.database_url is None:
        with contextlib.closing(sqlite3.connect(box.root / "data" / "sizhi.sqlite3")) as conn:
            for sql in statements:
                conn.execute(sql)
            conn.commit()
        return
    import psycopg

    with psycopg.connect(box.database_url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # past the audit table's trigger
        for sql in statements:
            conn.execute(sql)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=2000)
    args = parser.parse_args()
    given = os.environ.get("DATABASE_URL", "")
    url = given if given.startswith("postgres") else None
    source, target = Sandbox(url), Sandbox(url)
    try:
        source.manage("migrate", "--noinput")
        source.kit("seed")
        timed(f"fill {args.reports} reports with photos", lambda: source.kit("fill", str(args.reports), timeout=3600))
        archive = source.root / "backup.tar"
        backup_s = timed("sizhi backup", lambda: source.manage("backup", "-o", str(archive), "-v", "0", timeout=3600))
        size_mb = archive.stat().st_size / 1024 / 1024
        print(f"archive: {size_mb:.1f} MB", flush=True)
        out: dict[str, str] = {}

        def restore() -> None:
            out["restore"] = target.manage("restore", str(archive), "--verify", "-v", "0", timeout=3600).stdout

        restore_s = timed("sizhi restore --verify (empty database)", restore)
        print(out["restore"].strip())
        verify_s = timed("sizhi restore --verify-only", lambda: target.manage(
            "restore", str(archive), "--verify-only", "-v", "0", timeout=3600))
        tamper(target)
        try:
            target.manage("restore", str(archive), "--verify-only", "-v", "0", timeout=3600)
            caught = []
        except RuntimeError as exc:
            caught = [line.strip() for line in str(exc).splitlines() if "✗" in line]
        for line in caught:
            print("caught:", line)
        wanted = ("上传文件缺失", "cases_case", "audit_auditrecord", "审计哈希链")
        ok = all(any(w in line for line in caught) for w in wanted)
        print(
            f"backup_restore {'sqlite' if url is None else 'postgresql'}: {args.reports} reports, archive "
            f"{size_mb:.1f} MB, backup {backup_s:.1f} s, restore+verify {restore_s:.1f} s, verify {verify_s:.1f} s, "
            f"tampering caught {sum(any(w in line for line in caught) for w in wanted)}/{len(wanted)}"
            f" -> {'PASS' if ok else 'FAIL'}"
        )
    finally:
        source.close()
        target.close()


if __name__ == "__main__":
    main()
