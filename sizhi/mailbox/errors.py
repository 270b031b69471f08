"""Errors of the mailbox services, each with a stable code that pages return as is."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class LetterError(Exception):
    code = "letter_error"
    http_status = 400

    def __init__(self, message: object, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        if code is not None:
            self.code = code
        self.field = field


class LetterNotFound(LetterError):
    """Refused because the actor may not see the letter: answered exactly like a letter that does
    not exist, so a refusal tells nothing about existence."""

    code = "letter_not_found"
    http_status = 404

    def __init__(self) -> None:
        super().__init__(_("没有找到这封来信。"))


class LetterTransitionNotAllowed(LetterError):
    http_status = 409

    def __init__(self, action: str) -> None:
        super().__init__(_("这封来信当前的状态下不能进行此操作，请刷新后查看。"), code=f"letter_{action}_not_allowed")


class LetterConflict(LetterError):
    code = "letter_conflict"
    http_status = 409

    def __init__(self) -> None:
        super().__init__(_("这封来信刚刚已被处理，请刷新后重试。"))
