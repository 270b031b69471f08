"""Coalesced nudges: one queued job per short window however many requests ask for it.

Report intake asks the worker to deliver the outbox and to scan for early warnings after every
commit. Each of those jobs works through everything pending, so under a steady intake one job
per window does what one job per request did, at a fraction of the worker's time. The first
request of a window queues the job to run when the window closes and leaves a marker that lives
exactly as long; a request that finds the marker committed before that job starts, so the job
sees its rows. A lost job (worker killed) is covered by the job's periodic sweep.

The markers live in Redis, or in this process's memory while Redis is down (ops.redis_outage):
at worst each web process queues its own job per window.
"""

from __future__ import annotations

import logging
from typing import Any

from huey.contrib.djhuey import HUEY

from sizhi.ops.redis_outage import failover_to_memory

logger = logging.getLogger("sizhi.ops.nudge")

_markers = failover_to_memory("queued-job markers")


def nudge(task: Any, *, key: str, delay: int) -> None:
    """Run the huey task `task` (no arguments) `delay` seconds from now, unless a nudge with the
    same key is already waiting. In immediate mode (tests, SIZHI_TASKS_IMMEDIATE) it runs now."""
    try:
        if HUEY.immediate:
            task()
            return
        if _markers.add(f"sizhi:nudge:{key}", 1, timeout=delay):
            task.schedule(delay=delay)
    except Exception:  # the job's periodic sweep catches up; a request must never fail for this
        logger.exception("could not queue %s", key)
