"""The lazy Zarr store's local chunk cache: content-addressed by *verified* md5, re-checked on every read.

Layout: ``<root>/<md5[:2]>/<md5>``, every folder ``0700`` and every file ``0600`` whatever the umask. A name is only
ever made from an md5 value that is exactly 32 hex digits (:func:`checked_md5`): a manifest value such as
``/etc/passwd`` or ``../../x`` raises :class:`~polaris.errors.InvalidArtifactError` before any file is named after
it. A chunk enters the cache only after the bytes fetched from storage matched that md5 (the store calls
:meth:`ChunkCache.put` after its check), and reads re-check the file as the download cache does: a file this process
wrote or verified, unchanged since (same inode, size, modification and change times), is served as is; any other is
hashed again first. A damaged or planted file is deleted and reported as a miss (the store then fetches and
verifies the chunk again), never served.

Files are opened without following links (``O_NOFOLLOW``) and without blocking on FIFOs or devices
(``O_NONBLOCK``, then ``fstat``), relative to folder descriptors that were checked, so nothing outside the root is
read, written or deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import threading
from pathlib import Path

from polaris.errors import InvalidArtifactError, UnsafeCacheError
from polaris.hub._fs_safety import PRIVATE_FILE_MODE, ensure_private_subdirs, open_regular

__all__ = ["ChunkCache", "checked_md5"]

logger = logging.getLogger(__name__)

_MD5 = re.compile(r"[0-9a-fA-F]{32}")
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_WHAT = "lazy chunk cache file"
_MEMO_LIMIT = 200_000
"""At most this many verified files remembered per process (then the memo starts again: only a re-hash is lost)."""
_verified: dict[tuple[int, int, str], tuple[int, int, int]] = {}
_verified_lock = threading.Lock()


def _identity(st: os.stat_result, md5: str) -> tuple[tuple[int, int, str], tuple[int, int, int]]:
    """(which file, under which name) and its state: a link of a good file under another md5's name is not good."""
    return (st.st_dev, st.st_ino, md5), (st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _remember(st: os.stat_result, md5: str) -> None:
    where, state = _identity(st, md5)
    with _verified_lock:
        if len(_verified) >= _MEMO_LIMIT:
            _verified.clear()
        _verified[where] = state


def _known_good(st: os.stat_result, md5: str) -> bool:
    where, state = _identity(st, md5)
    with _verified_lock:
        return _verified.get(where) == state


def _forget(st: os.stat_result, md5: str) -> None:
    with _verified_lock:
        _verified.pop(_identity(st, md5)[0], None)


def checked_md5(value: object, *, key: str = "", artifact: str | None = None) -> str:
    """``value`` as a lower-case md5 hex when it is exactly 32 hex digits.

    Raises:
        InvalidArtifactError: anything else (a path, ``..``, an empty or over-long value...): the manifest is not
            a list of checksums, so nothing is read or cached.
    """
    if not isinstance(value, str) or not _MD5.fullmatch(value):
        shown = repr(value)[:80]
        where = f" for {key!r}" if key else ""
        of = f" of {artifact}" if artifact else ""
        raise InvalidArtifactError(
            f"The manifest{of} gives the md5 {shown}{where}, which is not 32 hex digits; the archive is not read",
            hint="The Hub sent a malformed manifest; report it to the artifact's owner or the Hub's operators.",
        )
    return value.lower()


class ChunkCache:
    """Verified Zarr chunks kept under ``root`` (created ``0700`` inside the private download cache ``cache_root``).

    Args:
        root: the chunk folder.
        cache_root: the private folder ``root`` lies in (checked as the download cache is); default: ``root``'s
            parent.
    """

    def __init__(self, root: Path, *, cache_root: Path | None = None) -> None:
        self.root = Path(root)
        self.cache_root = Path(cache_root) if cache_root is not None else self.root.parent

    def path_for(self, md5: str) -> Path:
        """Where the chunk of this (checked) md5 lives.

        Raises:
            InvalidArtifactError: ``md5`` is not 32 hex digits.
        """
        md5 = checked_md5(md5)
        return self.root / md5[:2] / md5

    def _open_folder(self, md5: str, *, create: bool) -> int | None:
        """A descriptor of ``<root>/<md5[:2]>`` opened without following links; ``None`` when missing."""
        folder = self.root / md5[:2]
        if create:
            ensure_private_subdirs(folder, root=self.cache_root, what="download cache folder")
        try:
            return os.open(folder, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise UnsafeCacheError(
                f"Refusing to use the chunk cache folder {folder}: it is not a folder of ours ({exc.strerror})",
                path=str(folder),
                reason="is a symbolic link or not a folder",
                hint=f"Remove {folder} if you did not create it; the client recreates it.",
            ) from None

    def get(self, md5: str) -> bytes | None:
        """The cached bytes of the chunk whose md5 is ``md5``; ``None`` when missing or damaged.

        Hashed again unless this process wrote or verified this very file and it has not changed since. A damaged
        file (other md5), or anything that is not a regular file, is removed and counts as a miss.

        Raises:
            InvalidArtifactError: ``md5`` is not 32 hex digits.
        """
        md5 = checked_md5(md5)
        if not _O_DIRECTORY:  # pragma: no cover - no folder descriptors (Windows)
            return self._get_by_path(md5)
        try:
            dir_fd = self._open_folder(md5, create=False)
        except UnsafeCacheError as exc:
            logger.warning("not reading the chunk cache: %s", exc.message)
            return None
        if dir_fd is None:
            return None
        try:
            try:
                fd = open_regular(md5, what=_WHAT, dir_fd=dir_fd)
            except FileNotFoundError:
                return None
            except UnsafeCacheError as exc:
                logger.warning("removing %s from the chunk cache: it %s", self.root / md5[:2] / md5, exc.reason)
                with contextlib.suppress(OSError):
                    os.unlink(md5, dir_fd=dir_fd)
                return None
            with os.fdopen(fd, "rb") as handle:
                st = os.fstat(handle.fileno())
                data = handle.read()
            if _known_good(st, md5) and len(data) == st.st_size:
                return data
            if hashlib.md5(data).hexdigest() == md5:
                _remember(st, md5)
            else:
                _forget(st, md5)
                logger.warning(
                    "removing a damaged chunk from the cache (its md5 changed): %s; fetching it again",
                    self.root / md5[:2] / md5,
                )
                with contextlib.suppress(OSError):
                    os.unlink(md5, dir_fd=dir_fd)
                return None
            return data
        finally:
            os.close(dir_fd)

    def _get_by_path(self, md5: str) -> bytes | None:  # pragma: no cover - Windows
        path = self.path_for(md5)
        try:
            fd = open_regular(path, what=_WHAT)
        except (FileNotFoundError, UnsafeCacheError):
            return None
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
        return data if hashlib.md5(data).hexdigest() == md5 else None

    def put(self, md5: str, data: bytes | memoryview) -> None:
        """Keep ``data``, whose md5 the caller has just verified to be ``md5``.

        Written to a fresh ``0600`` file (created exclusively, never through a link) and renamed into place. A full
        disk or an unsafe folder only logs a warning: the read goes on.

        Raises:
            InvalidArtifactError: ``md5`` is not 32 hex digits.
        """
        md5 = checked_md5(md5)
        if not _O_DIRECTORY:  # pragma: no cover - no folder descriptors (Windows)
            self._put_by_path(md5, data)
            return
        try:
            dir_fd = self._open_folder(md5, create=True)
        except (OSError, UnsafeCacheError) as exc:
            logger.warning("could not keep a verified chunk in the cache: %s", exc)
            return
        if dir_fd is None:  # pragma: no cover - removed meanwhile
            return
        tmp = f".{md5}.{secrets.token_hex(6)}.incomplete"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o600, dir_fd=dir_fd)
            try:
                with os.fdopen(fd, "wb") as handle:
                    if hasattr(os, "fchmod"):
                        os.fchmod(handle.fileno(), PRIVATE_FILE_MODE)  # whatever the umask
                    handle.write(data)
                    handle.flush()
                    written = os.fstat(handle.fileno())
                os.replace(tmp, md5, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                _remember(written, md5)  # the bytes whose md5 the caller verified
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dir_fd)
                raise
        except OSError as exc:  # a full disk must not break the read
            logger.warning("could not keep a verified chunk in the cache: %s", exc)
        finally:
            os.close(dir_fd)

    def _put_by_path(self, md5: str, data: bytes | memoryview) -> None:  # pragma: no cover - Windows
        target = self.path_for(md5)
        try:
            ensure_private_subdirs(target.parent, root=self.cache_root, what="download cache folder")
            tmp = target.with_name(f".{md5}.{secrets.token_hex(6)}.incomplete")
            with open(tmp, "xb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except (OSError, UnsafeCacheError) as exc:
            logger.warning("could not keep a verified chunk in the cache: %s", exc)
