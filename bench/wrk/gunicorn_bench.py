"""gunicorn config of the intake benchmark (bench/intake.py): the production profile's
(sizhi/config/gunicorn.py) with the report-intake limits raised so far that wrk, sending
thousands of reports an hour from 127.0.0.1 with a handful of accounts, is never refused.
The limiter still counts every request in Redis exactly as in production, so its cost stays
in the figures; only the threshold moves. bench/flood.py runs without this file."""

from typing import Any

from sizhi.config.gunicorn import *  # noqa: F403
from sizhi.config.gunicorn import pre_fork as _production_pre_fork

UNLIMITED = 10**9


def _raise_intake_limits() -> None:
    from dataclasses import replace

    from sizhi.accounts import throttle

    for name in ("REPORTS_PER_ADDRESS", "REPORTS_PER_USER", "REPORTS_PER_PHONE"):
        setattr(throttle, name, replace(getattr(throttle, name), count=UNLIMITED))


def pre_fork(server: Any, worker: Any) -> None:  # type: ignore[no-redef]  # replaces the imported hook
    _production_pre_fork(server, worker)
    _raise_intake_limits()


def post_fork(server: Any, worker: Any) -> None:
    # Without preload the app loads after the fork; the limits are raised in the worker then.
    _raise_intake_limits()
