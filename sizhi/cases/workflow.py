"""The case life cycle written once, as data: states, actions and which action moves which state.

Every service in cases.services looks its action up here; nothing else decides whether a
transition is legal.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseStatus(models.TextChoices):
    REPORTED = "reported", _("待受理")
    ACCEPTED = "accepted", _("待立案")
    REGISTERED = "registered", _("待派遣")
    DISPATCHED = "dispatched", _("待签收")
    HANDLING = "handling", _("处置中")
    VERIFYING = "verifying", _("待核查")
    VERIFIED = "verified", _("待结案")
    CLOSED = "closed", _("已结案")
    REJECTED = "rejected", _("不予受理")


class CaseAction(models.TextChoices):
    SUBMIT = "submit", _("上报")
    ACCEPT = "accept", _("受理")
    REJECT = "reject", _("不予受理")
    REGISTER = "register", _("立案")
    DISPATCH = "dispatch", _("派遣")
    SIGN_FOR = "sign_for", _("签收")
    RETURN = "return", _("退回")
    HANDLE = "handle", _("处置")
    VERIFY_PASS = "verify_pass", _("核查通过")
    VERIFY_FAIL = "verify_fail", _("核查不通过")
    CLOSE = "close", _("结案")
    RATE = "rate", _("评价")
    REOPEN = "reopen", _("重新办理")
    # Not a transition: a public remark that leaves the status as it is, written by
    # services.case_add_public_note and deliberately absent from TRANSITIONS.
    NOTE = "note", _("备注")


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str


S = CaseStatus
TRANSITIONS: dict[str, Transition] = {
    CaseAction.SUBMIT: Transition(frozenset(), S.REPORTED),
    CaseAction.ACCEPT: Transition(frozenset({S.REPORTED}), S.ACCEPTED),
    CaseAction.REJECT: Transition(frozenset({S.REPORTED}), S.REJECTED),
    CaseAction.REGISTER: Transition(frozenset({S.ACCEPTED}), S.REGISTERED),
    CaseAction.DISPATCH: Transition(frozenset({S.REGISTERED}), S.DISPATCHED),
    CaseAction.SIGN_FOR: Transition(frozenset({S.DISPATCHED}), S.HANDLING),
    CaseAction.RETURN: Transition(frozenset({S.DISPATCHED, S.HANDLING}), S.REGISTERED),
    CaseAction.HANDLE: Transition(frozenset({S.HANDLING}), S.VERIFYING),
    CaseAction.VERIFY_PASS: Transition(frozenset({S.VERIFYING}), S.VERIFIED),
    CaseAction.VERIFY_FAIL: Transition(frozenset({S.VERIFYING}), S.HANDLING),
    CaseAction.CLOSE: Transition(frozenset({S.VERIFIED}), S.CLOSED),
    CaseAction.RATE: Transition(frozenset({S.CLOSED}), S.CLOSED),
    CaseAction.REOPEN: Transition(frozenset({S.CLOSED}), S.REGISTERED),
}

OPEN_STATUSES = frozenset(s for s in CaseStatus if s not in {S.CLOSED, S.REJECTED})
FINAL_STATUSES = frozenset({S.CLOSED, S.REJECTED})


def allowed_actions(status: str) -> list[str]:
    return [action for action, t in TRANSITIONS.items() if status in t.sources]


class RejectionKind(models.TextChoices):
    INVALID = "invalid", _("无效信息")
    DUPLICATE = "duplicate", _("重复上报")
    NOT_OUR_BUSINESS = "not_ours", _("不属于受理范围")


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASICALLY = "basically", _("基本满意")
    UNSATISFIED = "unsatisfied", _("不满意")


class Channel(models.TextChoices):
    APP = "app", _("有事您说话（App/网页）")
    HOTLINE = "hotline", _("12345热线")
    PATROL = "patrol", _("网格巡查")
    MAILBOX = "mailbox", _("书记信箱")
    SENSOR = "sensor", _("视频/感知设备")
    OPEN311 = "open311", _("外部系统")
