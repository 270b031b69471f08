"""`sizhi restore ARCHIVE [--force] [--verify]` loads a `sizhi backup` archive into the configured
(empty) database and media folder; `sizhi restore ARCHIVE --verify-only` only checks the current
database and files against the archive: row counts and contents per table, migrations, file
SHA-256 and the audit hash chain. Exit status 1 when the check finds anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sizhi.ops.backup import BackupError, restore_backup, verify_restored


class Command(BaseCommand):
    help = "从 sizhi backup 生成的备份恢复数据库和上传文件（目标须为空），并可校验恢复结果"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, help="备份文件（.tar）")
        parser.add_argument("--force", action="store_true", help="目标数据库或上传目录不为空时也覆盖（会删除现有数据）")
        parser.add_argument("--verify", action="store_true", help="恢复后校验行数、文件校验值和审计哈希链")
        parser.add_argument(
            "--verify-only", action="store_true", help="不恢复，只校验当前数据库和上传文件是否与备份一致"
        )
        parser.add_argument("--database", default="default", help="Django 数据库别名（默认 default）")

    def handle(self, *args: Any, **options: Any) -> None:
        archive: Path = options["archive"]
        progress = options["verbosity"] >= 1
        try:
            if not options["verify_only"]:
                restored = restore_backup(archive, force=options["force"], alias=options["database"], progress=progress)
                self.stdout.write(self.style.SUCCESS(
                    f"恢复完成：{restored.tables} 张表，{restored.files} 个上传文件。"
                ))
            if options["verify"] or options["verify_only"]:
                report = verify_restored(archive, alias=options["database"], progress=progress)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        if not (options["verify"] or options["verify_only"]):
            return
        audit = f"，审计记录 {report.audit_records} 条" if report.audit_records is not None else ""
        summary = f"{report.tables} 张表 {report.rows} 行，{report.files} 个文件{audit}"
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"校验通过：{summary}，与备份一致。"))
            return
        for problem in report.problems:
            self.stderr.write(f"  ✗ {problem}")
        raise CommandError(f"校验未通过：发现 {len(report.problems)} 处问题（{summary}）。")
