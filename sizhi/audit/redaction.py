"""Keeps sensitive values out of the application's own logs, as the audit guard keeps them out of
the audit trail.

Django logs the path of every refused request ("Not Found: /track/<code>/"); a tracking code is
the only credential of an anonymous reporter. And a message may carry a phone or ID number that
some code interpolated. The filter below, installed on every log handler at start-up, replaces
secret path segments (the rule of the gunicorn access log) and phone/ID-like numbers.
"""

from __future__ import annotations

import logging
import re

from sizhi.config.gunicorn import redact_path

REDACTED = "[redacted]"
# Phone (optionally +86) and ID numbers, allowing the separators people type; digits only at
# the edges so that longer numbers (case numbers, timestamps) are left alone.
_NUMBER_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}|\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])"
)
_PATH_RE = re.compile(r"(?<![\w/])/[^\s\"']*")
_PATH_LOGGERS = ("django.request", "django.server", "django.security")


def redact(text: str, *, paths: bool = False) -> str:
    text = _NUMBER_RE.sub(REDACTED, text)
    if paths:
        text = _PATH_RE.sub(lambda m: redact_path(m.group(0).split("?", 1)[0]), text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's business
            return True
        cleaned = redact(message, paths=record.name.startswith(_PATH_LOGGERS))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install() -> None:
    """Attach the filter to every handler configured so far (settings.LOGGING and Django's
    defaults are set up before the apps are ready)."""
    loggers = [logging.getLogger(), *(
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    )]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
