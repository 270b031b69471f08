"""Answers to a category's further questions (CategoryAttribute), checked and normalised before
report_submit stores them on the case.

What is stored, by datatype: string and text as cleaned text, number as int or float,
datetime as ISO 8601 with the local offset, singlevaluelist as the chosen key and
multivaluelist as a list of keys in the order the options are defined. Questions that need no
answer (`variable=False`) store nothing, whatever was sent for them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from sizhi.cases.errors import ReportInvalid
from sizhi.cases.models import AttributeDatatype, Category, CategoryAttribute
from sizhi.cases.text import clean_text

D = AttributeDatatype
STRING_MAX = 200
TEXT_MAX = 2000


def _invalid(message: str) -> ReportInvalid:
    return ReportInvalid(message, code="attribute_invalid", field="attributes")


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return clean_text(value) == ""
    if isinstance(value, list | tuple):
        return all(_is_blank(v) for v in value)
    return False


def _text(question: CategoryAttribute, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise _invalid(_("“%(q)s”的回答格式不正确。") % {"q": question.description})
    text = clean_text(value)
    if len(text) > limit:
        raise _invalid(_("“%(q)s”不能超过 %(n)d 个字。") % {"q": question.description, "n": limit})
    return text


def _number(question: CategoryAttribute, value: object) -> int | float:
    # bool is an int to Python, never an answer to "how many households".
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(clean_text(value))
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise _invalid(_("“%(q)s”应填写数字。") % {"q": question.description})
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _datetime(question: CategoryAttribute, value: object) -> str:
    parsed: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(clean_text(value))
        except ValueError:  # well-formed but impossible, e.g. 2026-02-30
            parsed = None
    if parsed is None:
        raise _invalid(_("“%(q)s”应填写日期时间，例如 2026-05-01T08:30:00+08:00。") % {"q": question.description})
    if timezone.is_naive(parsed):
        # A browser's datetime-local field sends no offset; the reporter meant local time.
        parsed = timezone.make_aware(parsed)
    return timezone.localtime(parsed).isoformat(timespec="seconds")


def _key(question: CategoryAttribute, value: object) -> str:
    if not isinstance(value, str) or clean_text(value) not in question.option_keys():
        raise _invalid(_("“%(q)s”的选项无效，请从列出的选项中选择。") % {"q": question.description})
    return clean_text(value)


def _answer(question: CategoryAttribute, value: object) -> object:
    if question.datatype == D.MULTIVALUELIST:
        if not isinstance(value, list | tuple):
            raise _invalid(_("“%(q)s”是多选题，请以列表形式提交。") % {"q": question.description})
        chosen = {_key(question, v) for v in value if not _is_blank(v)}
        return [k for k in question.option_keys() if k in chosen]
    if isinstance(value, list | tuple):
        raise _invalid(_("“%(q)s”只能填写一个值。") % {"q": question.description})
    if question.datatype == D.STRING:
        text = _text(question, value, STRING_MAX)
        if "\n" in text:
            raise _invalid(_("“%(q)s”只能填写一行文字。") % {"q": question.description})
        return text
    if question.datatype == D.TEXT:
        return _text(question, value, TEXT_MAX)
    if question.datatype == D.NUMBER:
        return _number(question, value)
    if question.datatype == D.DATETIME:
        return _datetime(question, value)
    return _key(question, value)


def clean_attribute_answers(category: Category | None, answers: Mapping[str, object]) -> dict[str, object]:
    """The answers as they are stored, or ReportInvalid(code="attribute_invalid") naming the
    question that is unanswered, unknown or answered in the wrong form."""
    questions = list(category.attributes.all()) if category is not None else []
    by_code = {q.code: q for q in questions}
    for code in answers:
        if code not in by_code:
            if category is None:
                raise _invalid(_("未选择事件类别，不能填写补充信息。"))
            raise _invalid(_("不认识的补充信息“%(code)s”。") % {"code": clean_text(str(code))[:40]})

    cleaned: dict[str, object] = {}
    for question in sorted(questions, key=lambda q: (q.order, q.code)):
        if not question.variable:
            continue
        value = answers.get(question.code)
        if _is_blank(value):
            if question.required:
                raise _invalid(_("请回答“%(q)s”。") % {"q": question.description})
            continue
        answer = _answer(question, value)
        if answer == []:
            if question.required:
                raise _invalid(_("请回答“%(q)s”。") % {"q": question.description})
            continue
        cleaned[question.code] = answer
    return cleaned
