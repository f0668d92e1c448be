"""The storage session's adaptive concurrency limit (polaris.hub.storage.concurrency), on a simulated clock.

A simulated link: ``run_window`` lets ``limit`` requests finish in ``seconds``; the limit must grow while that
makes throughput grow, stop on a plateau, halve on 503/SlowDown/429 or connection errors, and never pass its cap.
"""

from __future__ import annotations

import threading
import time

import pytest

from polaris.hub.storage.concurrency import (
    BACKOFF_QUIET_SECONDS,
    MIN_WINDOW_SECONDS,
    PROBE_WINDOWS,
    AdaptiveLimit,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_window(limit: AdaptiveLimit, clock: Clock, seconds: float, *, nbytes: int = 0) -> None:
    """``limit.limit`` requests in flight together, all finishing after ``seconds`` (one full window)."""
    n = limit.limit
    for _ in range(n):
        limit.acquire()
    clock.now += max(seconds, MIN_WINDOW_SECONDS)
    for _ in range(n):
        limit.release(outcome="ok", nbytes=nbytes)


def test_grows_while_throughput_grows_up_to_the_cap() -> None:
    clock = Clock()
    limit = AdaptiveLimit(64, initial=8, clock=clock)
    seen = [limit.limit]
    for _ in range(12):  # a long round trip: each window takes the same time whatever the concurrency
        run_window(limit, clock, 0.12)
        seen.append(limit.limit)
    assert seen[:4] == [8, 16, 32, 64]  # doubling while it pays
    assert max(seen) == 64  # never past the cap
    assert limit.limit == 64


def test_returns_to_the_smallest_limit_that_did_as_well_and_probes_later() -> None:
    clock = Clock()
    limit = AdaptiveLimit(128, initial=8, clock=clock)
    run_window(limit, clock, 0.12)  # first window: grow to 16 (nothing measured before)
    assert limit.limit == 16
    run_window(limit, clock, 0.24)  # CPU-bound: twice the requests take twice the time -> no gain
    assert limit.limit == 8
    seen = set()
    for _ in range(PROBE_WINDOWS + 2):  # holds on the plateau, then probes once (by a quarter) and comes back
        run_window(limit, clock, 0.12 * limit.limit / 8)
        seen.add(limit.limit)
    assert seen == {8, 10}
    assert limit.peak_limit == 16


def test_steps_back_when_more_concurrency_is_slower() -> None:
    clock = Clock()
    limit = AdaptiveLimit(128, initial=8, clock=clock)
    run_window(limit, clock, 0.12)  # -> 16
    run_window(limit, clock, 0.12)  # 16 at the same time: throughput doubled -> 32
    assert limit.limit == 32
    run_window(limit, clock, 0.6)  # 32 in flight made every request much slower
    assert limit.limit == 16


@pytest.mark.parametrize("outcome", ["throttled", "connection"])
def test_backs_off_on_throttling_and_connection_errors(outcome: str) -> None:
    clock = Clock()
    limit = AdaptiveLimit(128, initial=64, clock=clock)
    for _ in range(10):
        limit.acquire()
    for _ in range(10):  # many requests failing together are one signal
        limit.release(outcome=outcome)  # type: ignore[arg-type]
    assert limit.limit == 32
    assert limit.backoffs == 1
    clock.now += BACKOFF_QUIET_SECONDS
    limit.acquire()
    limit.release(outcome=outcome)  # type: ignore[arg-type]
    assert limit.limit == 16
    # after a back-off growth is gentle (no doubling)
    run_window(limit, clock, 0.12)
    assert limit.limit == 20


def test_other_failures_do_not_change_the_limit() -> None:
    clock = Clock()
    limit = AdaptiveLimit(128, initial=32, clock=clock)
    limit.acquire()
    limit.release(outcome="other")  # a 404, a 412, a checksum mismatch: nothing about the link
    assert limit.limit == 32
    assert limit.backoffs == 0


def test_never_below_one_and_never_above_the_cap() -> None:
    clock = Clock()
    limit = AdaptiveLimit(4, initial=8, clock=clock)
    assert limit.limit == 4
    for _ in range(10):
        clock.now += BACKOFF_QUIET_SECONDS
        limit.acquire()
        limit.release(outcome="throttled")
    assert limit.limit == 1
    with pytest.raises(ValueError, match="at least 1"):
        AdaptiveLimit(0)


def test_unused_limit_does_not_grow() -> None:
    clock = Clock()
    limit = AdaptiveLimit(128, initial=8, clock=clock)
    for _ in range(20):  # one request at a time: more concurrency cannot be what helps
        limit.acquire()
        clock.now += 0.03
        limit.release(outcome="ok")
    assert limit.limit == 8


def test_in_flight_never_exceeds_the_limit_and_the_byte_budget() -> None:
    limit = AdaptiveLimit(6, initial=6, bytes_budget=10)
    lock = threading.Lock()
    state = {"now": 0, "peak": 0, "bytes": 0, "peak_bytes": 0}

    def worker() -> None:
        for _ in range(20):
            limit.acquire(4)
            with lock:
                state["now"] += 1
                state["bytes"] += 4
                state["peak"] = max(state["peak"], state["now"])
                state["peak_bytes"] = max(state["peak_bytes"], state["bytes"])
            time.sleep(0.001)
            with lock:
                state["now"] -= 1
                state["bytes"] -= 4
            limit.release(4, outcome="other")

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert state["peak_bytes"] <= 10  # two requests of 4 bytes fit the budget of 10, a third does not
    assert state["peak"] == 2
    # one request larger than the whole budget still runs (alone)
    limit.acquire(100)
    limit.release(100)
    assert limit.in_flight == 0


def test_the_cap_is_one_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from polaris.errors import InvalidSettingError
    from polaris.hub.settings import PolarisHubSettings
    from polaris.hub.storage import StorageSession

    monkeypatch.setenv("POLARIS_STORAGE_MAX_CONCURRENCY", "5")
    settings = PolarisHubSettings()
    assert settings.storage_max_concurrency == 5
    session = StorageSession(lambda: None, max_workers=settings.storage_max_concurrency)  # type: ignore[arg-type, return-value]
    assert session.transport.limit.cap == 5
    assert session.transport.limit.limit == 5  # starts at min(cap, 8)
    session.close()
    monkeypatch.setenv("POLARIS_STORAGE_MAX_CONCURRENCY", "0")
    with pytest.raises(InvalidSettingError, match="POLARIS_STORAGE_MAX_CONCURRENCY"):
        PolarisHubSettings()
