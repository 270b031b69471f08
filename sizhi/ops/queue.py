"""The huey queue of the production profile (settings.HUEY with REDIS_URL), made to survive a
Redis outage (see sizhi.ops.redis_outage).

Every job the platform queues from a request is a nudge whose work is already committed to the
database and is also done by a periodic sweep: `deliver_pending` sends the outbox (swept every
minute by `deliver_pending_periodically`), `alerts_scan_now` scans new reports (the minute scan).
So an enqueue that cannot reach Redis is dropped, logged once per outage, instead of raising
into the request (after its transaction committed, a report would answer 500 and the on-commit
hooks after it would not run). The outbox's claim makes the later send happen exactly once.

In the consumer, reading the queue or the schedule during an outage waits a little and finds
nothing instead of logging a traceback every few seconds; the periodic jobs the scheduler cannot
queue meanwhile run at the next tick after Redis is back.

Connections are bounded in time: a dead Redis refuses at once, but a hung one or a network that
drops packets would otherwise hold the caller for the operating system's TCP timeout.
"""

from __future__ import annotations

import time
from typing import Any

from huey import RedisHuey
from huey.api import Task
from redis import ConnectionPool

from sizhi.ops.redis_outage import REDIS, UNAVAILABLE, RedisOutage

# Seconds a consumer thread waits before looking at the queue again during an outage.
IDLE_SECONDS = 1.0
# huey's blocking read (BRPOP) waits this long for a job; the socket must wait a little longer.
READ_TIMEOUT = 1


class ResilientRedisHuey(RedisHuey):
    outage: RedisOutage = REDIS

    def __init__(self, name: str = "huey", *, url: str, timeout_ms: int = 500, **kwargs: Any) -> None:
        seconds = timeout_ms / 1000
        pool = ConnectionPool.from_url(
            url, socket_connect_timeout=seconds, socket_timeout=READ_TIMEOUT + seconds
        )
        super().__init__(name, connection_pool=pool, read_timeout=READ_TIMEOUT, **kwargs)

    def enqueue(self, task: Task) -> Any:
        if not self.outage.should_try():
            return None
        try:
            result = super().enqueue(task)
        except UNAVAILABLE as exc:
            self.outage.failed(exc, f"queueing {task.name}")
            return None
        self.outage.succeeded()
        return result

    def dequeue(self) -> Task | None:
        if not self.outage.should_try():
            time.sleep(IDLE_SECONDS)  # the consumer asks again at once when it gets nothing
            return None
        try:
            task = super().dequeue()
        except UNAVAILABLE as exc:
            self.outage.failed(exc, "reading the queue")
            time.sleep(IDLE_SECONDS)
            return None
        # Nothing is no proof of health: huey's blocking read answers None for an empty queue
        # and for a socket timeout alike (a hung Redis), so only a job counts as an answer.
        if task is not None:
            self.outage.succeeded()
        return task

    def execute(self, task: Task, timestamp: Any = None) -> Any:
        # Around the job huey reads and deletes its revoke marker in Redis; a job running when
        # Redis dies has done its work (or, refused before it started, a sweep does it).
        try:
            return super().execute(task, timestamp)
        except UNAVAILABLE as exc:
            self.outage.failed(exc, f"running {task.name}")
            return None

    def read_schedule(self, timestamp: Any = None) -> list[Task]:
        if not self.outage.should_try():
            return []
        try:
            tasks: list[Task] = super().read_schedule(timestamp)
        except UNAVAILABLE as exc:
            self.outage.failed(exc, "reading the schedule")
            return []
        self.outage.succeeded()
        return tasks
