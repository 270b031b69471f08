"""`sizhi insight rebuild-rollups`: count the dashboards' roll-ups again from the cases."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sizhi.insight.rollups import check_rollups, rebuild_rollups


class Command(BaseCommand):
    help = "研判分析维护：重建数据看板的汇总表"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        rebuild = sub.add_parser(
            "rebuild-rollups", help="清空并按案件表重新统计看板汇总表（批量导入、直接改库之后运行）"
        )
        rebuild.add_argument("--check", action="store_true", help="只核对汇总表与案件表是否一致，不修改")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        if options["check"]:
            problems = check_rollups()
            if problems:
                for line in problems[:20]:
                    self.stderr.write(line)
                raise CommandError(
                    f"汇总表与案件表有 {len(problems)} 处不一致：运行 sizhi insight rebuild-rollups 重建"
                )
            self.stdout.write(self.style.SUCCESS(f"汇总表与案件表一致（{time.perf_counter() - started:.1f} 秒）"))
            return
        rows = rebuild_rollups()
        self.stdout.write(self.style.SUCCESS(
            f"看板汇总表已重建：{sum(rows.values())} 行（{time.perf_counter() - started:.1f} 秒）"
        ))
