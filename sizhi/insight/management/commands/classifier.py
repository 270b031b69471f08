"""`sizhi classifier …`: train the category classifier and measure it.

    sizhi classifier train --data FILE.csv [--data FILE.csv ...] --out PATH [--register]
    sizhi classifier train --from-cases --out PATH [--register]
    sizhi classifier evaluate --model PATH --data FILE.csv

CSV files need a `label` column and a `title` and/or `detail` column (either may be empty in a
row, not both); other columns are ignored. UTF-8 with or without BOM, or GBK. Stage lines go to
stderr; the summary to stdout. The last line of `evaluate` is
`macro_f1=0.XXXX accuracy=0.XXXX n=N`.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sizhi.insight.classifier import (
    ClassifierError,
    CsvRowsRejected,
    TrainedClassifier,
    read_many,
    train,
)
from sizhi.insight.models import ClassifierSource
from sizhi.insight.services import classifier_register, train_from_cases

MAX_REPORTED = 30  # bad rows listed one by one; the rest are counted


class Command(BaseCommand):
    help = "事件分类模型：从 CSV 或已结案件训练，在 CSV 上评估"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        tr = sub.add_parser("train", help="训练模型并保存")
        source = tr.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--data", action="append", metavar="FILE.csv",
            help="训练 CSV（title, detail, label；可重复给出多个文件）",
        )
        source.add_argument("--from-cases", action="store_true", help="用已结案件训练（标签为一级类别编码）")
        tr.add_argument("--out", required=True, metavar="PATH", help="模型文件路径（另写 PATH.json 说明）")
        tr.add_argument("--register", action="store_true", help="登记为新版本并启用")
        ev = sub.add_parser("evaluate", help="在带标签的 CSV 上评估模型")
        ev.add_argument("--model", required=True, metavar="PATH", help="模型文件")
        ev.add_argument("--data", required=True, action="append", metavar="FILE.csv", help="评估 CSV")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "train":
                self._train(options)
            else:
                self._evaluate(options)
        except CsvRowsRejected as exc:
            lines = exc.errors[:MAX_REPORTED]
            if len(exc.errors) > MAX_REPORTED:
                lines.append(f"……另有 {len(exc.errors) - MAX_REPORTED} 行有问题")
            raise CommandError(f"有 {len(exc.errors)} 行无法使用，未训练/评估：\n" + "\n".join(lines)) from exc
        except ClassifierError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"无法读写文件 {exc.filename or ''}：{exc.strerror or exc}") from exc

    def _stage(self, message: str) -> None:
        self.stderr.write(f"[classifier] {message}")

    def _train(self, options: dict[str, Any]) -> None:
        started = time.perf_counter()
        out = Path(options["out"])
        if options["from_cases"]:
            self._stage("reading closed cases")
            model = train_from_cases(out, progress=self._stage)
            source = ClassifierSource.CASES
        else:
            self._stage(f"reading {', '.join(options['data'])}")
            rows = read_many(options["data"])
            self._stage(f"{len(rows)} rows")
            model = train(rows.titles, rows.details, rows.labels, progress=self._stage)
            model.save(out)
            source = ClassifierSource.CSV
        counts = Counter(model.meta["label_counts"])
        self.stdout.write(f"model: {out}")
        self.stdout.write(f"n={model.meta['n_train']} labels={len(model.labels)}")
        for label, count in counts.most_common():
            self.stdout.write(f"  {label}: {count}")
        holdout = model.holdout
        self.stdout.write(f"hold-out: {holdout.line()}" if holdout else "hold-out: none (too few rows)")
        if options["register"]:
            row = classifier_register(path=out, metrics=holdout, source=source)
            self.stdout.write(f"registered and activated version {row.version}")
        self.stdout.write(f"time: {time.perf_counter() - started:.1f} s")

    def _evaluate(self, options: dict[str, Any]) -> None:
        model = TrainedClassifier.load(options["model"])
        rows = read_many(options["data"])
        self._stage(f"evaluating {len(rows)} rows")
        unknown = sorted(set(rows.labels) - set(model.labels))
        if unknown:
            self._stage(f"labels the model does not know (always counted wrong): {', '.join(unknown)}")
        metrics = model.evaluate(rows.titles, rows.details, rows.labels)
        self.stdout.write(metrics.line())
