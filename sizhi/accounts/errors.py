"""Errors of the account services, shaped like cases.errors: a message for people, a stable
code for programs, and the form field it belongs to."""

from __future__ import annotations


class AccountError(Exception):
    code = "account_error"
    http_status = 400

    def __init__(
        self, message: object, *, code: str | None = None, field: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(str(message))
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        # A refusal for going too fast: answered 429 with Retry-After (seconds).
        self.retry_after = retry_after
        if retry_after is not None:
            self.http_status = 429
