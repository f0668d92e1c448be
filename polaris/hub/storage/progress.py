"""Byte-level progress of a transfer.

Interface (kept by any replacement): ``Progress(enabled, description, total)`` used as a context manager, with a
thread-safe ``advance(n)``. The implementation is :class:`polaris.progress.Progress` (terminal bar, Jupyter bar,
or a periodic log line in CI; off with ``POLARIS_PROGRESS=0``).
"""

from __future__ import annotations

from polaris.progress import Progress

__all__ = ["Progress"]
