"""Progress of long work (transfers, checksums), shown where the user looks.

:class:`Progress` picks one display when it is built:

``rich``
    a byte-level bar on the terminal (stderr is a TTY);
``notebook``
    inside Jupyter (an IPython kernel): ``tqdm``'s widget when ``ipywidgets`` is installed, else tqdm's text bar in
    the cell output;
``log``
    neither (CI, files, pipes): a plain ``INFO`` line on the ``polaris.progress`` logger every
    :data:`LOG_INTERVAL` seconds and one when the work is done;
``off``
    ``enabled=False`` (``show_progress=False``) or ``POLARIS_PROGRESS=0``.

``POLARIS_PROGRESS=rich|notebook|log`` forces a display (``auto`` or unset: chosen as above). Nothing heavy is
imported until a bar is really shown, and ``advance`` may be called from any thread.

Example::

    with Progress(True, "download table.parquet", total=size) as bar:
        for chunk in chunks:
            bar.advance(len(chunk))
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any, Literal, TextIO

__all__ = ["ENV_VAR", "LOG_INTERVAL", "Progress", "ProgressKind", "in_notebook", "progress_kind"]

logger = logging.getLogger("polaris.progress")

#: Environment variable that turns progress off (``0``) or forces a display.
ENV_VAR = "POLARIS_PROGRESS"
#: Seconds between two plain log lines of the same task.
LOG_INTERVAL = 10.0
#: A task shorter than this logs no closing line unless it logged a progress line already (keeps CI logs short).
LOG_MIN_DURATION = 1.0
#: Seconds between two refreshes of a notebook bar (each refresh is a message to the browser).
NOTEBOOK_MIN_INTERVAL = 0.5

ProgressKind = Literal["off", "rich", "notebook", "log"]
_OFF_VALUES = frozenset({"0", "false", "no", "off"})
_FORCED: dict[str, ProgressKind] = {"rich": "rich", "notebook": "notebook", "log": "log"}


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell with a kernel); never imports IPython itself."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:
        return False
    try:
        shell = get_ipython()
    except Exception:  # a half-initialised IPython: not a notebook we can draw in
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_kind(enabled: bool = True, *, stream: TextIO | None = None) -> ProgressKind:
    """Which display :class:`Progress` uses (see the module docstring); ``stream`` defaults to ``sys.stderr``."""
    if not enabled:
        return "off"
    forced = os.environ.get(ENV_VAR, "").strip().lower()
    if forced in _OFF_VALUES:
        return "off"
    if forced in _FORCED:
        return _FORCED[forced]
    if in_notebook():
        return "notebook"
    out = stream if stream is not None else sys.stderr
    isatty = getattr(out, "isatty", None)
    try:
        if isatty is not None and isatty():
            return "rich"
    except ValueError:  # a closed stream
        return "log"
    return "log"


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover - the loop always returns


class Progress:
    """A progress display for one task, used as a context manager; ``advance(n)`` is thread-safe.

    Args:
        enabled: ``False`` shows nothing (``show_progress=False``).
        description: what is being done, e.g. ``"download table.parquet"``.
        total: the expected amount (bytes), ``None`` when unknown.
    """

    def __init__(self, enabled: bool, description: str, total: int | None) -> None:
        self.kind: ProgressKind = progress_kind(enabled)
        self.description = description
        self.total = total
        self.completed = 0
        self._lock = threading.Lock()
        self._started = 0.0
        self._last_log = 0.0
        self._logged = False
        self._bar: Any = None
        self._task: Any = None

    # -- lifecycle
    def __enter__(self) -> Progress:
        self._started = self._last_log = time.monotonic()
        try:
            if self.kind == "rich":
                self._start_rich()
            elif self.kind == "notebook":
                self._start_notebook()
        except ImportError:
            logger.debug("no %s progress display available; logging instead", self.kind)
            self.kind = "log"
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            bar, self._bar = self._bar, None
        if self.kind == "rich" and bar is not None:
            bar.stop()
        elif self.kind == "notebook" and bar is not None:
            bar.close()
        elif self.kind == "log":
            elapsed = max(time.monotonic() - self._started, 1e-9)
            if elapsed < LOG_MIN_DURATION and not self._logged:
                return
            state = "done" if exc[0] is None else "stopped"
            logger.info(
                "%s: %s, %s in %.1f s (%s/s)",
                self.description,
                state,
                _size(self.completed),
                elapsed,
                _size(self.completed / elapsed),
            )

    def advance(self, n: int) -> None:
        """Count ``n`` more units (bytes) as done."""
        if not n or self.kind == "off":
            return
        line: str | None = None
        with self._lock:
            self.completed += n
            if self.kind == "rich" and self._bar is not None:
                self._bar.update(self._task, advance=n)
            elif self.kind == "notebook" and self._bar is not None:
                self._bar.update(n)
            elif self.kind == "log":
                now = time.monotonic()
                if now - self._last_log >= LOG_INTERVAL:
                    self._last_log = now
                    self._logged = True
                    line = self._log_line(now)
        if line is not None:
            logger.info("%s", line)

    # -- displays
    def _log_line(self, now: float) -> str:
        rate = self.completed / max(now - self._started, 1e-9)
        if self.total:
            percent = 100.0 * self.completed / self.total
            return (
                f"{self.description}: {_size(self.completed)} / {_size(self.total)} ({percent:.0f}%), {_size(rate)}/s"
            )
        return f"{self.description}: {_size(self.completed)}, {_size(rate)}/s"

    def _start_rich(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichProgress

        bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = bar.add_task(self.description, total=self.total)
        bar.start()
        self._bar = bar

    def _start_notebook(self) -> None:
        options: dict[str, Any] = {
            "desc": self.description,
            "total": self.total,
            "unit": "B",
            "unit_scale": True,
            "unit_divisor": 1024,
            "mininterval": NOTEBOOK_MIN_INTERVAL,
        }
        try:
            import ipywidgets  # noqa: F401  (tqdm's widget needs it)
            from tqdm.notebook import tqdm as notebook_tqdm

            self._bar = notebook_tqdm(**options)
        except ImportError:
            from tqdm.std import tqdm as text_tqdm

            # Without widgets, tqdm's text bar in the cell's stderr output (Jupyter honours the carriage returns).
            self._bar = text_tqdm(file=sys.stderr, **options)
