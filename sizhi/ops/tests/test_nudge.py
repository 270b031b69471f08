"""ops.nudge: one queued job per window, whatever the number of requests asking for it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from huey.contrib.djhuey import HUEY

from sizhi.ops import nudge as nudges


class FakeTask:
    def __init__(self) -> None:
        self.ran = 0
        self.scheduled: list[int] = []

    def __call__(self) -> None:
        self.ran += 1

    def schedule(self, *, delay: int) -> None:
        self.scheduled.append(delay)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(HUEY, "immediate", False)
    cache.clear()
    yield
    cache.clear()


def test_requests_in_one_window_share_one_job(queued: None) -> None:
    task = FakeTask()
    for _ in range(5):
        nudges.nudge(task, key="t-share", delay=2)
    assert task.scheduled == [2] and task.ran == 0
    # Another kind of job has its own window.
    other = FakeTask()
    nudges.nudge(other, key="t-other", delay=1)
    assert other.scheduled == [1]


def test_the_window_closes_when_the_job_runs(queued: None) -> None:
    task = FakeTask()
    nudges.nudge(task, key="t-close", delay=2)
    cache.delete("sizhi:nudge:t-close")  # the marker expires when the job is due
    nudges.nudge(task, key="t-close", delay=2)
    assert task.scheduled == [2, 2]


def test_immediate_mode_runs_the_job_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(HUEY, "immediate", True)
    task = FakeTask()
    nudges.nudge(task, key="t-now", delay=2)
    nudges.nudge(task, key="t-now", delay=2)
    assert task.ran == 2 and task.scheduled == []


def test_a_queue_that_refuses_is_logged_not_raised(queued: None, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(FakeTask):
        def schedule(self, *, delay: int) -> None:
            raise ConnectionError("queue down")

    nudges.nudge(Broken(), key="t-broken", delay=1)
    assert "could not queue t-broken" in caplog.text
