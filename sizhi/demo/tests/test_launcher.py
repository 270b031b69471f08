"""`sizhi serve` runs the web server and the worker as one: both stop together."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading

from sizhi.demo.launcher import Launcher

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_child_that_dies_stops_the_other_and_its_status_is_returned() -> None:
    out = io.StringIO()
    launcher = Launcher(
        [("web", SLEEPER), ("worker", [sys.executable, "-c", "raise SystemExit(3)"])],
        out=out, poll_seconds=0.05, grace_seconds=5,
    )
    assert launcher.run() == 3
    web = launcher.children[0].process
    assert web is not None and web.returncode is not None
    assert _gone(web.pid)
    assert "worker" in out.getvalue()


def test_a_child_that_exits_cleanly_still_counts_as_a_failure() -> None:
    launcher = Launcher([("web", SLEEPER), ("worker", [sys.executable, "-c", "pass"])], out=io.StringIO(),
                        poll_seconds=0.05)
    assert launcher.run() == 1


def test_ctrl_c_stops_every_child_and_exits_cleanly() -> None:
    announced = threading.Event()
    launcher = Launcher(
        [("web", SLEEPER), ("worker", SLEEPER)], out=io.StringIO(), poll_seconds=0.05, grace_seconds=5,
        ready=lambda: True, on_ready=announced.set,
    )
    # Whatever the handler was before (a run started in the background by a shell without job
    # control inherits SIGINT ignored, not Python's default), the launcher must give it back.
    before = signal.getsignal(signal.SIGINT)
    timer = threading.Timer(0.5, os.kill, args=(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        assert launcher.run() == 0
    finally:
        timer.cancel()
    assert announced.is_set()
    for child in launcher.children:
        assert child.process is not None and child.process.returncode is not None
        assert _gone(child.process.pid)
    # The launcher gave the signal handlers back.
    assert signal.getsignal(signal.SIGINT) is before
