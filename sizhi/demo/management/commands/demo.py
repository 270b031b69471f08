"""`sizhi demo load`: the demo city, its people and cases; `sizhi demo logins`: who to sign in as;
`sizhi demo generate --scale N`: a Luoyang-scale city with N invented cases for load tests."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sizhi.cases.workflow import CaseStatus
from sizhi.demo import generate
from sizhi.demo.loader import DEFAULT_CASES, DemoError, demo_loaded, load_demo
from sizhi.demo.people import logins_table
from sizhi.regions.demo import DEFAULT_SEED


class Command(BaseCommand):
    help = "示例数据：载入洛阳示例城市（区划、网格、单位、各角色账号和案件），或列出示例账号"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        load = sub.add_parser("load", help="载入示例城市；已载入时什么也不做")
        load.add_argument(
            "--reset", action="store_true", help="先删除已载入的示例数据（含示例城市的全部案件）再重新载入"
        )
        load.add_argument(
            "--districts", default="",
            help="只载入这些区县（逗号分隔的代码，如 410311,410302）；洛龙区总会载入。默认全市",
        )
        load.add_argument("--cases", type=int, default=DEFAULT_CASES, help=f"示例案件数（默认 {DEFAULT_CASES}）")
        load.add_argument("--seed", type=int, default=DEFAULT_SEED, help="随机种子（网格与案件）")
        load.add_argument("--no-progress", action="store_true", help="不显示进度条")
        sub.add_parser("logins", help="列出示例账号和密码")
        gen = sub.add_parser("generate", help="批量生成压测用的城市和案件（COPY/executemany，非业务流程）")
        gen.add_argument("--scale", type=int, required=True, help="生成的案件数，例如 1000000")
        gen.add_argument("--seed", type=int, default=DEFAULT_SEED, help="随机种子（同一天内结果相同）")
        gen.add_argument("--days", type=int, default=generate.DEFAULT_DAYS, help="案件分布在今天之前的多少天里")
        gen.add_argument("--batch", type=int, default=generate.DEFAULT_BATCH, help="每批写入的案件数")
        gen.add_argument(
            "--events", choices=generate.EVENT_PROFILES, default="full",
            help="full：上报、派遣、签收、处置、结案、评价、超期；minimal：只写上报和结案",
        )
        gen.add_argument("--force", action="store_true", help="数据库中已有非生成的案件时仍然生成")
        gen.add_argument("--no-progress", action="store_true", help="不显示进度条")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "generate":
            self._generate(options)
            return
        if options["action"] == "logins":
            self.stdout.write(logins_table())
            if not demo_loaded():
                self.stdout.write(self.style.WARNING("示例数据尚未载入：运行 sizhi demo load"))
            return
        if options["cases"] < len(CaseStatus):
            raise CommandError(f"--cases 至少为 {len(CaseStatus)}，每种状态至少一件")
        districts = [d for d in options["districts"].split(",") if d.strip()]
        try:
            summary = load_demo(
                districts=districts, cases=options["cases"], seed=options["seed"], reset=options["reset"],
                progress=not options["no_progress"] and options["verbosity"] > 0,
            )
        except (DemoError, ValidationError) as exc:
            raise CommandError(str(exc.messages if isinstance(exc, ValidationError) else exc)) from exc
        if not summary.loaded:
            self.stdout.write("示例数据已载入，无需重复载入（重新载入：sizhi demo load --reset）。")
            return
        labels = dict(CaseStatus.choices)
        by_status = "，".join(f"{labels[s]} {summary.by_status.get(s, 0)}" for s in CaseStatus.values)
        self.stdout.write(self.style.SUCCESS(
            f"示例城市已载入（{summary.seconds:.1f} 秒）：区划 {summary.regions}，网格 {summary.grids}，"
            f"承办单位 {summary.units}，工作人员 {summary.staff}，群众 {summary.citizens}，案件 {summary.cases}"
        ))
        self.stdout.write(f"案件状态：{by_status}")
        warnings = summary.warnings
        self.stdout.write(f"时限预警：黄牌 {warnings.get('yellow', 0)}，红牌 {warnings.get('red', 0)}")
        self.stdout.write("示例账号：\n" + logins_table())

    def _generate(self, options: dict[str, Any]) -> None:
        try:
            summary = generate.generate(
                scale=options["scale"], seed=options["seed"], days=options["days"], batch=options["batch"],
                events=options["events"], force=options["force"],
                progress=not options["no_progress"] and options["verbosity"] > 0,
            )
        except (generate.GenerateError, ValidationError) as exc:
            raise CommandError(str(exc.messages if isinstance(exc, ValidationError) else exc)) from exc
        labels = dict(CaseStatus.choices)
        by_status = "，".join(f"{labels[s]} {summary.by_status.get(s, 0)}" for s in CaseStatus.values)
        self.stdout.write(self.style.SUCCESS(
            f"已生成 {summary.cases} 件案件、{summary.events} 条事件（{summary.seconds:.1f} 秒，"
            f"{summary.cases_per_second:,.0f} 件/秒，{summary.rows_per_second:,.0f} 行/秒）；"
            f"区划 {summary.regions}，网格 {summary.grids}，承办单位 {summary.units}；"
            f"看板汇总表重建 {summary.rollup_seconds:.1f} 秒"
        ))
        self.stdout.write(f"案件状态：{by_status}")
