"""How many storage requests one session keeps in flight: an adaptive limit that follows the link.

A fixed pool caps a link at ``workers / round trip`` requests per second (8 workers at 30 ms: 266/s) whatever the
machine and the store could do. :class:`AdaptiveLimit` instead starts small and climbs while throughput climbs:

* **Measure in windows.** A window closes once at least ``limit`` requests finished and ``MIN_WINDOW_SECONDS``
  passed; its throughput is requests/s and bytes/s (whichever grew more counts, so the same rule serves many small
  objects and a few large ones).
* **Grow while it pays.** A window in which the limit was actually used (as many requests in flight as allowed)
  and whose throughput beat the best window so far by ``GROWTH_GAIN`` lets the limit grow: doubling until the first
  back-off ("slow start"), by a quarter afterwards. The first window at a grown limit that gains nothing sends the
  limit back to the smallest one that did as well (more threads for the same throughput only cost CPU, e.g. on
  loopback where the CPU is the limit). On that plateau, every ``PROBE_WINDOWS`` windows it probes once more
  (links change).
* **Back off on pressure.** ``503``/``SlowDown``/``429`` (the store asking for less) and connection errors halve
  the limit, at most once per ``BACKOFF_QUIET_SECONDS`` (the requests already in flight fail together; that is one
  signal, not many).
* **Bounded.** Never above ``cap`` (``max_workers`` of the session, ``POLARIS_STORAGE_MAX_CONCURRENCY`` from the
  settings), never below 1; and the memory the requests in flight hold (their ``cost``: the bytes each keeps in
  memory at once) stays within ``bytes_budget`` (a request larger than the budget runs alone).

The limit is per session and shared by everything the session does (uploads, eager downloads, lazy reads, the
reads of a Dask worker), so concurrent transfers of one session do not multiply it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from polaris.hub.storage.constants import DEFAULT_CONCURRENCY

__all__ = [
    "BACKOFF_FACTOR",
    "BACKOFF_QUIET_SECONDS",
    "BYTES_IN_FLIGHT_MAX",
    "GROWTH_GAIN",
    "INITIAL_LIMIT",
    "MIN_WINDOW_SECONDS",
    "PROBE_WINDOWS",
    "AdaptiveLimit",
    "Outcome",
]

INITIAL_LIMIT = DEFAULT_CONCURRENCY
"""Requests in flight before anything was measured (the old fixed pool size)."""
GROWTH_GAIN = 1.10
"""A window must be this much faster than the previous one for the limit to keep growing."""
BACKOFF_FACTOR = 0.5
"""The limit is multiplied by this on a throttling answer or a connection error."""
BACKOFF_QUIET_SECONDS = 0.5
"""After a back-off, further pressure signals within this time are the same event (requests fail together)."""
MIN_WINDOW_SECONDS = 0.1
"""Shortest measurement window (a window also needs ``limit`` finished requests)."""
PROBE_WINDOWS = 8
"""Windows on a plateau before the limit is probed upwards once more."""
BYTES_IN_FLIGHT_MAX = 96 * 1024 * 1024
"""Most bytes that requests in flight may hold in memory together (see ``cost``)."""

Outcome = Literal["ok", "throttled", "connection", "other"]
"""How a request ended: ``ok``; ``throttled`` (503/SlowDown/429); ``connection`` (reset, refused, timed out);
``other`` (an answer that says nothing about the link: 404, 412, a checksum mismatch...)."""


class AdaptiveLimit:
    """A counting gate whose size adapts to the throughput it observes (thread-safe).

    Use :meth:`acquire` / :meth:`release` around each request, reporting how it ended.
    """

    def __init__(
        self,
        cap: int,
        *,
        initial: int = INITIAL_LIMIT,
        bytes_budget: int = BYTES_IN_FLIGHT_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cap < 1:
            raise ValueError("the concurrency cap must be at least 1")
        self.cap = cap
        self.bytes_budget = max(1, bytes_budget)
        self._clock = clock
        self._cond = threading.Condition(threading.Lock())
        self._limit = max(1, min(cap, initial))
        self._in_flight = 0
        self._bytes_in_flight = 0
        self._slow_start = True
        self._last_backoff = -float("inf")
        # the current window
        self._window_start = clock()
        self._window_done = 0
        self._window_bytes = 0
        self._window_peak = 0
        # the best window so far at the smallest limit that reached it: (limit, requests/s, bytes/s); whether the
        # current window is the first at a limit that just grew
        self._best: tuple[int, float, float] | None = None
        self._grew = False
        self._plateau = 0
        self.backoffs = 0
        """How many times the limit was cut (for logs and tests)."""
        self.peak_limit = self._limit

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return self._limit

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def acquire(self, cost: int = 0) -> None:
        """Wait for a slot (and ``cost`` bytes of the memory budget), then take it."""
        cost = max(0, cost)
        with self._cond:
            while self._in_flight >= self._limit or (
                self._in_flight and self._bytes_in_flight + cost > self.bytes_budget
            ):
                self._cond.wait()
            self._in_flight += 1
            self._bytes_in_flight += cost
            if self._in_flight > self._window_peak:
                self._window_peak = self._in_flight

    def release(self, cost: int = 0, *, outcome: Outcome = "ok", nbytes: int = 0) -> None:
        """Give the slot back; ``outcome`` and ``nbytes`` (bytes the request moved) feed the adaptation."""
        with self._cond:
            self._in_flight -= 1
            self._bytes_in_flight -= max(0, cost)
            if outcome == "ok":
                self._finished(max(0, nbytes))
            elif outcome in ("throttled", "connection"):
                self._back_off()
            # wake as many waiters as there are free slots (not all: with a hundred threads waiting, waking every
            # one on each release costs more CPU than the requests); a woken waiter that finds the byte budget
            # full waits again, and the next release (something is in flight) wakes the next one
            free = self._limit - self._in_flight
            if free > 0:
                self._cond.notify(free)

    # -- adaptation (called with the lock held) --
    def _finished(self, nbytes: int) -> None:
        self._window_done += 1
        self._window_bytes += nbytes
        now = self._clock()
        elapsed = now - self._window_start
        if self._window_done < self._limit or elapsed < MIN_WINDOW_SECONDS:
            return
        rates = (self._window_done / elapsed, self._window_bytes / elapsed)
        saturated = self._window_peak >= self._limit
        limit, grew = self._limit, self._grew
        self._grew = False
        self._window_start, self._window_done, self._window_bytes = now, 0, 0
        self._window_peak = self._in_flight
        if not saturated:
            return  # the limit was not the bottleneck: nothing learnt about more concurrency
        best = self._best
        if best is None:
            self._best = (limit, *rates)
            self._grow()
            return
        gain = max(_ratio(rates[0], best[1]), _ratio(rates[1], best[2]) if rates[1] else 0.0)
        if gain >= GROWTH_GAIN:  # faster than at any smaller limit: keep climbing
            self._best = (limit, *rates)
            self._plateau = 0
            self._grow()
        elif grew and best[0] < limit:
            self._limit = best[0]  # more in flight bought nothing: back to the smallest limit that did as well
            self._plateau = 0
        else:
            self._best = (limit, *rates)  # on the plateau: follow the link's current throughput
            self._plateau += 1
            if self._plateau >= PROBE_WINDOWS:
                self._plateau = 0
                self._grow(probe=True)

    def _grow(self, *, probe: bool = False) -> None:
        if self._limit >= self.cap:
            return
        step = self._limit if self._slow_start and not probe else max(1, self._limit // 4)
        self._limit = min(self.cap, self._limit + step)
        self._grew = True
        self.peak_limit = max(self.peak_limit, self._limit)

    def _back_off(self) -> None:
        now = self._clock()
        if now - self._last_backoff < BACKOFF_QUIET_SECONDS:
            return
        self._last_backoff = now
        self._slow_start = False
        self._limit = max(1, int(self._limit * BACKOFF_FACTOR))
        self.backoffs += 1
        self._best = None  # measurements at the old limit say nothing about the new one
        self._grew = False
        self._plateau = 0
        self._window_start, self._window_done, self._window_bytes = now, 0, 0
        self._window_peak = self._in_flight


def _ratio(now: float, before: float) -> float:
    return now / before if before > 0 else (float("inf") if now > 0 else 1.0)
