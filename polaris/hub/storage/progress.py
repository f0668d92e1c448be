"""Byte-level progress of a transfer.

Interface (kept by any replacement): ``Progress(enabled, description, total)`` used as a context manager, with a
thread-safe ``advance(n)``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Progress"]


class Progress:
    """A byte-level rich progress bar, or nothing when disabled / not on a terminal. Thread-safe ``advance``."""

    def __init__(self, enabled: bool, description: str, total: int | None) -> None:
        import sys

        self._bar: Any = None
        self._task: Any = None
        if enabled and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            self._task = self._bar.add_task(description, total=total)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, n: int) -> None:
        if self._bar is not None and n:
            self._bar.update(self._task, advance=n)
