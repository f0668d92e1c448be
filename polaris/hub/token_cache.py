"""Token cache: one JSON file per Hub URL, owner-only, written atomically.

The file holds the external (identity provider) token and the Hub token, each with ``expires_at``.
It never holds a password. ``persist=False`` keeps everything in memory.

The folder and file are trusted only when private to the current user (see :mod:`polaris.hub._fs_safety`): a
symbolic link, a folder or file of another user, or one writable by others raises
:class:`~polaris.errors.UnsafeCacheError` instead of being read; ours that are merely readable by others are
tightened to ``0700`` / ``0600`` with a warning. Files are opened with ``O_NOFOLLOW`` relative to the checked folder.

:meth:`TokenCache.locked` is a file lock shared by every process using the cache: renewals re-read the file under it,
so a refresh token rotated by one process is picked up by the others instead of being used stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polaris import _paths
from polaris.hub._fs_safety import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, PrivateDir, file_lock

__all__ = ["CACHE_FILE_MODE", "CACHE_FOLDER_MODE", "LOCK_TIMEOUT", "CachedTokens", "TokenCache", "with_expires_at"]

logger = logging.getLogger(__name__)

#: Permissions of a token file: read/write for the owner only.
CACHE_FILE_MODE = PRIVATE_FILE_MODE
#: Permissions of the token folder: owner only.
CACHE_FOLDER_MODE = PRIVATE_DIR_MODE
#: Seconds a process waits for another one renewing the same login.
LOCK_TIMEOUT = 120.0
_WHAT = "token cache folder"
#: Version of the file layout; files of another version are ignored.
CACHE_FORMAT_VERSION = 1

_EXTERNAL = "external_token"
_HUB = "hub_token"
_IDENTITY = "identity"


def with_expires_at(token: dict[str, Any], *, now: float | None = None) -> dict[str, Any]:
    """A copy of ``token`` with ``expires_at`` (epoch seconds) computed from ``expires_in`` when missing."""
    result = dict(token)
    if result.get("expires_at") is None and result.get("expires_in") is not None:
        try:
            result["expires_at"] = int(now if now is not None else time.time()) + int(result["expires_in"])
        except (TypeError, ValueError):
            result.pop("expires_at", None)
    return result


#: (file, problem) pairs already warned about in this process: a broken file is reported once, then at DEBUG.
_WARNED: set[tuple[str, str]] = set()


def _warn_once(message: str, path: Path) -> None:
    key = (str(path), message)
    level = logging.DEBUG if key in _WARNED else logging.WARNING
    _WARNED.add(key)
    logger.log(level, message, path)


def _is_token(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("access_token"), str) and bool(value["access_token"])


def _cache_key(hub_url: str) -> str:
    normalized = hub_url.strip().rstrip("/").lower()
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()[:32]


@dataclass
class CachedTokens:
    """The two cached tokens (either may be missing)."""

    external_token: dict[str, Any] | None = None
    hub_token: dict[str, Any] | None = None
    #: Who logged in (user-info claims such as ``email``; never a secret).
    identity: dict[str, Any] | None = field(default=None)
    #: Why a cache file exists but holds no usable login (corrupt, another format...); ``None`` when fine or absent.
    problem: str | None = field(default=None)

    def __repr__(self) -> str:  # never show token values
        return (
            f"CachedTokens(external_token={'<set>' if self.external_token else None}, "
            f"hub_token={'<set>' if self.hub_token else None})"
        )


class TokenCache:
    """Reads and writes the tokens of one Hub.

    Args:
        hub_url: the Hub the tokens belong to (its hash names the file).
        persist: ``False`` keeps tokens in memory only and never touches the disk.
        folder: where the files live (default: ``polaris._paths.token_dir()``).
    """

    def __init__(self, hub_url: str, *, persist: bool = True, folder: Path | None = None) -> None:
        self.hub_url = hub_url
        self.persist = persist
        self.folder = folder if folder is not None else _paths.token_dir()
        #: Lock files live next to the token folder (``<cache>/locks``), so the token folder holds token files only.
        self.lock_folder = self.folder.parent / "locks"
        self._memory = CachedTokens()
        self._thread_lock = threading.RLock()
        self._lock_depth = 0  # re-entrant: only the outermost holder takes the file lock

    def __repr__(self) -> str:
        from polaris.hub.redact import redact_url

        return f"TokenCache(hub_url={redact_url(self.hub_url)!r}, persist={self.persist})"

    @property
    def path(self) -> Path:
        """The cache file of this Hub (``<token_dir>/hub-<hash>.json``)."""
        return self.folder / f"hub-{_cache_key(self.hub_url)}.json"

    # ------------------------------------------------------------------ locking
    @contextlib.contextmanager
    def locked(self, *, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """Hold this Hub's cache lock (threads and processes; re-entrant). Memory-only caches lock threads only.

        The lock file is opened without following a link and never truncated or chmod-ed unless this call created it
        (a planted link or FIFO is refused, nothing outside the folder is touched).

        Raises:
            UnsafeCacheError: the folder or the lock file is not private (or not a regular file).
            CacheLockTimeout: another process held it too long.
        """
        with self._thread_lock:
            if not self.persist or self._lock_depth:
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1
                return
            with PrivateDir.open(self.lock_folder, what="token lock folder", create=True):
                pass  # checked (and created 0700) before a lock file is made in it
            lock_path = self.lock_folder / f"{self.path.stem}.lock"
            with file_lock(lock_path, timeout=timeout, what="token lock file"):
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1

    # ------------------------------------------------------------------ reading
    def load(self) -> CachedTokens:
        """The cached tokens; an unreadable or foreign file counts as empty with :attr:`CachedTokens.problem` set
        (and is logged, without contents), so the login can be reported as broken instead of used as anonymous.

        Raises:
            UnsafeCacheError: the folder or file is a symbolic link, someone else's, or writable by others.
        """
        if not self.persist:
            return CachedTokens(self._memory.external_token, self._memory.hub_token, self._memory.identity)
        try:
            with PrivateDir.open(self.folder, what=_WHAT, create=False) as folder:
                raw_bytes = None if folder is None else folder.read(self.path.name)
        except OSError as exc:
            from polaris.errors import UnsafeCacheError

            if isinstance(exc, UnsafeCacheError):
                raise
            logger.warning("Cannot read the token cache %s: %s", self.path, exc.strerror)
            return CachedTokens(problem=f"the file cannot be read ({exc.strerror})")
        if raw_bytes is None:
            return CachedTokens()
        try:
            data = json.loads(raw_bytes.decode("utf-8"))
        except ValueError:
            _warn_once("Ignoring a corrupt token cache file %s", self.path)
            return CachedTokens(problem="the token cache file is corrupt (not JSON)")
        if not isinstance(data, dict) or data.get("version") != CACHE_FORMAT_VERSION:
            _warn_once("Ignoring a token cache file of another format: %s", self.path)
            return CachedTokens(problem="the token cache file has another format")
        if str(data.get("hub_url", "")).rstrip("/").lower() != self.hub_url.rstrip("/").lower():
            _warn_once("Ignoring a token cache file written for another Hub: %s", self.path)
            return CachedTokens(problem="the token cache file was written for another Hub")
        external = data.get(_EXTERNAL)
        hub = data.get(_HUB)
        identity = data.get(_IDENTITY)
        tokens = CachedTokens(
            external_token=external if _is_token(external) else None,
            hub_token=hub if _is_token(hub) else None,
            identity=identity if isinstance(identity, dict) else None,
        )
        if tokens.external_token is None and tokens.hub_token is None:
            _warn_once("Ignoring a token cache file without a usable token: %s", self.path)
            tokens.problem = "the token cache file holds no usable token"
        return tokens

    # ------------------------------------------------------------------ writing
    def save(self, tokens: CachedTokens) -> None:
        """Store both tokens (atomically: temporary file, fsync, rename). Nothing on disk when not persisting.

        Raises:
            UnsafeCacheError: the folder is not private. OSError: the folder or file cannot be written.
        """
        self._memory = CachedTokens(tokens.external_token, tokens.hub_token, tokens.identity)
        if not self.persist:
            return
        if tokens.external_token is None and tokens.hub_token is None:
            self.clear()
            return
        payload = {
            "version": CACHE_FORMAT_VERSION,
            "hub_url": self.hub_url,
            _EXTERNAL: tokens.external_token,
            _HUB: tokens.hub_token,
            _IDENTITY: tokens.identity,
        }
        with PrivateDir.open(self.folder, what=_WHAT, create=True) as folder:
            assert folder is not None
            folder.write_atomic(self.path.name, json.dumps(payload).encode("utf-8"))
        logger.debug("Token cache written to %s", self.path)

    def clear(self) -> bool:
        """Forget both tokens (memory and file). Returns whether a file was removed.

        Raises:
            UnsafeCacheError: the folder is not private (nothing is removed from someone else's folder).
        """
        self._memory = CachedTokens()
        if not self.persist:
            return False
        with PrivateDir.open(self.folder, what=_WHAT, create=False) as folder:
            removed = folder is not None and folder.remove(self.path.name)
        if removed:
            logger.debug("Token cache %s removed", self.path)
        return removed
