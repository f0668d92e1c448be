"""Small helpers shared by uploads and downloads: hashing, removing, bounded parallel maps."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import queue
import shutil
import threading
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from polaris.errors import StorageError
from polaris.hub.storage.constants import STREAM_CHUNK_SIZE

T = TypeVar("T")
R = TypeVar("R")


def md5_of(data: bytes | Path) -> tuple[str, int]:
    if isinstance(data, bytes):
        return hashlib.md5(data).hexdigest(), len(data)
    digest = hashlib.md5()
    size = 0
    with data.open("rb") as fh:
        while block := fh.read(STREAM_CHUNK_SIZE):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def b64(hexdigest: str) -> str:
    return base64.b64encode(bytes.fromhex(hexdigest)).decode("ascii")


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def safe_relative(relative: str, store_url: str) -> PurePosixPath:
    rel = PurePosixPath(relative)
    if not relative or rel.is_absolute() or any(part in ("", ".", "..") for part in relative.split("/")):
        raise StorageError(f"refusing object key {relative!r} under {store_url}: not a plain relative path")
    return rel


class _Finished:
    """Marker a worker puts on the result queue when it stops."""


_FINISHED = _Finished()


def bounded_map(
    executor: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], window: int | Callable[[], int]
) -> Generator[tuple[T, Future[R]], None, None]:
    """Run ``fn(item)`` for every item, at most ``window`` at a time; yield (item, finished future) as they finish.

    The work is done by up to ``window`` worker loops on ``executor``, each taking the next item itself as soon as
    its previous one is done: no item waits in a queue, and no thread is woken per item to hand it over (a
    submission per item cost two context switches per small object, measured). ``window`` may be a callable, read
    again whenever a worker takes an item: when it shrinks, workers stop until as many remain; when it grows, more
    are started. Memory stays bounded by what is in flight. ``items`` is consumed under a lock (a generator is fine).

    On early exit (``close()`` of the generator, or an exception in the caller's loop) no new item is taken; items
    already running finish (their results are dropped). An exception raised by ``items`` itself is re-raised here.
    """
    size = window if callable(window) else (lambda: window)
    iterator = iter(items)
    lock = threading.Lock()
    results: queue.SimpleQueue[tuple[T, Future[R]] | _Finished] = queue.SimpleQueue()
    state: dict[str, Any] = {"workers": 0, "open": True, "error": None}
    nothing = _Finished()

    def take() -> Any:
        with lock:
            if state["open"] and state["workers"] <= max(1, size()):
                try:
                    return next(iterator)
                except StopIteration:
                    state["open"] = False
                except BaseException as exc:  # re-raised by the consumer
                    state["open"], state["error"] = False, exc
            state["workers"] -= 1
            return nothing

    def worker() -> None:
        try:
            while (item := take()) is not nothing:
                future: Future[R] = Future()
                try:
                    future.set_result(fn(item))
                except BaseException as exc:
                    future.set_exception(exc)
                results.put((item, future))
        finally:
            results.put(_FINISHED)

    running = 0

    def top_up() -> None:
        nonlocal running
        with lock:
            wanted = max(1, size()) - state["workers"] if state["open"] else 0
            if wanted > 0:
                state["workers"] += wanted
        for _ in range(max(0, wanted)):
            try:
                executor.submit(worker)
            except BaseException:
                with lock:
                    state["workers"] -= 1
                raise
            running += 1

    try:
        top_up()
        while running:
            got = results.get()
            if isinstance(got, _Finished):
                running -= 1
            else:
                yield got
            top_up()
        if state["error"] is not None:
            raise state["error"]
    finally:
        with lock:
            state["open"] = False  # workers stop after the item they run
