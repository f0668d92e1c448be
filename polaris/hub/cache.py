"""Content-addressed local cache of downloaded artifacts.

An entry is addressed by (artifact kind, artifact id, content checksum), so a changed artifact gets a new entry and
an unchanged one is served from disk without any transfer (also offline). Layout::

    <root>/<kind>/<owner>/<name>/<checksum>              the complete, verified entry (file or folder)
    <root>/<kind>/<owner>/<name>/<checksum>.incomplete   being written; never served
    <root>/<kind>/<owner>/<name>/<checksum>.lock         a filelock serialising writers of this entry

Writers fill ``<entry>.incomplete`` (verifying checksums as they go) and rename it into place only when complete,
so a crash, an interrupt or a checksum mismatch leaves no entry behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from polaris._paths import data_dir
from polaris.hub._fs_safety import check_private_dir, ensure_private_subdirs, make_private_tree

__all__ = ["LOCK_TIMEOUT", "CacheKey", "DownloadCache"]

logger = logging.getLogger(__name__)

LOCK_TIMEOUT = 3600.0
"""Seconds a writer waits for another process downloading the same entry before giving up."""
INCOMPLETE_SUFFIX = ".incomplete"
LOCK_SUFFIX = ".lock"
_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _part(value: str, what: str) -> str:
    """One path component: kept as is when plainly safe, otherwise percent-quoted (never '..' or a separator)."""
    if not value:
        raise ValueError(f"cache key {what} must not be empty")
    if _SAFE_PART.match(value) and not value.endswith((INCOMPLETE_SUFFIX, LOCK_SUFFIX)):
        return value
    return "%" + quote(value, safe="").replace(".", "%2E")


@dataclass(frozen=True)
class CacheKey:
    """Identity of a cache entry: artifact kind (``dataset``, ``benchmark``...), id ``owner/name``, content checksum."""

    kind: str
    artifact_id: str
    checksum: str

    def relative_path(self) -> Path:
        segments = [_part(self.kind, "kind")]
        segments += [_part(s, "artifact id") for s in self.artifact_id.strip("/").split("/")]
        segments.append(_part(self.checksum, "checksum"))
        return Path(*segments)


class DownloadCache:
    """Content-addressed download cache rooted at ``root`` (default: :func:`polaris._paths.data_dir`)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir()
        check_private_dir(self.root, what="download cache folder")  # a planted or shared cache is never served

    def entry(self, key: CacheKey) -> Path:
        """Where the complete entry for ``key`` lives (whether or not it exists yet)."""
        return self.root / key.relative_path()

    def incomplete(self, key: CacheKey) -> Path:
        entry = self.entry(key)
        return entry.with_name(entry.name + INCOMPLETE_SUFFIX)

    def has(self, key: CacheKey) -> bool:
        """True when a complete, verified entry exists (entries only appear by an atomic rename)."""
        return self.entry(key).exists()

    @contextlib.contextmanager
    def lock(self, key: CacheKey, *, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """Hold the entry's file lock (between threads and processes).

        Raises:
            filelock.Timeout: another writer held it longer than ``timeout`` seconds.
        """
        from filelock import FileLock

        entry = self.entry(key)
        ensure_private_subdirs(entry.parent, root=self.root, what="download cache folder")  # 0700, never a link
        with FileLock(str(entry.with_name(entry.name + LOCK_SUFFIX)), timeout=timeout, thread_local=False, mode=0o600):
            yield

    def fetch(self, key: CacheKey, fill: Callable[[Path], object]) -> Path:
        """Return the entry for ``key``, calling ``fill(incomplete_path)`` to create it when missing.

        ``fill`` must write a file or a folder at the path it is given, verifying checksums as it goes (and raise
        if they do not match). Only one writer runs per entry; the others wait and then reuse its result.

        Raises:
            Whatever ``fill`` raises (then nothing is cached), or ``filelock.Timeout``.
        """
        entry = self.entry(key)
        if entry.exists():
            logger.debug("cache hit %s", entry)
            return entry
        with self.lock(key):
            if entry.exists():  # another writer finished while we waited
                return entry
            tmp = self.incomplete(key)
            _remove(tmp)  # leftovers of an interrupted run
            try:
                fill(tmp)
                if not tmp.exists():
                    raise FileNotFoundError(f"cache fill for {key} produced nothing at {tmp}")
                make_private_tree(tmp)  # cached artifacts are owner-only: files 0600, folders 0700
                os.replace(tmp, entry)
            except BaseException:
                _remove(tmp)
                raise
        logger.debug("cached %s", entry)
        return entry

    def remove(self, key: CacheKey) -> None:
        """Delete an entry (and any leftovers of it)."""
        with self.lock(key):
            _remove(self.entry(key))
            _remove(self.incomplete(key))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
