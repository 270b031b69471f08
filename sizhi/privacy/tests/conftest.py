"""Session-end check: when the privacy tests are part of a run, this process's log file of the
whole run (every app's tests, not only these) is searched for phone and ID-card numbers at the
end, and the run fails if there is one. The per-test check in test_log_leaks.py covers only what
ran before it; this covers everything after, too."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from sizhi.privacy.leaks import scan_files

RUN_STARTED = time.time() - 5  # collection starts a moment after the process; leave some slack


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    log_file = getattr(settings, "SIZHI_TEST_LOG_FILE", None)
    if log_file is None or not log_file.exists():
        return
    findings = scan_files([log_file])
    if not findings:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"personal data in clear in the test log ({len(findings)} findings, numbers masked):"]
    lines += [f"  {f}" for f in findings[:30]]
    if reporter is not None:
        reporter.write_line("")
        reporter.write_line("\n".join(lines), red=True, bold=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _fresh_unmask_budget() -> None:
    """Each test starts with a full hourly unmask budget (the local-memory cache outlives tests)."""
    from django.core.cache import cache

    cache.clear()
