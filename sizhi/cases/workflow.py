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
    SUSPENDED = "suspended", _("缓办")
    CLOSED = "closed", _("已结案")
    REJECTED = "rejected", _("不予受理")
    MERGED = "merged", _("已并案")


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
    ESCALATE = "escalate", _("上报上级")
    DELEGATE = "delegate", _("下派")
    ASSIST_FINISH = "assist_finish", _("协办完成")
    ASSIST_WAIVE = "assist_waive", _("免除协办")
    EXTEND_REQUEST = "extend_request", _("申请延期")
    EXTEND_APPROVE = "extend_approve", _("批准延期")
    EXTEND_REJECT = "extend_reject", _("驳回延期")
    SUSPEND = "suspend", _("缓办")
    RESUME = "resume", _("恢复办理")
    WARN_YELLOW = "warn_yellow", _("黄牌预警")
    WARN_RED = "warn_red", _("红牌超期")
    SUPERVISE = "supervise", _("督办")
    SUPERVISION_REPLY = "supervision_reply", _("督办回复")
    CALLBACK = "callback", _("回访")
    MERGE = "merge", _("并案")
    SUPPORT = "support", _("附议")
    # Not a transition: a public remark that leaves the status as it is, written by
    # services.case_add_public_note and deliberately absent from TRANSITIONS.
    NOTE = "note", _("备注")


@dataclass(frozen=True)
class Transition:
    """`target=None` keeps the status: the action is recorded on the case without moving it."""

    sources: frozenset[str]
    target: str | None

    def target_from(self, status: str) -> str:
        return status if self.target is None else self.target


S = CaseStatus
# While the case is with a handling unit or waiting for a decision after handling.
WORKING = frozenset({S.REGISTERED, S.DISPATCHED, S.HANDLING, S.VERIFYING, S.VERIFIED})
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
    # 上报: beyond this level's authority, the case goes to the level above for dispatch.
    CaseAction.ESCALATE: Transition(frozenset({S.REGISTERED, S.DISPATCHED, S.HANDLING}), S.REGISTERED),
    # 下派: a higher level hands a case it holds to a lower level for dispatch.
    CaseAction.DELEGATE: Transition(frozenset({S.REGISTERED}), S.REGISTERED),
    CaseAction.ASSIST_FINISH: Transition(frozenset({S.DISPATCHED, S.HANDLING}), None),
    CaseAction.ASSIST_WAIVE: Transition(frozenset({S.DISPATCHED, S.HANDLING}), None),
    CaseAction.EXTEND_REQUEST: Transition(frozenset({S.DISPATCHED, S.HANDLING}), None),
    CaseAction.EXTEND_APPROVE: Transition(frozenset({S.DISPATCHED, S.HANDLING, S.SUSPENDED}), None),
    CaseAction.EXTEND_REJECT: Transition(frozenset({S.DISPATCHED, S.HANDLING, S.SUSPENDED}), None),
    CaseAction.SUSPEND: Transition(frozenset({S.HANDLING}), S.SUSPENDED),
    CaseAction.RESUME: Transition(frozenset({S.SUSPENDED}), S.HANDLING),
    CaseAction.WARN_YELLOW: Transition(WORKING, None),
    CaseAction.WARN_RED: Transition(WORKING, None),
    CaseAction.SUPERVISE: Transition(WORKING | {S.REPORTED, S.ACCEPTED, S.SUSPENDED}, None),
    CaseAction.SUPERVISION_REPLY: Transition(WORKING | {S.REPORTED, S.ACCEPTED, S.SUSPENDED, S.CLOSED}, None),
    CaseAction.CALLBACK: Transition(frozenset({S.CLOSED}), None),
    # 并案: a report of a problem already being handled joins that case; its reporter follows it.
    CaseAction.MERGE: Transition(frozenset({S.REPORTED, S.ACCEPTED, S.REGISTERED}), S.MERGED),
    # "Me too": recorded on the case being supported, which keeps its status.
    CaseAction.SUPPORT: Transition(WORKING | {S.REPORTED, S.ACCEPTED, S.SUSPENDED}, None),
}

# Actions the system takes by itself (the deadline sweep); no person performs them from a form.
SYSTEM_ACTIONS = frozenset({CaseAction.WARN_YELLOW, CaseAction.WARN_RED})
# Actions taken through their own objects (a sub-task, an extension request, a supervision
# order) rather than from the case's action list.
OBJECT_ACTIONS = frozenset({
    CaseAction.ASSIST_FINISH, CaseAction.ASSIST_WAIVE, CaseAction.EXTEND_APPROVE, CaseAction.EXTEND_REJECT,
    CaseAction.SUPERVISE, CaseAction.SUPERVISION_REPLY, CaseAction.CALLBACK, CaseAction.MERGE, CaseAction.SUPPORT,
})

FINAL_STATUSES = frozenset({S.CLOSED, S.REJECTED, S.MERGED})
OPEN_STATUSES = frozenset(s for s in CaseStatus if s not in FINAL_STATUSES)


def allowed_actions(status: str) -> list[str]:
    """Actions a person can start from the case page in this status."""
    return [
        action for action, t in TRANSITIONS.items()
        if status in t.sources and action not in SYSTEM_ACTIONS and action not in OBJECT_ACTIONS
    ]


class Priority(models.TextChoices):
    NORMAL = "normal", _("一般")
    URGENT = "urgent", _("紧急")
    EMERGENCY = "emergency", _("特急")


class WarningLevel(models.TextChoices):
    NONE = "none", _("正常")
    YELLOW = "yellow", _("黄牌预警")
    RED = "red", _("红牌超期")


class AssignmentRole(models.TextChoices):
    LEAD = "lead", _("主办")
    ASSIST = "assist", _("协办")


class AssignmentStatus(models.TextChoices):
    PENDING = "pending", _("待签收")
    SIGNED = "signed", _("办理中")
    DONE = "done", _("已完成")
    WAIVED = "waived", _("已免除")
    RETURNED = "returned", _("已退回")
    ESCALATED = "escalated", _("已上报")
    WITHDRAWN = "withdrawn", _("已撤回")


ACTIVE_ASSIGNMENT = frozenset({AssignmentStatus.PENDING, AssignmentStatus.SIGNED})


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
