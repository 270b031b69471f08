"""Periodic work of the case domain, run by the background worker."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from sizhi.cases.deadlines import sweep_warnings


@db_periodic_task(crontab(minute="*"))
def sweep_deadlines() -> dict[str, int]:
    # Safe to run in several workers at once: every move is a conditional UPDATE.
    result = sweep_warnings()
    return {"yellow": result.yellow, "red": result.red}
