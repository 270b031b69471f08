"""Soft lockout with a fake clock: no test sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from sizhi.security import lockout


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    cache.clear()
    fake = FakeClock()
    monkeypatch.setattr(lockout, "clock", fake)
    yield fake
    cache.clear()


def fail(account: str = "alice", address: str = "10.0.0.1") -> lockout.Attempt | lockout.Refusal:
    """One attempt that turns out wrong (the reservation is simply kept)."""
    return lockout.begin("login", account=account, address=address)


def test_delay_grows_from_the_sixth_attempt_and_is_capped() -> None:
    assert [lockout.delay_after(n) for n in range(0, 8)] == [0, 0, 0, 0, 0, 1, 2, 4]
    assert lockout.delay_after(15) == 900
    assert lockout.delay_after(10_000) == lockout.MAX_DELAY == 15 * 60


def test_five_failures_are_free_then_the_account_waits(clock: FakeClock) -> None:
    for _ in range(5):
        assert isinstance(fail(), lockout.Attempt)
    refused = fail()
    assert isinstance(refused, lockout.Refusal)
    assert refused.reason == "delay"
    assert refused.retry_at == clock.now + 1
    clock.now += 1
    assert isinstance(fail(), lockout.Attempt)  # the 6th failure: now 2 s
    refused = fail()
    assert isinstance(refused, lockout.Refusal) and refused.retry_in(clock.now) == 2
    clock.now += 2
    assert isinstance(fail(), lockout.Attempt)


def test_a_refused_attempt_does_not_extend_the_wait(clock: FakeClock) -> None:
    for _ in range(5):
        fail()
    for _ in range(20):
        assert isinstance(fail(), lockout.Refusal)
    clock.now += 1
    assert isinstance(fail(), lockout.Attempt)
    assert lockout.consecutive_failures("login", account="alice") == 6


def test_success_resets_the_consecutive_count(clock: FakeClock) -> None:
    for _ in range(4):
        fail()
    attempt = fail()
    assert isinstance(attempt, lockout.Attempt)
    lockout.succeeded(attempt)
    assert lockout.consecutive_failures("login", account="alice") == 0
    for _ in range(5):
        assert isinstance(fail(), lockout.Attempt)


def test_other_accounts_and_scopes_are_not_affected(clock: FakeClock) -> None:
    for _ in range(5):
        fail("alice")
    assert isinstance(fail("alice"), lockout.Refusal)
    assert isinstance(fail("bob"), lockout.Attempt)
    assert isinstance(lockout.begin("totp", account="alice", address="10.0.0.1"), lockout.Attempt)


def test_never_more_than_100_failures_in_any_hour(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the growing delay (as if each failure were followed by a success elsewhere), the
    # hourly ceiling alone must hold. Failures spread over the hour, one every 30 seconds.
    monkeypatch.setattr(lockout, "FREE_FAILURES", 10_000)
    times: list[float] = []
    for _ in range(400):
        if isinstance(fail(address=f"10.0.{len(times) % 200}.1"), lockout.Attempt):
            times.append(clock.now)
        clock.now += 30
    assert len(times) > 100
    # Every rolling hour holds at most 100 of them.
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 3600) <= lockout.HOURLY_CAP


def test_the_hourly_cap_is_not_reset_by_a_success(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lockout, "FREE_FAILURES", 10_000)
    for i in range(100):
        assert isinstance(fail(address=f"10.1.{i}.1"), lockout.Attempt)
    refused = fail(address="10.2.0.1")
    assert isinstance(refused, lockout.Refusal) and refused.reason == "hourly"
    assert refused.retry_at > clock.now
    lockout.clear("login", account="alice")  # consecutive count only
    assert isinstance(fail(address="10.2.0.2"), lockout.Refusal)
    clock.now = refused.retry_at
    assert isinstance(fail(address="10.2.0.3"), lockout.Attempt)


def test_a_successful_attempt_is_handed_back(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lockout, "HOURLY_CAP", 3)
    for _ in range(10):
        attempt = fail()
        assert isinstance(attempt, lockout.Attempt)
        lockout.succeeded(attempt)


def test_one_address_spraying_many_accounts_is_capped(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lockout, "ADDRESS_HOURLY_CAP", 10)
    for i in range(10):
        assert isinstance(fail(account=f"user{i}", address="10.9.9.9"), lockout.Attempt)
    refused = fail(account="someone-else", address="10.9.9.9")
    assert isinstance(refused, lockout.Refusal) and refused.reason == "address"
    assert isinstance(fail(account="someone-else", address="10.9.9.8"), lockout.Attempt)


def test_the_cache_never_holds_the_account_name_or_address(clock: FakeClock) -> None:
    for _ in range(6):
        fail(account="13800000001", address="192.0.2.55")
    keys = " ".join(str(k) for k in cache._cache)  # type: ignore[attr-defined]
    assert "sizhi:lockout:login" in keys
    assert "13800000001" not in keys and "192.0.2.55" not in keys


def test_past_the_free_failures_one_attempt_per_wait(clock: FakeClock) -> None:
    for _ in range(5):
        fail()
    clock.now += 1
    # Two requests in the same instant: the first is counted before its password is checked, so
    # the second already sees the longer wait.
    first = fail()
    second = fail()
    assert isinstance(first, lockout.Attempt)
    assert isinstance(second, lockout.Refusal)


def test_a_request_that_loses_the_race_is_handed_back(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(5):
        fail()
    clock.now += 1
    # Another request reserves between this one's check and its count.
    real_incr = lockout._incr

    def racing_incr(key: str, ttl: int) -> int:
        if key.endswith(":n"):
            real_incr(key, ttl)  # the other request's count
        return real_incr(key, ttl)

    monkeypatch.setattr(lockout, "_incr", racing_incr)
    refused = fail()
    assert isinstance(refused, lockout.Refusal)
    monkeypatch.setattr(lockout, "_incr", real_incr)
    # Only the other request's failure stays counted.
    assert lockout.consecutive_failures("login", account="alice") == 6
