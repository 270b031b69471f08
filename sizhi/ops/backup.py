"""`sizhi backup` / `sizhi restore`: one tar archive holding the database, the uploaded files and a
manifest that lets a restored copy prove it is complete.

Archive members:
    database.dump      PostgreSQL: pg_dump custom format (the server's own pg_dump)
    database.sqlite3   SQLite: a copy made with the online backup API
    media/<path>       every file under MEDIA_ROOT
    manifest.json      format version, time, applied migrations, per-table row count and content
                       digest, per-file SHA-256, the dump's SHA-256 and the audit chain head

The manifest is computed from the same snapshot as the dump (PostgreSQL: pg_dump --snapshot of
a REPEATABLE READ transaction; SQLite: read from the copy), so its counts match the dump exactly
even while the platform keeps writing. Media are archived after the snapshot: photos are
written before their row commits, so every file a snapshot row names is already on disk.

Table digests are order-independent (the sum of one SHA-256 per row, modulo 2^256), computed
from the database's own text of each row, so a changed value with the row count unchanged is
still found, and no ORDER BY (or its collation) is needed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.db import connections
from django.utils import timezone
from tqdm import tqdm

FORMAT = "sizhi-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MEDIA_PREFIX = "media/"
DUMP_NAMES = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
AUDIT_HEAD_TABLE = "audit_audithead"
CHUNK = 1024 * 1024
MAX_LISTED = 20  # problems of one kind listed one by one; the rest are counted


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


# --- the database ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    """The connection settings of one Django database, for raw connections and the pg tools."""

    vendor: str
    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""

    @classmethod
    def of(cls, alias: str = "default") -> Database:
        conn = connections[alias]
        s = conn.settings_dict
        if conn.vendor not in DUMP_NAMES:
            raise BackupError(f"不支持的数据库类型：{conn.vendor}（只支持 PostgreSQL 和 SQLite）。")
        return cls(
            vendor=conn.vendor, name=str(s["NAME"]), host=str(s.get("HOST") or ""), port=str(s.get("PORT") or ""),
            user=str(s.get("USER") or ""), password=str(s.get("PASSWORD") or ""),
        )

    def pg_args(self, dbname: str | None = None) -> list[str]:
        args = ["--dbname", dbname or self.name]
        if self.host:
            args += ["--host", self.host]
        if self.port:
            args += ["--port", self.port]
        if self.user:
            args += ["--username", self.user]
        return args

    def pg_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect_pg(self) -> Any:
        import psycopg

        return psycopg.connect(
            dbname=self.name, host=self.host or None, port=self.port or None, user=self.user or None,
            password=self.password or None, autocommit=True,
        )

    def connect_sqlite(self) -> sqlite3.Connection:
        # A plain connection (no type converters): digests must see the same values at backup and verify.
        return sqlite3.connect(self.name, uri=self.name.startswith("file:"))


def _tables(cursor: Any, vendor: str) -> list[str]:
    if vendor == "postgresql":
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    else:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    return [row[0] for row in cursor.fetchall()]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_stats(cursor: Any, vendor: str, table: str) -> dict[str, Any]:
    if vendor == "postgresql":
        cursor.execute(f"SELECT t::text FROM {_quote(table)} AS t")  # noqa: S608 - a table name from the catalogue
    else:
        cursor.execute(f"SELECT * FROM {_quote(table)}")  # noqa: S608 - a table name from the catalogue
    total, rows = 0, 0
    while batch := cursor.fetchmany(2000):
        for row in batch:
            text = row[0] if vendor == "postgresql" else repr(tuple(row))
            total += int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(), "big")
            rows += 1
    return {"rows": rows, "digest": f"{total % (1 << 256):064x}"}


def _snapshot_facts(cursor: Any, vendor: str, progress: bool) -> dict[str, Any]:
    """Row counts and digests of every table, the applied migrations and the audit head, read
    through one cursor (one snapshot)."""
    if vendor == "postgresql":
        # The text of timestamps depends on the session's zone and style: fix both.
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.execute("SET DateStyle = 'ISO, YMD'")
    tables = _tables(cursor, vendor)
    stats = {}
    for table in tqdm(tables, desc="统计数据表", unit="表", disable=not progress):
        stats[table] = _table_stats(cursor, vendor, table)
    migrations: list[list[str]] = []
    if "django_migrations" in tables:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        migrations = [[app, name] for app, name in cursor.fetchall()]
    audit = None
    if AUDIT_HEAD_TABLE in tables:
        cursor.execute(f"SELECT last_seq, last_hash FROM {AUDIT_HEAD_TABLE} WHERE id = 1")  # noqa: S608
        row = cursor.fetchone()
        audit = {"last_seq": int(row[0]), "last_hash": str(row[1])} if row else None
    return {"tables": stats, "migrations": migrations, "audit": audit}


def _pg_tool(tool: str, cursor: Any) -> str:
    """The tool of the server's own major version when installed (a newer pg_dump reads older
    servers, an older one refuses newer ones), else the one on PATH."""
    cursor.execute("SHOW server_version_num")
    major = int(cursor.fetchone()[0]) // 10000
    for candidate in (Path(f"/usr/lib/postgresql/{major}/bin/{tool}"), Path(f"/usr/pgsql-{major}/bin/{tool}")):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(tool)
    if found is None:
        raise BackupError(f"找不到 {tool}：请安装 PostgreSQL {major} 的客户端程序（postgresql-client-{major}）。")
    return found


@contextmanager
def _pg_snapshot(db: Database) -> Iterator[tuple[Any, str]]:
    """A read-only REPEATABLE READ transaction and its exported snapshot id, held open while
    pg_dump and the manifest read the same state."""
    with closing(db.connect_pg()) as conn:
        cursor = conn.cursor()
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        try:
            yield cursor, snapshot
        finally:
            cursor.execute("ROLLBACK")


# --- files -------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def media_files(root: Path) -> list[Path]:
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


class _HashingReader(io.RawIOBase):
    """Hashes a file while tarfile copies it, so each file is read once."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _add_file(tar: tarfile.TarFile, path: Path, arcname: str) -> str:
    info = tar.gettarinfo(str(path), arcname=arcname)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with path.open("rb") as handle:
        reader = _HashingReader(handle)
        tar.addfile(info, reader)  # type: ignore[arg-type]
    return reader.digest.hexdigest()


# --- backup ------------------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    tables: int
    rows: int
    files: int
    size: int


def create_backup(output: Path, *, alias: str = "default", progress: bool = False) -> BackupResult:
    """Write the archive to `output` (via a temporary name, so a crash never leaves a file that
    looks complete)."""
    db = Database.of(alias)
    media_root = Path(settings.MEDIA_ROOT)
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    dump_name = DUMP_NAMES[db.vendor]
    with tempfile.TemporaryDirectory(prefix=".sizhi-backup-", dir=output.parent) as work:
        dump = Path(work) / dump_name
        if db.vendor == "postgresql":
            with _pg_snapshot(db) as (cursor, snapshot):
                pg_dump = _pg_tool("pg_dump", cursor)
                command = [pg_dump, "--format=custom", f"--snapshot={snapshot}", "--no-owner", "--file", str(dump)]
                done = subprocess.run(  # noqa: S603 - fixed program, arguments are not from a user
                    [*command, *db.pg_args()], env=db.pg_env(), capture_output=True, text=True, check=False,
                )
                if done.returncode != 0:
                    raise BackupError(f"pg_dump 失败：{done.stderr.strip()[-500:]}")
                facts = _snapshot_facts(cursor, db.vendor, progress)
                cursor.execute("SHOW server_version")
                server = cursor.fetchone()[0]
        else:
            source = connections[alias]
            source.ensure_connection()
            with closing(sqlite3.connect(dump)) as copy:
                source.connection.backup(copy)  # type: ignore[union-attr]
            with closing(sqlite3.connect(dump)) as copy:
                facts = _snapshot_facts(copy.cursor(), db.vendor, progress)
            server = sqlite3.sqlite_version

        partial = output.with_name(output.name + ".partial")
        files = media_files(media_root)
        with tarfile.open(partial, "w") as tar:
            dump_sha = _add_file(tar, dump, dump_name)
            checksums: dict[str, str] = {}
            for path in tqdm(files, desc="打包上传文件", unit="个", disable=not progress):
                rel = path.relative_to(media_root).as_posix()
                checksums[rel] = _add_file(tar, path, MEDIA_PREFIX + rel)
            manifest = {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "created_at": timezone.now().isoformat(),
                "database": {"vendor": db.vendor, "file": dump_name, "sha256": dump_sha, "server_version": server},
                "migrations": facts["migrations"],
                "tables": facts["tables"],
                "audit": facts["audit"],
                "media": checksums,
            }
            data = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            info.mtime = int(timezone.now().timestamp())
            tar.addfile(info, io.BytesIO(data))
        os.replace(partial, output)
    rows = sum(t["rows"] for t in facts["tables"].values())
    return BackupResult(output, len(facts["tables"]), rows, len(files), output.stat().st_size)


# --- restore -----------------------------------------------------------------------------------


def read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
    except KeyError:
        raise BackupError("备份文件里没有 manifest.json：不是 sizhi backup 生成的文件，或文件不完整。") from None
    handle = tar.extractfile(member)
    if handle is None:
        raise BackupError("manifest.json 不是普通文件。")
    try:
        manifest = json.loads(handle.read())
    except ValueError as exc:
        raise BackupError(f"manifest.json 已损坏：{exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("manifest.json 不是 sizhi 备份清单。")
    if manifest.get("version") != FORMAT_VERSION:
        raise BackupError(f"备份格式版本 {manifest.get('version')} 不受支持（本程序支持版本 {FORMAT_VERSION}）。")
    return manifest


def open_archive(path: Path) -> tarfile.TarFile:
    if not path.is_file():
        raise BackupError(f"找不到备份文件：{path}")
    try:
        return tarfile.open(path, "r")
    except tarfile.TarError as exc:
        raise BackupError(f"无法读取备份文件 {path}：{exc}") from None


def _existing_tables(db: Database) -> list[str]:
    if db.vendor == "postgresql":
        with closing(db.connect_pg()) as conn:
            return _tables(conn.cursor(), db.vendor)
    if not db.name.startswith("file:") and not Path(db.name).exists():
        return []
    with closing(db.connect_sqlite()) as conn:
        return _tables(conn.cursor(), db.vendor)


def _safe_media_path(root: Path, name: str) -> Path:
    rel = PurePosixPath(name[len(MEDIA_PREFIX):])
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise BackupError(f"备份中的文件路径不安全，已拒绝：{name}")
    return root.joinpath(*rel.parts)


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> str:
    handle = tar.extractfile(member)
    if handle is None:
        raise BackupError(f"备份中的 {member.name} 不是普通文件。")
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with partial.open("wb") as out:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    os.replace(partial, target)
    return digest.hexdigest()


@dataclass
class RestoreResult:
    tables: int
    files: int


def restore_backup(
    archive: Path, *, force: bool = False, alias: str = "default", progress: bool = False
) -> RestoreResult:
    """Load the archive into the (empty) database and MEDIA_ROOT. Refuses a database that has any
    table, or a media folder that has any file, unless `force`."""
    db = Database.of(alias)
    media_root = Path(settings.MEDIA_ROOT)
    with open_archive(archive) as tar:
        manifest = read_manifest(tar)
        vendor = manifest["database"]["vendor"]
        if vendor != db.vendor:
            raise BackupError(f"备份来自 {vendor} 数据库，当前配置的是 {db.vendor}：请配置同类数据库再恢复。")
        existing = _existing_tables(db)
        if existing and not force:
            raise BackupError(
                f"目标数据库不是空的（已有 {len(existing)} 张表，如 {', '.join(existing[:3])}）。"
                "请恢复到新建的空数据库；确需覆盖现有数据时加 --force。"
            )
        present = media_files(media_root)
        if present and not force:
            raise BackupError(
                f"上传文件目录 {media_root} 不是空的（{len(present)} 个文件）。请换用空目录；确需覆盖时加 --force。"
            )
        connections[alias].close()
        with tempfile.TemporaryDirectory(prefix=".sizhi-restore-") as work:
            dump = Path(work) / manifest["database"]["file"]
            sha = _copy_member(tar, tar.getmember(manifest["database"]["file"]), dump)
            if sha != manifest["database"]["sha256"]:
                raise BackupError("备份中的数据库文件校验值与清单不符：备份文件已损坏，未做任何恢复。")
            if db.vendor == "postgresql":
                _restore_pg(db, dump, force=force, progress=progress)
            else:
                _restore_sqlite(db, dump, progress=progress)
        members = [m for m in tar.getmembers() if m.name.startswith(MEDIA_PREFIX)]
        for member in tqdm(members, desc="恢复上传文件", unit="个", disable=not progress):
            if not member.isfile():
                raise BackupError(f"备份中的 {member.name} 不是普通文件，已拒绝。")
            _copy_member(tar, member, _safe_media_path(media_root, member.name))
    return RestoreResult(tables=len(manifest["tables"]), files=len(members))


def _restore_sqlite(db: Database, dump: Path, *, progress: bool) -> None:
    with closing(sqlite3.connect(dump)) as source, closing(db.connect_sqlite()) as target:
        pages = source.execute("PRAGMA page_count").fetchone()[0]
        with tqdm(total=pages, desc="恢复数据库", unit="页", disable=not progress) as bar:

            def tick(status: int, remaining: int, total: int) -> None:
                bar.update(total - remaining - bar.n)

            # The backup API replaces the whole target database, page by page.
            source.backup(target, pages=256, progress=tick)


def _restore_pg(db: Database, dump: Path, *, force: bool, progress: bool) -> None:
    with closing(db.connect_pg()) as conn:
        cursor = conn.cursor()
        pg_restore = _pg_tool("pg_restore", cursor)
        if force:
            cursor.execute("DROP SCHEMA IF EXISTS public CASCADE")
            cursor.execute("CREATE SCHEMA public")
    listing = subprocess.run(  # noqa: S603 - fixed program
        [pg_restore, "--list", str(dump)], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0:
        raise BackupError(f"pg_restore 读不了数据库备份：{listing.stderr.strip()[-500:]}")
    entries = sum(1 for line in listing.stdout.splitlines() if line and not line.startswith(";"))
    command = [
        pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--verbose",
        *db.pg_args(), str(dump),
    ]
    with (
        tqdm(total=entries, desc="恢复数据库", unit="项", disable=not progress) as bar,
        subprocess.Popen(  # noqa: S603 - fixed program
            command, env=db.pg_env(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        ) as proc,
    ):
        tail: list[str] = []
        assert proc.stderr is not None
        for line in proc.stderr:
            tail = [*tail[-20:], line.rstrip()]
            if line.startswith(("pg_restore: creating", "pg_restore: processing")):
                bar.update(1)
        proc.wait()
    if proc.returncode != 0:
        errors = [line for line in tail if "error" in line.lower()] or tail
        raise BackupError("pg_restore 失败（已整体回滚）：" + " / ".join(errors[-3:]))


# --- verify ------------------------------------------------------------------------------------


@dataclass
class VerifyReport:
    tables: int = 0
    rows: int = 0
    files: int = 0
    audit_records: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _listed(problems: list[str], found: Iterable[str]) -> None:
    found = list(found)
    problems.extend(found[:MAX_LISTED])
    if len(found) > MAX_LISTED:
        problems.append(f"……另有 {len(found) - MAX_LISTED} 处同类问题")


def verify_restored(
    archive: Path, *, alias: str = "default", progress: bool = False,
    chain: Callable[[], Any] | None = None,
) -> VerifyReport:
    """Check the current database and MEDIA_ROOT against the archive's manifest: every table's
    row count and content digest, the applied migrations, every file's SHA-256, the audit hash
    chain and its head. `chain` replaces sizhi.audit.chain.verify_chain (tests)."""
    db = Database.of(alias)
    with open_archive(archive) as tar:
        manifest = read_manifest(tar)
    report = VerifyReport()
    if manifest["database"]["vendor"] != db.vendor:
        report.problems.append(f"备份来自 {manifest['database']['vendor']}，当前数据库是 {db.vendor}。")
        return report

    if db.vendor == "postgresql":
        with closing(db.connect_pg()) as conn:
            cursor = conn.cursor()
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            facts = _snapshot_facts(cursor, db.vendor, progress)
            cursor.execute("ROLLBACK")
    else:
        with closing(db.connect_sqlite()) as conn:
            facts = _snapshot_facts(conn.cursor(), db.vendor, progress)

    expected: dict[str, dict[str, Any]] = manifest["tables"]
    actual: dict[str, dict[str, Any]] = facts["tables"]
    report.tables = len(actual)
    report.rows = sum(t["rows"] for t in actual.values())
    table_problems = []
    for table, want in sorted(expected.items()):
        got = actual.get(table)
        if got is None:
            table_problems.append(f"数据表 {table} 缺失（备份时 {want['rows']} 行）")
        elif got["rows"] != want["rows"]:
            table_problems.append(f"数据表 {table}：备份时 {want['rows']} 行，现在 {got['rows']} 行")
        elif got["digest"] != want["digest"]:
            table_problems.append(f"数据表 {table}：行数相同（{got['rows']} 行），但内容与备份不同")
    table_problems += [f"数据表 {table} 不在备份中" for table in sorted(set(actual) - set(expected))]
    _listed(report.problems, table_problems)

    want_migrations = {tuple(m) for m in manifest["migrations"]}
    got_migrations = {tuple(m) for m in facts["migrations"]}
    if want_migrations != got_migrations:
        missing = sorted(want_migrations - got_migrations)
        extra = sorted(got_migrations - want_migrations)
        report.problems.append(
            f"迁移记录与备份不同：缺少 {len(missing)} 条{'（如 ' + '.'.join(missing[0]) + '）' if missing else ''}，"
            f"多出 {len(extra)} 条{'（如 ' + '.'.join(extra[0]) + '）' if extra else ''}"
        )

    media_root = Path(settings.MEDIA_ROOT)
    file_problems = []
    checksums: dict[str, str] = manifest["media"]
    for rel, want_sha in tqdm(sorted(checksums.items()), desc="校验上传文件", unit="个", disable=not progress):
        path = media_root.joinpath(*PurePosixPath(rel).parts)
        if not path.is_file():
            file_problems.append(f"上传文件缺失：{rel}")
        elif sha256_file(path) != want_sha:
            file_problems.append(f"上传文件内容与备份不同（SHA-256 不符）：{rel}")
        else:
            report.files += 1
    _listed(report.problems, file_problems)

    if facts["audit"] != manifest["audit"]:
        want_head, got_head = manifest["audit"] or {}, facts["audit"] or {}
        report.problems.append(
            f"审计链头与备份不同：备份时第 {want_head.get('last_seq', 0)} 条，现在第 {got_head.get('last_seq', 0)} 条"
        )
    if "audit_auditrecord" in expected:
        report.audit_records = actual.get("audit_auditrecord", {}).get("rows", 0)
        if chain is None:
            from sizhi.audit.chain import verify_chain

            chain = verify_chain
        chain_report = chain()
        if not chain_report.ok:
            _listed(report.problems, [f"审计哈希链：{p}" for p in chain_report.problems])
    return report
