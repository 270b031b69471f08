"""`sizhi regions …`: import divisions and grids, build the demo city, look a point up."""

from __future__ import annotations

import argparse
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from sizhi.regions.demo import DEFAULT_SEED, generate_demo_grids, load_demo_divisions
from sizhi.regions.importers import import_divisions_file, import_geojson_file
from sizhi.regions.services import ImportRejected, ImportSummary
from sizhi.regions.spatial import grid_index, locate_grid


def _grid_range(text: str) -> tuple[int, int]:
    low, _sep, high = text.partition("-")
    try:
        values = int(low), int(high or low)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(_("应为“最少-最多”，如 2-4")) from exc
    return values


class Command(BaseCommand):
    help = _("行政区划与网格：导入区划 CSV、导入 GeoJSON 网格、生成示例网格、按坐标查网格")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        divisions = sub.add_parser("import-divisions", help=_("导入区划 CSV（项目格式或统计局格式，按表头识别）"))
        divisions.add_argument("file", help=_("CSV 文件路径"))
        divisions.add_argument("--city-name", help=_("文件未给出市名且该市尚不存在时使用的市名"))
        geo = sub.add_parser("import-geojson", help=_("从 GeoJSON FeatureCollection 导入网格边界或区划中心点"))
        geo.add_argument("file", help=_("GeoJSON 文件路径"))
        geo.add_argument(
            "--skip-unknown-regions", action="store_true",
            help=_("跳过数据库中不存在的区划要素（如已撤销的旧区县），而不是报错"),
        )
        demo = sub.add_parser("demo", help=_("导入洛阳示例区划并生成示例网格"))
        demo.add_argument("--seed", type=int, default=DEFAULT_SEED, help=_("随机种子"))
        demo.add_argument("--grids-per-village", type=_grid_range, default=(2, 4), help=_("每村网格数，如 2-4"))
        locate = sub.add_parser("locate", help=_("按坐标查找所在网格"))
        locate.add_argument("lat", type=float, help=_("纬度"))
        locate.add_argument("lng", type=float, help=_("经度"))

    def handle(self, *args: Any, **options: Any) -> None:
        progress = options["verbosity"] > 0
        started = time.perf_counter()
        try:
            action = options["action"]
            if action == "import-divisions":
                self._summary(import_divisions_file(options["file"], city_name=options["city_name"], progress=progress))
            elif action == "import-geojson":
                self._summary(import_geojson_file(
                    options["file"], skip_unknown_regions=options["skip_unknown_regions"], progress=progress
                ))
            elif action == "demo":
                self._summary(load_demo_divisions(progress=progress))
                self._summary(generate_demo_grids(
                    seed=options["seed"], grids_per_village=options["grids_per_village"], progress=progress
                ))
            elif action == "locate":
                self._locate(options["lat"], options["lng"])
                return
        except ImportRejected as exc:
            lines = [_("有 %(n)d 处错误，未导入任何数据：") % {"n": len(exc.row_errors)}]
            lines += [f"  {e}" for e in exc.row_errors]
            raise CommandError("\n".join(lines)) from exc
        except ValidationError as exc:
            raise CommandError("\n".join(exc.messages)) from exc
        except OSError as exc:
            raise CommandError(_("无法读取文件：%(error)s") % {"error": exc.strerror or exc}) from exc
        self.stdout.write(_("完成，用时 %(s).1f 秒") % {"s": time.perf_counter() - started})

    def _summary(self, summary: ImportSummary) -> None:
        for line in summary.lines():
            self.stdout.write(line)

    def _locate(self, lat: float, lng: float) -> None:
        started = time.perf_counter()
        index = grid_index()
        built = time.perf_counter() - started
        grid = locate_grid(lat, lng)
        if grid is None:
            raise CommandError(_("该坐标不在任何网格内"))
        self.stdout.write(f"{grid.code} {grid.village.name} {grid.name}")
        self.stdout.write(_("索引：%(n)d 个网格，载入 %(s).2f 秒") % {"n": len(index), "s": built})
