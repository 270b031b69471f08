"""`sizhi backup` → `sizhi restore` onto an empty database → `--verify` passes; then tampering
with a file, a row or the audit trail makes the verification fail with a precise message.

The backup is taken in-process from the test database (committed data, hence
transactional_db); restore and verify run as `sizhi` subprocesses against a fresh database —
a SQLite file, or on PostgreSQL a second database created here and dropped afterwards — so the
commands are exercised exactly as an operator runs them."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import connection

from sizhi.audit.services import audit
from sizhi.cases import services
from sizhi.cases.models import Attachment
from sizhi.conftest import World, inside, make_photo
from sizhi.ops.backup import BackupError, read_manifest, restore_backup

# serialized_rollback: an earlier transactional test may have flushed the seeded categories.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
PROJECT = Path(__file__).resolve().parents[3]


@contextlib.contextmanager
def fresh_database(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(DATABASE_URL, raw connection target) of an empty database of the same kind as the tests'."""
    if connection.vendor == "sqlite":
        path = tmp_path / "restored.sqlite3"
        yield f"sqlite:///{path}", str(path)
        return
    import psycopg

    s = connection.settings_dict
    name = f"{s['NAME']}_restore_{uuid.uuid4().hex[:6]}"
    auth = quote(s["USER"] or "postgres") + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
    server = f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}", f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sizhi(url: str, media: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIZHI_", "DATABASE_URL", "REDIS_URL"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "sizhi.config.settings", "DATABASE_URL": url, "SIZHI_MEDIA_ROOT": str(media),
        "SIZHI_DATA_DIR": str(media.parent / "data"), "SIZHI_LOG_LEVEL": "WARNING",
    })
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "sizhi.manage", *args], env=env, cwd=PROJECT, capture_output=True, text=True,
        timeout=120, check=False,
    )


def execute(target: str, *statements: str) -> None:
    """Tamper with the restored database behind the platform's back."""
    if connection.vendor == "sqlite":
        with contextlib.closing(sqlite3.connect(target)) as conn:
            for sql in statements:
                conn.execute(sql)
            conn.commit()
        return
    import psycopg

    with psycopg.connect(target, autocommit=True) as conn:
        # The audit table refuses UPDATE and DELETE by trigger; an attacker with superuser rights would not be.
        conn.execute("SET session_replication_role = replica")
        for sql in statements:
            conn.execute(sql)


@pytest.fixture
def filled(world: World, settings, tmp_path: Path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    citizen = world.user("citizen") if "citizen" in world.users else None
    for i in range(3):
        lat, lng = inside(world.grid_a1)
        services.report_submit(
            reporter=citizen, description=f"备份演练 {i}：井盖缺失，行人危险", lat=lat, lng=lng,
            photos=[make_photo(size=(64 + i, 48)), make_photo(size=(40, 30 + i))], is_anonymous=citizen is None,
        )
    for i in range(4):
        audit("ops.drill", actor=world.user("system_admin"), target_type="case", target_id=str(i))
    return world


def test_backup_restore_verify_and_tampering(filled: World, tmp_path: Path) -> None:
    archive = tmp_path / "backup.tar"
    call_command("backup", output=archive, verbosity=0)
    with __import__("tarfile").open(archive) as tar:
        manifest = read_manifest(tar)
    assert manifest["tables"]["cases_case"]["rows"] == 3
    assert len(manifest["media"]) == Attachment.objects.count() == 6
    assert manifest["audit"]["last_seq"] >= 4
    assert ["cases", "0001_initial"] in manifest["migrations"]

    media = tmp_path / "restored-media"
    with fresh_database(tmp_path) as (url, target):
        done = sizhi(url, media, "restore", str(archive), "--verify")
        assert done.returncode == 0, done.stderr
        assert "校验通过" in done.stdout
        assert len(list(media.rglob("*.jpg"))) == 6

        # A second restore onto the now non-empty database is refused and changes nothing.
        again = sizhi(url, media, "restore", str(archive))
        assert again.returncode != 0
        assert "目标数据库不是空的" in again.stderr

        photo = sorted(manifest["media"])[0]
        (media / photo).unlink()
        execute(
            target,
            "UPDATE cases_case SET title = 'tampered' WHERE id = (SELECT MIN(id) FROM cases_case)",
            "DELETE FROM audit_auditrecord WHERE seq = 2",
        )
        done = sizhi(url, media, "restore", str(archive), "--verify-only")
        assert done.returncode != 0
        assert f"上传文件缺失：{photo}" in done.stderr
        assert "数据表 cases_case：行数相同（3 行），但内容与备份不同" in done.stderr
        records = manifest["tables"]["audit_auditrecord"]["rows"]
        assert f"数据表 audit_auditrecord：备份时 {records} 行，现在 {records - 1} 行" in done.stderr
        assert "审计哈希链" in done.stderr


def test_restore_refuses_a_damaged_or_foreign_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar"
    bogus.write_bytes(b"not a tar file")
    with pytest.raises(BackupError, match="无法读取备份文件"):
        restore_backup(bogus)
    with pytest.raises(BackupError, match="找不到备份文件"):
        restore_backup(tmp_path / "missing.tar")
    import tarfile

    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w"):
        pass
    with pytest.raises(BackupError, match=r"没有 manifest\.json"):
        restore_backup(empty)
