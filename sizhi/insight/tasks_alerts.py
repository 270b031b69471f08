"""Background jobs of early warnings and briefings. djhuey discovers only `tasks` modules, so
sizhi.insight.tasks imports this one.

Times are Asia/Shanghai (settings.TIME_ZONE) whatever the queue's own clock: huey matches a
crontab against UTC by default, which would put the 07:00 briefing at 15:00 local time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from sizhi.insight import alerts, briefings
from sizhi.insight.models import BriefingPeriod

logger = logging.getLogger("sizhi.insight.alerts")


def local_crontab(**fields: str) -> Callable[[dt.datetime], bool]:
    """A huey crontab read in the platform's time zone rather than the queue's clock."""
    check = crontab(**fields)

    def validate(timestamp: dt.datetime) -> bool:
        if timestamp.tzinfo is None:
            # huey hands over naive UTC when it runs on UTC (its default), else naive local time.
            timestamp = timestamp.replace(tzinfo=dt.UTC) if HUEY.utc else timestamp.astimezone()
        local = timestamp.astimezone(ZoneInfo(settings.TIME_ZONE)).replace(tzinfo=None)
        return bool(check(local))

    return validate


@db_periodic_task(crontab(minute="*"))
def alerts_scan_new_cases() -> dict[str, int]:
    result = alerts.scan_new_cases()
    return {"cases": result.cases, "alerts": len(result.alerts), "last_id": result.last_id}


@db_task()
def alerts_scan_now() -> dict[str, int]:
    """Queued by alerts.scan_after_commit right after a report is committed."""
    result = alerts.scan_new_cases()
    return {"cases": result.cases, "alerts": len(result.alerts), "last_id": result.last_id}


@db_periodic_task(crontab(minute="*/10"))
def alerts_detect_spikes() -> int:
    return len(alerts.detect_spikes())


@db_periodic_task(local_crontab(hour="7", minute="0"))
def briefings_daily() -> int:
    made = briefings.generate_all(BriefingPeriod.DAILY)
    logger.info("daily briefings: %d", len(made))
    return len(made)


@db_periodic_task(local_crontab(day_of_week="1", hour="7", minute="30"))
def briefings_weekly() -> int:
    made = briefings.generate_all(BriefingPeriod.WEEKLY)
    logger.info("weekly briefings: %d", len(made))
    return len(made)
