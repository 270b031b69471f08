"""Spreadsheet (.xlsx) downloads of the evaluation ranking and the monthly circular.

Every text cell is written as a string, and text that a spreadsheet would read as a formula
(starting with = + - @, or a tab or carriage return) gets a leading apostrophe: a unit name or
a citizen's case title must never run as a formula on a leader's computer (CSV/formula
injection). Times are written in local time, since spreadsheets have no time zones.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from sizhi.cases.evaluation import Circular, Evaluation, Ranked
from sizhi.cases.models import Case, SupervisionOrder

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EMPTY = "—"

Value = str | int | float | dt.datetime | dt.date | None


def safe_text(value: str) -> str:
    """The text as a spreadsheet shows it, never as a formula, and without the control
    characters the file format forbids."""
    text = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _put(ws: Worksheet, row: int, column: int, value: Value, number_format: str | None = None) -> None:
    cell = ws.cell(row=row, column=column)
    if value is None:
        cell.value = EMPTY
        cell.data_type = "s"
    elif isinstance(value, str):
        cell.value = safe_text(value)
        cell.data_type = "s"
    elif isinstance(value, dt.datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        cell.value = local.replace(tzinfo=None)
        cell.number_format = "yyyy-mm-dd hh:mm"
    else:
        cell.value = value
        if number_format:
            cell.number_format = number_format


@dataclass(frozen=True)
class Column:
    label: str
    value: Callable[[Ranked], Value]
    number_format: str | None = None


PERCENT = "0.0%"


def ranking_columns() -> list[Column]:
    """The ranking's columns, in the order the page shows them."""
    def count(metric: str) -> Callable[[Ranked], Value]:
        return lambda r: r.figures[metric]

    hours = "0.0"
    return [
        Column(_("排名"), lambda r: r.rank),
        Column(_("名称"), lambda r: r.name),
        Column(_("所在区划"), lambda r: r.place),
        Column(_("得分"), lambda r: r.score.total, "0.00"),
        Column(_("响应率"), lambda r: r.figures.response_rate, PERCENT),
        Column(_("按期结案率"), lambda r: r.figures.on_time_rate, PERCENT),
        Column(_("结案率"), lambda r: r.figures.close_rate, PERCENT),
        Column(_("解决率"), lambda r: r.figures.resolution_rate, PERCENT),
        Column(_("满意率"), lambda r: r.figures.satisfaction_rate, PERCENT),
        Column(_("返工率"), lambda r: r.figures.rework_rate, PERCENT),
        Column(_("24小时签收率"), lambda r: r.figures.sign_24h_rate, PERCENT),
        Column(_("7日办结率"), lambda r: r.figures.close_7d_rate, PERCENT),
        Column(_("派遣数"), count("dispatched")),
        Column(_("应结案数"), count("due")),
        Column(_("缓办数"), count("suspended")),
        Column(_("结案数"), count("closed")),
        Column(_("按期结案数"), count("closed_on_time")),
        Column(_("评价数"), count("rated")),
        Column(_("平均处置时长（工作小时）"), lambda r: r.figures.avg_handle_hours, hours),
        Column(_("退回次数"), count("returns")),
        Column(_("红牌超期次数"), count("overdue")),
        Column(_("收到督办"), count("supervision_received")),
        Column(_("督办逾期回复"), count("supervision_late")),
        Column(_("督办逾期未回复"), count("supervision_open_overdue")),
        Column(_("扣分"), lambda r: r.score.deductions, "0.00"),
    ]


def _header(ws: Worksheet, labels: Sequence[str]) -> None:
    for column, label in enumerate(labels, start=1):
        _put(ws, 1, column, label)
        ws.cell(row=1, column=column).font = Font(bold=True)
    ws.freeze_panes = "A2"


def _ranking_sheet(ws: Worksheet, rows: Iterable[Ranked]) -> None:
    columns = ranking_columns()
    _header(ws, [c.label for c in columns])
    for r, row in enumerate(rows, start=2):
        for c, column in enumerate(columns, start=1):
            _put(ws, r, c, column.value(row), column.number_format)


def _summons_sheet(ws: Worksheet, rows: Iterable[Ranked]) -> None:
    _header(ws, [_("单位"), _("所在区划"), _("红牌超期次数"), _("退回次数"), _("得分"), _("排名")])
    for r, row in enumerate(rows, start=2):
        values: list[Value] = [
            row.name, row.place, row.figures["overdue"], row.figures["returns"], row.score.total, row.rank,
        ]
        for c, value in enumerate(values, start=1):
            _put(ws, r, c, value)


def _cases_sheet(ws: Worksheet, cases: Iterable[Case]) -> None:
    _header(ws, [_("案件编号"), _("标题"), _("状态"), _("所属区划"), _("承办单位"), _("办结时限"), _("上报时间")])
    for r, case in enumerate(cases, start=2):
        values: list[Value] = [
            case.number, case.title, str(case.get_status_display()), case.region.name,
            case.assigned_unit.name if case.assigned_unit else None, case.due_at, case.created_at,
        ]
        for c, value in enumerate(values, start=1):
            _put(ws, r, c, value)


def _orders_sheet(ws: Worksheet, orders: Iterable[SupervisionOrder]) -> None:
    _header(ws, [_("督办时间"), _("被督办单位"), _("案件编号"), _("督办事由"), _("回复期限"), _("状态"),
                 _("回复时间"), _("回复")])
    for r, order in enumerate(orders, start=2):
        values: list[Value] = [
            order.created_at, order.unit.name, order.case.number if order.case else None, order.reason,
            order.respond_by.isoformat(), str(order.get_status_display()), order.responded_at,
            order.response or None,
        ]
        for c, value in enumerate(values, start=1):
            _put(ws, r, c, value)


def _bytes(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def ranking_workbook(evaluation: Evaluation) -> bytes:
    """Sheet 排名 (units), and 区域排名 when regions were ranked too."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = _("排名")
    _ranking_sheet(ws, evaluation.units)
    if evaluation.regions:
        _ranking_sheet(wb.create_sheet(_("区域排名")), evaluation.regions)
    return _bytes(wb)


def circular_workbook(circular: Circular) -> bytes:
    """Sheets 排名, 约谈名单, 超期案件 and 督办 of the monthly circular."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = _("排名")
    _ranking_sheet(ws, circular.evaluation.units)
    _summons_sheet(wb.create_sheet(_("约谈名单")), circular.summons)
    _cases_sheet(wb.create_sheet(_("超期案件")), circular.overdue_cases)
    _orders_sheet(wb.create_sheet(_("督办")), circular.supervision_orders)
    return _bytes(wb)
