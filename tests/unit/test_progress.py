"""polaris.progress: which display is chosen, the plain log lines for CI, thread-safe counting, switching off."""

from __future__ import annotations

import io
import logging
import sys
import threading
import types
from typing import Any

import pytest

from polaris import progress
from polaris.progress import Progress, in_notebook, progress_kind


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _no_forced_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(progress.ENV_VAR, raising=False)


def test_kind_follows_the_output(monkeypatch: pytest.MonkeyPatch) -> None:
    assert progress_kind(True, stream=_Tty()) == "rich"
    assert progress_kind(True, stream=io.StringIO()) == "log"
    assert progress_kind(False, stream=_Tty()) == "off"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("0", "off"),
        ("false", "off"),
        ("log", "log"),
        ("rich", "rich"),
        ("notebook", "notebook"),
        ("auto", "rich"),
        ("", "rich"),
    ],
)
def test_environment_turns_off_or_forces(monkeypatch: pytest.MonkeyPatch, value: str, kind: str) -> None:
    monkeypatch.setenv(progress.ENV_VAR, value)
    assert progress_kind(True, stream=_Tty()) == kind


def test_settings_read_polaris_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    from polaris.hub.settings import PolarisHubSettings

    monkeypatch.setenv("POLARIS_PROGRESS", "0")
    assert PolarisHubSettings().progress is False
    monkeypatch.setenv("POLARIS_PROGRESS", "log")
    assert PolarisHubSettings().progress is True


def test_notebook_detection_needs_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    assert in_notebook() is False
    shell: Any = types.SimpleNamespace(kernel=None)
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: shell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert in_notebook() is False  # a terminal IPython: not a notebook
    shell.kernel = object()
    assert in_notebook() is True
    assert progress_kind(True, stream=_Tty()) == "notebook"


def test_log_lines_in_ci(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)
    monkeypatch.setattr(progress, "LOG_MIN_DURATION", 0.0)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with caplog.at_level(logging.INFO, logger="polaris.progress"), Progress(True, "upload t.parquet", 4096) as bar:
        assert bar.kind == "log"
        bar.advance(1024)
        bar.advance(3072)
    lines = [r.getMessage() for r in caplog.records if r.name == "polaris.progress"]
    assert lines[0].startswith("upload t.parquet: 1.0 KiB / 4.0 KiB (25%)")
    assert lines[1].startswith("upload t.parquet: 4.0 KiB / 4.0 KiB (100%)")
    assert lines[-1].startswith("upload t.parquet: done, 4.0 KiB in")


def test_short_tasks_log_nothing(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with caplog.at_level(logging.INFO, logger="polaris.progress"), Progress(True, "download x", None) as bar:
        bar.advance(10)
    assert [r for r in caplog.records if r.name == "polaris.progress"] == []


def test_off_counts_nothing_and_shows_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with Progress(False, "download x", 10) as bar:
        bar.advance(5)
    assert bar.kind == "off" and bar.completed == 0 and err.getvalue() == ""


@pytest.mark.parametrize("kind", ["log", "rich", "notebook"])
def test_advance_is_thread_safe(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setenv(progress.ENV_VAR, kind)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with Progress(True, "many threads", 8 * 1000 * 7) as bar:
        assert bar.kind == kind

        def work() -> None:
            for _ in range(1000):
                bar.advance(7)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert bar.completed == 8 * 1000 * 7


def test_rich_bar_draws_on_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(progress.ENV_VAR, "rich")
    err = _Tty()
    monkeypatch.setattr(sys, "stderr", err)
    with Progress(True, "download big.bin", 100) as bar:
        bar.advance(100)
    assert "download big.bin" in err.getvalue()


def test_client_follows_polaris_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    from polaris.hub.client import PolarisHubClient

    monkeypatch.setenv("POLARIS_PROGRESS", "0")
    with PolarisHubClient() as client:
        assert client.show_progress is False
