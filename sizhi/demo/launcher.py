"""Run several long-lived processes as one: the web server and the background worker of
`sizhi serve`. Each child gets its own process group, so a Ctrl-C reaches the launcher alone and
is passed on deliberately; when any child dies the others are stopped too, so `make run` never
leaves a server without its worker (or the other way round)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol


class Output(Protocol):
    def write(self, text: str, /) -> Any: ...

    def flush(self) -> Any: ...


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    process: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Launcher:
    def __init__(
        self,
        children: Sequence[tuple[str, Sequence[str]]],
        *,
        out: Output,
        env: Mapping[str, str] | None = None,
        ready: Callable[[], bool] | None = None,
        on_ready: Callable[[], None] | None = None,
        poll_seconds: float = 0.2,
        grace_seconds: float = 10.0,
    ) -> None:
        self.children = [Child(name, list(argv)) for name, argv in children]
        self.out = out
        self.env = dict(env) if env is not None else None
        self.ready = ready
        self.on_ready = on_ready
        self.poll_seconds = poll_seconds
        self.grace_seconds = grace_seconds
        self._signal: int | None = None

    def _note_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signal = signum

    def run(self) -> int:
        """Start every child and wait. Returns 0 after a requested stop (SIGINT/SIGTERM), or the
        exit status of the child that died first (1 if it exited cleanly: it was not asked to)."""
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {s: signal.signal(s, self._note_signal) for s in handled}
        try:
            for child in self.children:
                child.process = subprocess.Popen(child.argv, env=self.env, start_new_session=True)  # noqa: S603
            announced = self.ready is None
            while True:
                if self._signal is not None:
                    self._say(f"收到信号 {signal.Signals(self._signal).name}，正在停止全部进程…")
                    self.stop(signal.SIGINT if self._signal == signal.SIGINT else signal.SIGTERM)
                    return 0
                for child in self.children:
                    assert child.process is not None
                    code = child.process.poll()
                    if code is not None:
                        self._say(f"{child.name} 已退出（退出码 {code}），正在停止其余进程。")
                        self.stop(signal.SIGTERM)
                        return code or 1
                if not announced and self.ready is not None and self.ready():
                    announced = True
                    if self.on_ready is not None:
                        self.on_ready()
                time.sleep(self.poll_seconds)
        finally:
            self.stop(signal.SIGTERM)
            for s, handler in previous.items():
                signal.signal(s, handler)

    def stop(self, first: int) -> None:
        """Send `first` to every live child's process group, then SIGKILL what is still there
        after the grace period."""
        for child in self.children:
            if child.alive():
                self._kill_group(child, first)
        deadline = time.monotonic() + self.grace_seconds
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._kill_group(child, signal.SIGKILL)
                child.process.wait()
            # The group may hold grandchildren (runserver's reloader): make sure none outlive it.
            self._kill_group(child, signal.SIGKILL)

    @staticmethod
    def _kill_group(child: Child, sig: int) -> None:
        assert child.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, sig)

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()
