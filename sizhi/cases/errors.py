"""Errors of the case services. Each carries a stable code that web pages and APIs return as is."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from sizhi.cases.workflow import CaseAction


class CaseError(Exception):
    code = "case_error"
    http_status = 400

    def __init__(self, message: object, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        if code is not None:
            self.code = code
        self.field = field


class TransitionNotAllowed(CaseError):
    http_status = 409

    def __init__(self, action: str, status: str) -> None:
        label = CaseAction(action).label if action in CaseAction.values else action
        super().__init__(
            _("当前状态下不能执行“%(action)s”。") % {"action": label}, code=f"case_{action}_not_allowed"
        )
        self.action = action
        self.status = status


class CasePermissionDenied(CaseError):
    code = "case_permission_denied"
    http_status = 403


class CaseConflict(CaseError):
    """Someone else changed the case first; the caller should reload and decide again."""

    code = "case_conflict"
    http_status = 409

    def __init__(self) -> None:
        super().__init__(_("该案件刚刚已被他人处理，请刷新后重试。"))


class ReportInvalid(CaseError):
    code = "report_invalid"
