"""Periodic upkeep run by the background worker."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from sizhi.ops.media import remove_orphan_media


@db_periodic_task(crontab(minute="40", hour="3"))
def remove_orphan_photos() -> int:
    # Files of reports whose request died before commit (see sizhi.ops.media).
    return remove_orphan_media()
