"""Periodic clean-up of the API's stored idempotent answers."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from sizhi.api.services import idempotency_purge


@db_periodic_task(crontab(minute="23"))
def purge_idempotency_records() -> int:
    # Hourly: a key is honoured for at least 24 hours and at most 25.
    return idempotency_purge()
