"""Background jobs of the insight app."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from sizhi.insight.services import classifier_retrain_from_cases

logger = logging.getLogger("sizhi.insight")


# Sunday night: closed cases of the week are in, and the training run does not compete with
# the day's intake for the worker's cores.
@db_periodic_task(crontab(day_of_week="0", hour="3", minute="17"))
def classifier_retrain_weekly() -> None:
    outcome = classifier_retrain_from_cases()
    logger.info("classifier retrain: %s", outcome.reason)
from sizhi.insight import tasks_alerts  # noqa: E402, F401
