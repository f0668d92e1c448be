"""Small helpers shared by uploads and downloads: hashing, removing, bounded parallel maps."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shutil
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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


def bounded_map(
    executor: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], window: int | Callable[[], int]
) -> Generator[tuple[T, Future[R]], None, None]:
    """Submit ``fn(item)`` with at most ``window`` futures pending; yield (item, finished future) as they finish.

    ``window`` may be a callable, read again before each submission: the pending work then follows a limit that
    changes while the map runs (the session's adaptive concurrency), so memory stays bounded by what is in flight.
    """
    size = window if callable(window) else (lambda: window)
    pending: dict[Future[R], T] = {}
    iterator = iter(items)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < size():
                try:
                    item = next(iterator)
                except StopIteration:
                    exhausted = True
                    break
                pending[executor.submit(fn, item)] = item
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future
    finally:
        _cancel_all(pending)  # on early exit: queued work is dropped, running work finishes


def _cancel_all(futures: Iterable[Future[Any]]) -> None:
    for future in futures:
        future.cancel()
