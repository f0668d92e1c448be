"""Content-addressed local cache of downloaded artifacts: only verified bytes are served as verified.

An entry is addressed by (artifact kind, artifact id, content checksum), so a changed artifact gets a new entry and
an unchanged one is served from disk without any transfer (also offline). Layout::

    <root>/<kind>/<owner>/<name>/<checksum>                 the complete, verified entry (file or folder)
    <root>/<kind>/<owner>/<name>/<checksum>.manifest.json   size, mtime and md5 of every file of the entry
    <root>/<kind>/<owner>/<name>/<checksum>.incomplete      being written; never served
    <root>/<kind>/<owner>/<name>/<checksum>.lock            a filelock serialising writers of this entry
    <root>/.unverified/<kind>/<owner>/<name>/<checksum>...  the same for bytes read with verify_checksum="ignore"

Writers fill ``<entry>.incomplete`` (verifying checksums as they go) and rename it into place only when complete,
so a crash, an interrupt or a checksum mismatch leaves no entry behind. The manifest is written right after the
rename; an entry without a manifest is never served.

Bytes that were *not* verified against the Hub's checksums (``fetch(..., verified=False)``) go to the separate
``.unverified`` tree: they can serve later unverified reads but never a verified one.

Every hit is re-checked cheaply against the manifest: the set of files, their sizes and their modification times;
a file whose modification time changed is re-hashed and compared with the md5 recorded when the entry was made.
:meth:`DownloadCache.verify` re-hashes everything. A damaged entry is discarded and fetched again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import stat as stat_mod
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from polaris._paths import data_dir
from polaris.errors import UnsafeCacheError
from polaris.hub._fs_safety import (
    check_inside,
    check_private_dir,
    ensure_private_subdirs,
    file_lock,
    make_private_tree,
    open_regular,
    read_regular,
)

__all__ = ["LOCK_TIMEOUT", "CacheEntryInfo", "CacheKey", "CacheVerifyReport", "DownloadCache"]

logger = logging.getLogger(__name__)

LOCK_TIMEOUT = 3600.0
"""Seconds a writer waits for another process downloading the same entry before giving up."""
INCOMPLETE_SUFFIX = ".incomplete"
LOCK_SUFFIX = ".lock"
MANIFEST_SUFFIX = ".manifest.json"
CHUNKS_DIR = "chunks"
"""Folder (under the root) of the lazy Zarr chunk cache (:mod:`polaris.hub.storage.chunk_cache`)."""
UNVERIFIED_DIR = ".unverified"
"""Folder (under the root) of entries whose bytes were not checked against the Hub's checksums."""
MANIFEST_VERSION = 1
DIR_MODE = 0o700
_HASH_BLOCK = 1024 * 1024
_UTIME_FOLLOWS = os.utime not in os.supports_follow_symlinks  # touch a manifest, never what a link points to
_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_RESERVED_SUFFIXES = (INCOMPLETE_SUFFIX, LOCK_SUFFIX, MANIFEST_SUFFIX)


def _part(value: str, what: str) -> str:
    """One path component: kept as is when plainly safe, otherwise percent-quoted (never '..' or a separator)."""
    if not value:
        raise ValueError(f"cache key {what} must not be empty")
    if _SAFE_PART.match(value) and not value.endswith(_RESERVED_SUFFIXES):
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


@dataclass(frozen=True)
class CacheEntryInfo:
    """One entry of the cache, as listed by :meth:`DownloadCache.entries`."""

    key: CacheKey
    path: Path
    size_bytes: int
    last_used: float
    """Epoch seconds of the last time the entry was written or served."""
    verified: bool
    """True when its bytes were checked against the Hub's checksums before they entered the cache."""
    kind: str
    artifact_id: str


@dataclass
class CacheVerifyReport:
    """Outcome of :meth:`DownloadCache.verify`: ``ok`` and, when not, what is wrong (one line per problem)."""

    ok: bool
    problems: list[str] = field(default_factory=list)


@dataclass
class _FileRecord:
    size: int
    mtime_ns: int
    md5: str


_FILE_WHAT = "download cache file"


def _md5_file(path: Path) -> str:
    """md5 hex of a regular file (never through a link, never blocking on a FIFO: UnsafeCacheError instead)."""
    import hashlib

    digest = hashlib.md5()
    with os.fdopen(open_regular(path, what=_FILE_WHAT), "rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _files_of(entry: Path) -> dict[str, Path]:
    """Relative POSIX path -> path of everything but folders in an entry ('' for a file entry); links are listed,
    never followed (the check then reports them)."""
    try:
        st = os.lstat(entry)
    except OSError:
        return {}
    if stat_mod.S_ISREG(st.st_mode):
        return {"": entry}
    found: dict[str, Path] = {}
    if stat_mod.S_ISDIR(st.st_mode):
        for folder, dirs, files in os.walk(entry, followlinks=False):
            names = files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]
            for name in names:
                path = Path(folder, name)
                found[path.relative_to(entry).as_posix()] = path
    return found


class DownloadCache:
    """Content-addressed download cache rooted at ``root`` (default: :func:`polaris._paths.data_dir`)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir()
        check_private_dir(self.root, what="download cache folder")  # a planted or shared cache is never served

    # ------------------------------------------------------------------ paths
    def entry(self, key: CacheKey, *, verified: bool = True) -> Path:
        """Where the complete entry for ``key`` lives (whether or not it exists yet)."""
        base = self.root if verified else self.root / UNVERIFIED_DIR
        return base / key.relative_path()

    def incomplete(self, key: CacheKey, *, verified: bool = True) -> Path:
        entry = self.entry(key, verified=verified)
        return entry.with_name(entry.name + INCOMPLETE_SUFFIX)

    def manifest_path(self, key: CacheKey, *, verified: bool = True) -> Path:
        entry = self.entry(key, verified=verified)
        return entry.with_name(entry.name + MANIFEST_SUFFIX)

    def has(self, key: CacheKey) -> bool:
        """True when a complete, verified entry (with its manifest) exists."""
        return self.entry(key).exists() and self.manifest_path(key).is_file()

    # ------------------------------------------------------------------ locking and filling
    @contextlib.contextmanager
    def lock(self, key: CacheKey, *, timeout: float = LOCK_TIMEOUT, verified: bool = True) -> Iterator[None]:
        """Hold the entry's file lock (between threads and processes).

        The lock file is never followed through a link, truncated or chmod-ed unless this call created it.

        Raises:
            CacheLockTimeout: another writer held it longer than ``timeout`` seconds.
            UnsafeCacheError: a folder on the way is a link or not private, or the lock path is not a regular file.
        """
        entry = self.entry(key, verified=verified)
        ensure_private_subdirs(entry.parent, root=self.root, what="download cache folder")  # 0700, never a link
        with file_lock(entry.with_name(entry.name + LOCK_SUFFIX), timeout=timeout, what="download cache lock file"):
            yield

    def fetch(
        self, key: CacheKey, fill: Callable[[Path], object], *, verified: bool = True, resume: bool = False
    ) -> Path:
        """Return the entry for ``key``, calling ``fill(incomplete_path)`` to create it when missing or damaged.

        ``fill`` must write a file or a folder at the path it is given. With ``verified=True`` (the default) it must
        verify every byte against the Hub's checksums as it goes (and raise if they do not match); the result is a
        verified entry. ``fill`` may return {relative path: (md5 hex, size)} for files whose md5 it computed while
        writing them: the entry's manifest records those without reading them again (any other file, or one of
        another size, is hashed). With ``verified=False`` the bytes were not (fully) checked: a verified entry is
        still served when there is one, otherwise the entry lives in the unverified tree and never satisfies a
        verified fetch.

        Only one writer runs per entry; the others wait and then reuse its result. A hit is re-checked cheaply
        against the entry's manifest; a damaged entry is discarded and filled again.

        ``resume=True``: what an interrupted fill left at the incomplete path is kept (the fill continues it), and a
        failed fill keeps it too, unless it failed on a checksum (corrupt bytes are never kept).

        Raises:
            Whatever ``fill`` raises (then nothing is cached), ``CacheLockTimeout`` or ``UnsafeCacheError``.
        """
        if not verified:
            hit = self._usable(key, verified=True)
            if hit is not None:
                return hit
        hit = self._usable(key, verified=verified)
        if hit is not None:
            return hit
        with self.lock(key, verified=verified):
            hit = self._usable(key, verified=verified)  # another writer finished while we waited
            if hit is not None:
                return hit
            entry = self.entry(key, verified=verified)
            tmp = self.incomplete(key, verified=verified)
            manifest = self.manifest_path(key, verified=verified)
            self._remove(manifest)
            self._remove(entry)  # a damaged or manifest-less entry
            if not resume:
                self._remove(tmp)  # leftovers of an interrupted run
            elif os.path.islink(tmp):
                self._remove(tmp)  # never continue a download through a link
            elif tmp.exists():
                logger.info("continuing the interrupted download of %s", entry)
            try:
                streamed = fill(tmp)
                if not tmp.exists():
                    raise FileNotFoundError(f"cache fill for {key} produced nothing at {tmp}")
                make_private_tree(tmp)  # cached artifacts are owner-only: files 0600, folders 0700
                known = streamed if isinstance(streamed, Mapping) else {}
                records = {rel: self._record(path, known.get(rel)) for rel, path in _files_of(tmp).items()}
                os.replace(tmp, entry)
            except BaseException as exc:
                from polaris.errors import PolarisChecksumError

                if not resume or isinstance(exc, PolarisChecksumError | FileNotFoundError | UnsafeCacheError):
                    self._remove(tmp)
                raise
            self._write_manifest(key, verified, records)
        logger.debug("cached %s (%s)", entry, "verified" if verified else "unverified")
        return entry

    def _usable(self, key: CacheKey, *, verified: bool) -> Path | None:
        """The entry when it exists and passes the cheap check (touching its last-used time); else ``None``."""
        entry = self.entry(key, verified=verified)
        if not entry.exists():
            return None
        problems = self._check(key, verified=verified, full=False)
        if problems:
            logger.warning("discarding damaged cache entry %s: %s", entry, "; ".join(problems[:3]))
            return None
        with contextlib.suppress(OSError, NotImplementedError):
            os.utime(self.manifest_path(key, verified=verified), follow_symlinks=_UTIME_FOLLOWS)
        logger.debug("cache hit %s", entry)
        return entry

    @staticmethod
    def _record(path: Path, streamed: tuple[str, int] | None = None) -> _FileRecord:
        """Size, mtime and md5 of a file; the md5 computed while it was written when given (and the size agrees)."""
        st = os.lstat(path)
        if not stat_mod.S_ISREG(st.st_mode):
            raise UnsafeCacheError(
                f"Refusing to cache {path}: it is not a regular file", path=str(path), reason="is not a regular file"
            )
        if streamed is not None and streamed[1] == st.st_size:
            return _FileRecord(size=st.st_size, mtime_ns=st.st_mtime_ns, md5=str(streamed[0]).lower())
        return _FileRecord(size=st.st_size, mtime_ns=st.st_mtime_ns, md5=_md5_file(path))

    def _write_manifest(self, key: CacheKey, verified: bool, records: dict[str, _FileRecord]) -> None:
        # After the rename the files keep their mtimes, so the records stay valid.
        doc = {
            "version": MANIFEST_VERSION,
            "kind": key.kind,
            "artifact_id": key.artifact_id,
            "checksum": key.checksum,
            "verified": verified,
            "created": time.time(),
            "files": {rel: [r.size, r.mtime_ns, r.md5] for rel, r in sorted(records.items())},
        }
        target = self.manifest_path(key, verified=verified)
        # a fresh name, created exclusively: nothing planted there is ever followed, truncated or blocked on
        tmp = target.with_name(f"{target.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:  # owner-only, like every file of the cache
                if hasattr(os, "fchmod"):
                    os.fchmod(fh.fileno(), 0o600)  # whatever the umask
                fh.write(json.dumps(doc))
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @staticmethod
    def _read_manifest(path: Path) -> dict[str, Any] | None:
        """The manifest's content; ``None`` when missing, unreadable, not a regular file (a FIFO is never opened
        in a blocking way) or of another version."""
        try:
            doc = json.loads(read_regular(path, what="download cache manifest").decode("utf-8"))
        except UnsafeCacheError as exc:
            logger.warning("ignoring the cache manifest %s: %s", path, exc.reason)
            return None
        except (OSError, ValueError):
            return None
        if (
            not isinstance(doc, dict)
            or doc.get("version") != MANIFEST_VERSION
            or not isinstance(doc.get("files"), dict)
        ):
            return None
        return doc

    def _check(self, key: CacheKey, *, verified: bool, full: bool) -> list[str]:
        entry = self.entry(key, verified=verified)
        if not entry.exists():
            return [f"{entry} does not exist"]
        doc = self._read_manifest(self.manifest_path(key, verified=verified))
        if doc is None:
            return [f"{entry} has no readable manifest (written by an interrupted or older client)"]
        recorded: dict[str, Any] = doc["files"]
        present = _files_of(entry)
        problems = [f"missing file {rel or entry.name}" for rel in sorted(set(recorded) - set(present))]
        problems += [f"unexpected file {rel}" for rel in sorted(set(present) - set(recorded))]
        for rel in sorted(set(recorded) & set(present)):
            path = present[rel]
            name = rel or entry.name
            try:
                size, mtime_ns, md5 = recorded[rel]
                st = os.lstat(path)
                if stat_mod.S_ISLNK(st.st_mode):
                    problems.append(f"{name} is a symbolic link")
                    continue
                if not stat_mod.S_ISREG(st.st_mode):
                    problems.append(f"{name} is not a regular file")
                    continue
                if st.st_size != size:
                    problems.append(f"{name} has {st.st_size} bytes, {size} expected")
                elif (full or st.st_mtime_ns != mtime_ns) and _md5_file(path) != md5:
                    problems.append(f"{name} changed since it was cached (md5 differs)")
            except UnsafeCacheError as exc:
                problems.append(f"{name} {exc.reason}")
            except (OSError, ValueError, TypeError) as exc:
                problems.append(f"{name} cannot be checked: {exc}")
        return problems

    # ------------------------------------------------------------------ management API (polaris cache ...)
    def entries(self) -> list[CacheEntryInfo]:
        """Every complete entry (verified and unverified), most recently used first."""
        found: list[CacheEntryInfo] = []
        if not self.root.is_dir():
            return found
        for manifest in self._manifests():
            doc = self._read_manifest(manifest)
            if doc is None:
                continue
            try:
                key = CacheKey(str(doc["kind"]), str(doc["artifact_id"]), str(doc["checksum"]))
                verified = bool(doc.get("verified"))
                entry = self.entry(key, verified=verified)
                if entry.with_name(entry.name + MANIFEST_SUFFIX) != manifest or not entry.exists():
                    continue
                size = sum(int(rec[0]) for rec in doc["files"].values())
                last_used = os.lstat(manifest).st_mtime
            except (KeyError, ValueError, TypeError, OSError):
                continue
            found.append(
                CacheEntryInfo(
                    key=key,
                    path=entry,
                    size_bytes=size,
                    last_used=last_used,
                    verified=verified,
                    kind=key.kind,
                    artifact_id=key.artifact_id,
                )
            )
        found.sort(key=lambda info: info.last_used, reverse=True)
        return found

    def _manifests(self) -> Iterator[Path]:
        """Every ``*.manifest.json`` under the root, found without following a link to a folder."""
        for folder, dirs, files in os.walk(self.root, followlinks=False):
            if folder == str(self.root):
                dirs[:] = [d for d in dirs if d != CHUNKS_DIR]  # the lazy chunk cache holds no entries
            for name in dirs:
                if os.path.islink(os.path.join(folder, name)):
                    logger.warning(
                        "ignoring %s: a symbolic link in the cache is never followed (remove it if you did not "
                        "create it)",
                        os.path.join(folder, name),
                    )
            for name in files:
                if name.endswith(MANIFEST_SUFFIX):
                    yield Path(folder, name)

    def verify(self, key: CacheKey, *, full: bool = True, verified: bool | None = None) -> CacheVerifyReport:
        """Check an entry against its manifest: every file present, same size, same md5 (``full``: re-hash every
        file; otherwise only files whose modification time changed).

        ``verified`` picks the verified or unverified copy; by default the verified one when it exists.
        """
        if verified is None:
            verified = self.entry(key).exists() or not self.entry(key, verified=False).exists()
        problems = self._check(key, verified=verified, full=full)
        return CacheVerifyReport(ok=not problems, problems=problems)

    def remove(self, key: CacheKey) -> None:
        """Delete an entry, verified and unverified copies, manifest and leftovers."""
        for verified in (True, False):
            if not self.entry(key, verified=verified).parent.exists():
                continue
            with self.lock(key, verified=verified):
                self._remove(self.manifest_path(key, verified=verified))
                self._remove(self.entry(key, verified=verified))
                self._remove(self.incomplete(key, verified=verified))

    def _remove_info(self, info: CacheEntryInfo) -> None:
        with self.lock(info.key, verified=info.verified):
            self._remove(self.manifest_path(info.key, verified=info.verified))
            self._remove(info.path)

    def _remove(self, path: Path) -> None:
        """Delete a file, a link (never what it points to) or a folder of the cache, only after checking that every
        folder on the way is a real folder inside the root.

        Raises:
            UnsafeCacheError: the path would lead outside the cache (nothing is deleted).
        """
        check_inside(path, root=self.root, what="download cache folder")
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat_mod.S_ISDIR(st.st_mode):
            shutil.rmtree(path, ignore_errors=True)  # removes links inside, never follows them
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def prune(
        self, *, older_than: float | None = None, max_bytes: int | None = None, dry_run: bool = False
    ) -> list[CacheEntryInfo]:
        """Remove entries not used for ``older_than`` seconds, then the least recently used ones until the cache
        holds at most ``max_bytes``. Returns what was (``dry_run``: would be) removed."""
        entries = self.entries()
        doomed: list[CacheEntryInfo] = []
        kept: list[CacheEntryInfo] = []
        now = time.time()
        for info in entries:
            if older_than is not None and now - info.last_used > older_than:
                doomed.append(info)
            else:
                kept.append(info)
        if max_bytes is not None:
            total = sum(info.size_bytes for info in kept)
            for info in sorted(kept, key=lambda i: i.last_used):
                if total <= max_bytes:
                    break
                doomed.append(info)
                total -= info.size_bytes
        if not dry_run:
            for info in doomed:
                self._remove_info(info)
        return doomed
