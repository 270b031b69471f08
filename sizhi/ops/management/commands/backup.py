"""`sizhi backup [--output FILE]`: the database, the uploaded files and a manifest in one tar
archive (see sizhi.ops.backup). Safe while the platform runs: the database part is one snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sizhi.ops.backup import BackupError, create_backup


class Command(BaseCommand):
    help = "备份数据库和上传文件到一个 tar 文件（含行数、文件校验值和审计链头的清单）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output", "-o", type=Path, default=None,
            help="备份文件路径（默认 <数据目录>/backups/sizhi-<时间>.tar）",
        )
        parser.add_argument("--database", default="default", help="Django 数据库别名（默认 default）")

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path | None = options["output"]
        if output is None:
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
            output = Path(settings.DATA_DIR) / "backups" / f"sizhi-{stamp}.tar"
        if output.exists():
            raise CommandError(f"{output} 已存在：请换一个文件名，已有的备份不会被覆盖。")
        progress = options["verbosity"] >= 1
        try:
            result = create_backup(output, alias=options["database"], progress=progress)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(
            f"备份完成：{result.path}（{result.tables} 张表 {result.rows} 行，{result.files} 个上传文件，"
            f"{result.size / 1024 / 1024:.1f} MB）"
        ))
