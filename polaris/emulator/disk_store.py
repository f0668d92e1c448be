"""Durable object files of the local Hub: :class:`DiskStore`, the on-disk copy behind the moto S3 server.

With ``--data-dir`` every object is a file under ``<data-dir>/store/objects/``, written before the write is
acknowledged: the gateway holds the key's lock while moto stores the object, then reads it back from moto, writes it
to a temporary file, fsyncs it, renames it into place and fsyncs the directory, and only then relays moto's answer
(see :meth:`polaris.emulator.objects.ObjectStore.persist`). At start the files are verified (md5) and loaded back into
moto; leftover temporary files are removed and damaged files moved aside (:meth:`DiskStore.open`). Nothing is written
at shutdown, so a kill at any moment leaves a data dir that starts.

An object that is overwritten with other content keeps its previous version in ``<data-dir>/store/retained/`` (a hard
link of the old file, made durable before the new file is renamed into place), so that the start-up repair
(:mod:`polaris.emulator.repair`) can put a published artifact back together when a replacement of its objects was cut
short. Retained versions are dropped once the artifact they belong to is complete again
(:meth:`DiskStore.prune_retained`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "STORE_DIR",
    "DamagedObjectError",
    "DiskStore",
    "RetainedVersion",
    "ScanReport",
    "StagedObject",
    "StoredObject",
    "fsync_dir",
]

STORE_DIR = "store"
"""Durable objects live in ``<data-dir>/store/{objects,tmp,damaged,retained,displaced}``."""
OBJECT_SUFFIX = ".obj"
TEMP_SUFFIX = ".part"
TRAILER_END = b"POLOBJ1\n"
"""Last 8 bytes of every object file: ``<body><trailer JSON><u64 trailer length><TRAILER_END>``."""
LOAD_THREADS = 4
"""Threads loading objects from disk into moto at start."""

log = logging.getLogger(__name__)


class DamagedObjectError(Exception):
    """An object file that is truncated, unreadable, or whose body does not match its recorded md5."""


@dataclass(frozen=True)
class StoredObject:
    """What the disk store knows of one object (the body is in the file)."""

    key: str
    md5: str
    size: int
    headers: dict[str, str]


@dataclass
class ScanReport:
    """What :meth:`DiskStore.open` found."""

    objects: int = 0
    temp_removed: int = 0
    damaged: list[str] = field(default_factory=list)
    retained: int = 0


@dataclass(frozen=True)
class RetainedVersion:
    """A previous version of an object, kept in ``retained/`` after the object was overwritten."""

    obj: StoredObject
    path: Path
    generation: int
    """Bumped whenever the version is retained again, so a prune started earlier leaves it alone."""


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_name(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest() + OBJECT_SUFFIX


def _retained_name(key: str, md5: str) -> str:
    """``<sha256(key)>.<md5>.obj``: one file per (key, content)."""
    return f"{hashlib.sha256(key.encode('utf-8')).hexdigest()}.{md5}{OBJECT_SUFFIX}"


class StagedObject:
    """A body being written to a temporary file of the store (md5 and size kept as it goes)."""

    def __init__(self, file: Any, path: Path) -> None:
        self.file = file
        self.path = path
        self._md5 = hashlib.md5()
        self.size = 0
        self.failed = False

    def write(self, chunk: bytes) -> None:
        """Append a chunk; a failing disk marks the staging failed instead of raising (the caller falls back)."""
        if self.failed:
            return
        try:
            self.file.write(chunk)
        except OSError:
            self.failed = True
            return
        self._md5.update(chunk)
        self.size += len(chunk)

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


class DiskStore:
    """Objects as files, each written completely (fsync), renamed into place and its directory fsync'd.

    One file per key: ``<sha256(key)>.obj`` holding the body followed by a JSON trailer (key, md5, size, headers), so
    body and metadata become visible together with one rename. A version an overwrite replaces stays, hard-linked, as
    ``retained/<sha256(key)>.<md5>.obj`` until :meth:`prune_retained`; :meth:`restore` makes it current again (the
    version it displaces moves to ``displaced/``: nothing acknowledged is deleted). Thread-safe.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects_dir = root / "objects"
        self.tmp_dir = root / "tmp"
        self.damaged_dir = root / "damaged"
        self.retained_dir = root / "retained"
        self.displaced_dir = root / "displaced"
        self._index: dict[str, StoredObject] = {}
        self._retained: dict[str, dict[str, RetainedVersion]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ start
    def _make_dirs(self) -> None:
        created = False
        for path in (self.root, self.objects_dir, self.tmp_dir, self.retained_dir):
            if not path.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                created = True
        if created:
            for path in (self.root.parent, self.root):
                fsync_dir(path)

    def open(self, consume: Callable[[StoredObject, bytes], None] | None = None) -> ScanReport:
        """Remove temporary files, verify every object file, move damaged ones to ``damaged/``, index the rest.

        ``consume(object, body)`` is called (from worker threads) for every verified object, e.g. to load it into moto.

        Raises:
            OSError: the store folders cannot be created or listed.
        """
        self._make_dirs()
        report = ScanReport()
        for leftover in self.tmp_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
                report.temp_removed += 1
        if report.temp_removed:
            fsync_dir(self.tmp_dir)
        files = sorted(self.objects_dir.iterdir())

        def load(path: Path) -> tuple[Path, StoredObject | None, str]:
            try:
                obj, body = self._read_file(path)
            except DamagedObjectError as exc:
                return path, None, str(exc)
            if consume is not None:
                consume(obj, body)
            return path, obj, ""

        with ThreadPoolExecutor(LOAD_THREADS) as pool:
            for path, obj, problem in pool.map(load, files):
                if obj is None:
                    self._quarantine(path)
                    report.damaged.append(f"{path.name}: {problem}")
                    log.warning("object file %s is damaged (%s); moved to %s", path.name, problem, self.damaged_dir)
                    continue
                with self._lock:
                    self._index[obj.key] = obj
                report.objects += 1
        for path in sorted(self.retained_dir.iterdir()):
            try:
                obj, _ = self._read_file(path, retained=True)
            except DamagedObjectError as exc:
                self._quarantine(path)
                log.warning("retained version %s is damaged (%s); moved to %s", path.name, exc, self.damaged_dir)
                continue
            with self._lock:
                self._generation += 1
                self._retained.setdefault(obj.key, {})[obj.md5] = RetainedVersion(obj, path, self._generation)
            report.retained += 1
        return report

    def _quarantine(self, path: Path) -> None:
        self.damaged_dir.mkdir(exist_ok=True)
        target = self.damaged_dir / path.name
        n = 0
        while target.exists():
            n += 1
            target = self.damaged_dir / f"{path.name}.{n}"
        path.replace(target)
        fsync_dir(self.objects_dir)

    def _read_file(self, path: Path, *, retained: bool = False) -> tuple[StoredObject, bytes]:
        if path.suffix != OBJECT_SUFFIX or not path.is_file():
            raise DamagedObjectError("not an object file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DamagedObjectError(f"unreadable: {exc.strerror}") from None
        tail = 8 + len(TRAILER_END)
        if len(data) < tail or not data.endswith(TRAILER_END):
            raise DamagedObjectError("truncated (no trailer)")
        (length,) = struct.unpack(">Q", data[-tail : -len(TRAILER_END)])
        body_end = len(data) - tail - length
        if length > len(data) - tail or body_end < 0:
            raise DamagedObjectError("bad trailer length")
        try:
            trailer = json.loads(data[body_end : len(data) - tail])
            key, md5, size, headers = trailer["key"], trailer["md5"], trailer["size"], trailer["headers"]
        except (ValueError, KeyError, TypeError):
            raise DamagedObjectError("unreadable trailer") from None
        if not isinstance(key, str) or not isinstance(md5, str):
            raise DamagedObjectError("unreadable trailer")
        if (_retained_name(key, md5) if retained else _file_name(key)) != path.name:
            raise DamagedObjectError("file name does not match its key")
        body = data[:body_end]
        if size != len(body) or hashlib.md5(body).hexdigest() != md5:
            raise DamagedObjectError("body does not match its md5")
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise DamagedObjectError("bad headers")
        return StoredObject(key=key, md5=str(md5), size=int(size), headers=dict(headers)), body

    # ------------------------------------------------------------------ objects
    def stage(self) -> StagedObject:
        """A temporary file to stream a body into; :meth:`commit` it or :meth:`StagedObject.abort` it.

        Raises:
            OSError: the temporary file cannot be created.
        """
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, suffix=TEMP_SUFFIX)
        return StagedObject(os.fdopen(fd, "wb"), Path(name))

    def commit(self, staged: StagedObject, key: str, headers: dict[str, str]) -> StoredObject:
        """Make a staged body the object ``key``: trailer, fsync, rename into place, directory fsync.

        Raises:
            OSError: the file could not be written (the previous version of the object, if any, is unchanged).
        """
        try:
            obj = StoredObject(key=key, md5=staged.md5, size=staged.size, headers=dict(headers))
            trailer = json.dumps({"key": key, "md5": obj.md5, "size": obj.size, "headers": obj.headers}).encode()
            staged.file.write(trailer + struct.pack(">Q", len(trailer)) + TRAILER_END)
            staged.file.flush()
            os.fsync(staged.file.fileno())
            staged.file.close()
            self._retain(key, obj.md5)
            os.replace(staged.path, self.objects_dir / _file_name(key))
        except BaseException:
            staged.abort()
            raise
        fsync_dir(self.objects_dir)
        with self._lock:
            self._index[key] = obj
        return obj

    def _retain(self, key: str, new_md5: str) -> None:
        """Keep the current version of ``key`` (when ``new_md5`` differs) as a hard link in ``retained/``, durably."""
        with self._lock:
            current = self._index.get(key)
            if current is None or current.md5 == new_md5:
                return
            versions = self._retained.setdefault(key, {})
            path = self.retained_dir / _retained_name(key, current.md5)
            linked = current.md5 not in versions
            if linked:
                with contextlib.suppress(FileExistsError):  # left by a kill between link and bookkeeping
                    os.link(self.objects_dir / _file_name(key), path)
            self._generation += 1
            versions[current.md5] = RetainedVersion(current, path, self._generation)
        if linked:
            fsync_dir(self.retained_dir)

    def retained(self, keys: Callable[[str], bool]) -> dict[str, dict[str, RetainedVersion]]:
        """``{key: {md5: version}}`` of the retained versions of every key ``keys(key)`` accepts."""
        with self._lock:
            return {k: dict(v) for k, v in self._retained.items() if v and keys(k)}

    def prune_retained(self, versions: dict[str, dict[str, RetainedVersion]]) -> int:
        """Drop retained versions (as :meth:`retained` listed them) not retained again since; returns how many."""
        removed = 0
        with self._lock:
            for key, by_md5 in versions.items():
                known = self._retained.get(key, {})
                for md5, version in by_md5.items():
                    if known.get(md5) != version:
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        version.path.unlink()
                    del known[md5]
                    removed += 1
                if not known:
                    self._retained.pop(key, None)
        if removed:
            fsync_dir(self.retained_dir)
        return removed

    def read_retained(self, version: RetainedVersion) -> bytes | None:
        """The body of a retained version (None when it is gone or damaged)."""
        try:
            _, body = self._read_file(version.path, retained=True)
        except DamagedObjectError:
            return None
        return body

    def restore(self, version: RetainedVersion) -> tuple[StoredObject, bytes]:
        """Make a retained version current again; the version it displaces moves to ``displaced/`` (kept, not served).

        Raises:
            OSError: the files could not be moved.
            DamagedObjectError: the retained file is damaged.
        """
        obj, body = self._read_file(version.path, retained=True)
        key = obj.key
        target = self.objects_dir / _file_name(key)
        current = self.get(key)
        if current is not None and current.md5 != obj.md5:
            self.displaced_dir.mkdir(exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.link(target, self.displaced_dir / _retained_name(key, current.md5))
            fsync_dir(self.displaced_dir)
        os.replace(version.path, target)
        fsync_dir(self.objects_dir)
        fsync_dir(self.retained_dir)
        with self._lock:
            self._index[key] = obj
            versions = self._retained.get(key, {})
            versions.pop(obj.md5, None)
            if not versions:
                self._retained.pop(key, None)
        return obj, body

    def write(self, key: str, chunks: Iterable[bytes], headers: dict[str, str]) -> StoredObject:
        """Write an object durably (temporary file, fsync, rename, directory fsync); returns what was stored.

        Raises:
            OSError: the file could not be written (the previous version of the object, if any, is unchanged).
        """
        staged = self.stage()
        try:
            for chunk in chunks:
                staged.write(chunk)
        except BaseException:
            staged.abort()
            raise
        return self.commit(staged, key, headers)

    def delete(self, key: str) -> bool:
        """Remove an object's file (durably); False when there was none."""
        try:
            (self.objects_dir / _file_name(key)).unlink()
        except FileNotFoundError:
            return False
        finally:
            with self._lock:
                self._index.pop(key, None)
        fsync_dir(self.objects_dir)
        return True

    def read(self, key: str) -> bytes | None:
        """The body of a stored object, or None when there is none (or it is damaged)."""
        try:
            _, body = self._read_file(self.objects_dir / _file_name(key))
        except DamagedObjectError:
            return None
        return body

    def get(self, key: str) -> StoredObject | None:
        with self._lock:
            return self._index.get(key)

    def digests(self) -> dict[str, str]:
        """``{key: md5 hex}`` of every stored object."""
        with self._lock:
            return {k: v.md5 for k, v in self._index.items()}
