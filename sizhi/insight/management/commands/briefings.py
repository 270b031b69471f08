"""`sizhi briefings generate --period daily|weekly [--date YYYY-MM-DD] [--region CODE]`: write the
研判报告 of the city, every district and every town (or of one region) for a day or a week,
as the worker does every morning. Regenerating a period replaces its briefings."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from sizhi.insight import briefings
from sizhi.insight.models import BriefingPeriod
from sizhi.regions.models import Region


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"日期格式应为 YYYY-MM-DD：{value!r}") from None


class Command(BaseCommand):
    help = "研判报告：生成市、区县、乡镇（街道）的日报或周报"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        generate = sub.add_parser("generate", help="生成日报或周报")
        generate.add_argument(
            "--period", required=True, choices=BriefingPeriod.values, help="daily（日报）或 weekly（周报）"
        )
        generate.add_argument(
            "--date", help="日报的日期，或周报所在周的任一天（YYYY-MM-DD）；默认昨天 / 上周"
        )
        generate.add_argument("--region", help="只生成这个区划（12 位统计代码）的报告")
        generate.add_argument("--no-progress", action="store_true", help="不显示进度条")

    def handle(self, *args: Any, **options: Any) -> None:
        kind = options["period"]
        day = _date(options["date"]) if options.get("date") else None
        started = time.perf_counter()
        try:
            period = briefings.period_for(kind, day)
            label = f"{BriefingPeriod(kind).label}（{briefings.describe(kind, period)}）"
            regions = list(briefings.briefing_regions(options.get("region")))
            with tqdm(
                total=len(regions), desc=label, unit="份",
                disable=options["no_progress"], file=sys.stderr,
            ) as bar:

                def tick(_region: Region) -> None:
                    bar.update(1)

                made = briefings.generate_all(kind, day, regions=regions, progress=tick)
        except briefings.BriefingError as exc:
            raise CommandError(str(exc)) from exc
        seconds = time.perf_counter() - started
        self.stdout.write(f"已生成 {len(made)} 份{label}，用时 {seconds:.1f} 秒")
