"""`sizhi hotspots detect --data FILE.csv --top N --out OUT.csv`: hot issues from a message export.

The input needs the columns id, title, detail and time; likes, user, lat, lng and region are
used when present, anything else is ignored. UTF-8 (with or without BOM) and GBK/GB18030 files
are read as they come from spreadsheet programs. Rows that cannot be used are reported with
their line number and skipped; the run fails only when no row is usable.
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sizhi.cases.exports import safe_text
from sizhi.insight.hotspots import HotIssue, Message, detect_hot_issues

REQUIRED = ("id", "title", "detail", "time")
OUTPUT_COLUMNS = ["rank", "heat", "label", "place", "first_time", "last_time", "size", "ids"]
_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d")
_DATE_SEPARATORS = re.compile(r"[-.年月]")
MAX_REPORTED = 20  # bad rows listed one by one; the rest are counted


def parse_time(value: str) -> datetime:
    """The time formats message exports use: 2019/2/28 11:25:05, 2019-12-15 12:32:11,
    2019-08-01T00:00:00, 2019年8月1日 (seconds and time of day optional)."""
    text = value.strip().replace("T", " ").replace("日", "")
    text = _DATE_SEPARATORS.sub("/", text)
    text = re.sub(r"\s+", " ", text)
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(value) from None


def decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CommandError("无法识别文件编码：请保存为 UTF-8 或 GBK。")


def _coordinate(value: str, low: float, high: float) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and low <= number <= high else None


def read_messages(text: str) -> tuple[list[Message], list[str]]:
    """Messages and the problems found, each naming its line in the file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CommandError("文件是空的。") from None
    columns = {name.strip().lstrip("\ufeff").lower(): i for i, name in enumerate(header)}
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise CommandError(f"缺少列：{', '.join(missing)}（需要 id, title, detail, time；可选 likes）")

    def cell(row: list[str], name: str) -> str:
        i = columns.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    messages: list[Message] = []
    problems: list[str] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        if not any(c.strip() for c in row):
            continue
        if len(row) < len(header):
            problems.append(f"第 {line} 行：只有 {len(row)} 列，应为 {len(header)} 列")
            continue
        msg_id, title, detail = cell(row, "id"), cell(row, "title"), cell(row, "detail")
        if not msg_id:
            problems.append(f"第 {line} 行：缺少 id")
            continue
        if msg_id in seen:
            problems.append(f"第 {line} 行：id {msg_id} 重复")
            continue
        if not title and not detail:
            problems.append(f"第 {line} 行：标题和内容都是空的")
            continue
        try:
            when = parse_time(cell(row, "time"))
        except ValueError:
            problems.append(f"第 {line} 行：时间无法识别：{cell(row, 'time')[:40]!r}")
            continue
        likes_text = cell(row, "likes")
        try:
            likes = int(float(likes_text)) if likes_text else 0
        except ValueError:
            problems.append(f"第 {line} 行：点赞数不是数字：{likes_text[:20]!r}，按 0 计")
            likes = 0
        seen.add(msg_id)
        messages.append(Message(
            id=msg_id, title=title, detail=detail, time=when, likes=max(likes, 0), user=cell(row, "user"),
            lat=_coordinate(cell(row, "lat"), -90, 90), lng=_coordinate(cell(row, "lng"), -180, 180),
            region=cell(row, "region"),
        ))
    return messages, problems


def write_issues(path: Path, issues: list[HotIssue]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(OUTPUT_COLUMNS)
        for issue in issues:
            writer.writerow([
                # Labels and places are citizens' words: never a formula when opened in a spreadsheet.
                issue.rank, f"{issue.heat:.2f}", safe_text(issue.label), safe_text(issue.place),
                issue.first_time.strftime("%Y-%m-%d %H:%M:%S"), issue.last_time.strftime("%Y-%m-%d %H:%M:%S"),
                issue.size, ";".join(issue.ids),
            ])


class Command(BaseCommand):
    help = "热点问题挖掘：按主题、地点和时间把留言归并为问题，按热度排序"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        detect = sub.add_parser("detect", help="从留言 CSV 找出热点问题")
        detect.add_argument("--data", required=True, help="留言 CSV：id, title, detail, time，可选 likes, user")
        detect.add_argument("--top", type=int, default=20, help="输出前 N 个问题（默认 20）")
        detect.add_argument("--out", help="结果 CSV：rank, heat, label, place, first_time, last_time, size, ids")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["top"] < 1:
            raise CommandError("--top 应为正整数")
        started = time.perf_counter()
        path = Path(options["data"])
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"无法读取文件：{exc.strerror or exc}") from exc
        messages, problems = read_messages(decode(raw))
        for problem in problems[:MAX_REPORTED]:
            self.stderr.write(problem)
        if len(problems) > MAX_REPORTED:
            self.stderr.write(f"……另有 {len(problems) - MAX_REPORTED} 行有问题")
        if not messages:
            raise CommandError("没有可用的留言。")
        self.stderr.write(f"读入 {len(messages)} 条留言，跳过 {sum(1 for p in problems if '按 0 计' not in p)} 行")
        issues = detect_hot_issues(messages, top=options["top"], progress=self.stderr.write)
        if options["out"]:
            try:
                write_issues(Path(options["out"]), issues)
            except OSError as exc:
                raise CommandError(f"无法写入结果：{exc.strerror or exc}") from exc
        for issue in issues:
            self.stdout.write(
                f"{issue.rank:>3}  热度 {issue.heat:>7.2f}  {issue.size:>3} 条  "
                f"{issue.first_time:%Y-%m-%d}~{issue.last_time:%Y-%m-%d}  {issue.label}"
            )
        self.stderr.write(f"完成，用时 {time.perf_counter() - started:.1f} 秒")
