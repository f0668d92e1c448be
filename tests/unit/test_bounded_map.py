"""The worker loops behind every storage transfer: bounded concurrency that follows a changing window."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from polaris.hub.storage._util import bounded_map

pytestmark = pytest.mark.timeout(30)


class _Probe:
    """Counts how many calls run at once, and the most seen."""

    def __init__(self, delay: float = 0.005) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.started: list[int] = []

    def __call__(self, item: int) -> int:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.started.append(item)
        time.sleep(self.delay)
        with self.lock:
            self.now -= 1
        if item % 7 == 3:
            raise ValueError(f"item {item}")
        return item * 2


def test_every_item_once_at_most_window_at_a_time_and_errors_in_their_futures() -> None:
    probe = _Probe()
    with ThreadPoolExecutor(16) as pool:
        seen = {item: future for item, future in bounded_map(pool, probe, range(60), 4)}
    assert sorted(seen) == list(range(60))
    assert probe.peak == 4
    for item, future in seen.items():
        if item % 7 == 3:
            assert isinstance(future.exception(), ValueError)
        else:
            assert future.result() == item * 2


def test_a_window_that_grows_starts_more_workers() -> None:
    probe = _Probe(delay=0.01)
    window = [2]
    early_peak = 0
    with ThreadPoolExecutor(16) as pool:
        for n, _ in enumerate(bounded_map(pool, probe, range(120), lambda: window[0]), start=1):
            if n == 20:
                early_peak = probe.peak
                window[0] = 12
    assert early_peak == 2
    assert probe.peak == 12


def test_after_the_shrink_no_more_than_the_window_runs() -> None:
    probe = _Probe(delay=0.01)
    window = [6]
    late_peak = 0
    with ThreadPoolExecutor(16) as pool:
        for n, _ in enumerate(bounded_map(pool, probe, range(80), lambda: window[0]), start=1):
            if n == 10:
                window[0] = 1
            if n == 30:
                probe.peak = 0
            if n > 30:
                late_peak = max(late_peak, probe.peak)
    assert late_peak == 1


def test_closing_early_takes_no_new_item_and_lets_running_ones_finish() -> None:
    probe = _Probe(delay=0.02)
    taken: list[int] = []

    def items() -> Iterator[int]:
        for i in range(1000):
            taken.append(i)
            yield i

    with ThreadPoolExecutor(8) as pool:
        results = bounded_map(pool, probe, items(), 4)
        next(results)
        results.close()
    assert probe.now == 0  # leaving the pool waited for the running ones
    assert len(taken) <= 4 + 4  # the first window, plus one per worker that finished meanwhile


def test_an_error_from_the_items_is_raised_to_the_consumer() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("listing broke")

    probe = _Probe(delay=0.0)
    with ThreadPoolExecutor(4) as pool, pytest.raises(RuntimeError, match="listing broke"):
        for _ in bounded_map(pool, probe, items(), 2):
            pass


def test_empty_items_and_a_window_below_one() -> None:
    with ThreadPoolExecutor(2) as pool:
        assert list(bounded_map(pool, _Probe(), [], 4)) == []
        probe = _Probe(delay=0.0)
        assert sorted(i for i, _ in bounded_map(pool, probe, range(5), 0)) == list(range(5))
        assert probe.peak == 1
