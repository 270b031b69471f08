"""`sizhi insight rebuild-rollups`: count the dashboards' roll-ups again from the cases.
`sizhi insight rebuild-evaluation`: count the 联动考评 roll-up again from the case events."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sizhi.insight.rollups import check_rollups, rebuild_rollups


class Command(BaseCommand):
    help = "研判分析维护：重建数据看板的汇总表"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        rebuild = sub.add_parser(
            "rebuild-rollups", help="清空并按案件表重新统计看板汇总表（批量导入、直接改库之后运行）"
        )
        rebuild.add_argument("--check", action="store_true", help="只核对汇总表与案件表是否一致，不修改")
        scores = sub.add_parser(
            "rebuild-evaluation", help="清空并按案件事件重新统计联动考评汇总表（批量导入、直接改库之后运行）"
        )
        scores.add_argument("--check", action="store_true",
                            help="只核对汇总表与逐条事件计算的考评数据是否一致（默认核对近三个月），不修改")
        scores.add_argument("--start", type=dt.date.fromisoformat, help="核对区间的第一天（YYYY-MM-DD）")
        scores.add_argument("--end", type=dt.date.fromisoformat, help="核对区间的最后一天（YYYY-MM-DD）")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "rebuild-evaluation":
            self._evaluation(options)
            return
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

    def _evaluation(self, options: dict[str, Any]) -> None:
        from sizhi.cases import evaluation_rollup
        from sizhi.cases.evaluation import Period
        from sizhi.units.models import HandlingUnit

        started = time.perf_counter()
        progress = options.get("verbosity", 1) >= 1
        if not options["check"]:
            rows = evaluation_rollup.rebuild(progress=progress)
            self.stdout.write(self.style.SUCCESS(
                f"考评汇总表已重建：{rows} 行（{time.perf_counter() - started:.1f} 秒）"
            ))
            return
        today = timezone.localdate()
        last = options["end"] or today
        first = options["start"] or (last.replace(day=1) - dt.timedelta(days=62)).replace(day=1)
        if last < first:
            raise CommandError("--end 不能早于 --start")
        # Month by month (and the whole span): each period's conditions are checked on their own.
        periods, day = [Period.days(first, last)], first
        while day <= last:
            month_end = Period.month(day.year, day.month).last
            periods.append(Period.days(day, min(month_end, last)))
            day = month_end + dt.timedelta(days=1)
        units = list(HandlingUnit.objects.order_by("pk").values_list("pk", flat=True))
        problems = []
        for period in periods:
            problems += evaluation_rollup.differences(units, period)
        if problems:
            for line in problems[:20]:
                self.stderr.write(line)
            raise CommandError(
                f"考评汇总表与案件事件有 {len(problems)} 处不一致：运行 sizhi insight rebuild-evaluation 重建"
            )
        self.stdout.write(self.style.SUCCESS(
            f"考评汇总表与案件事件一致：{len(units)} 个单位、{len(periods)} 个区间"
            f"（{time.perf_counter() - started:.1f} 秒）"
        ))
