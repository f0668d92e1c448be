"""Token cache: one JSON file per Hub URL, owner-only, written atomically.

The file holds the external (identity provider) token and the Hub token, each with ``expires_at``.
It never holds a password. ``persist=False`` keeps everything in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polaris import _paths

__all__ = ["CACHE_FILE_MODE", "CACHE_FOLDER_MODE", "CachedTokens", "TokenCache", "with_expires_at"]

logger = logging.getLogger(__name__)

#: Permissions of a token file: read/write for the owner only.
CACHE_FILE_MODE = 0o600
#: Permissions of the token folder: owner only.
CACHE_FOLDER_MODE = 0o700
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
        self._memory = CachedTokens()

    def __repr__(self) -> str:
        return f"TokenCache(hub_url={self.hub_url!r}, persist={self.persist})"

    @property
    def path(self) -> Path:
        """The cache file of this Hub (``<token_dir>/hub-<hash>.json``)."""
        return self.folder / f"hub-{_cache_key(self.hub_url)}.json"

    # ------------------------------------------------------------------ reading
    def load(self) -> CachedTokens:
        """The cached tokens; an unreadable or foreign file counts as empty (and is logged, without contents)."""
        if not self.persist:
            return CachedTokens(self._memory.external_token, self._memory.hub_token, self._memory.identity)
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return CachedTokens()
        except OSError as exc:
            logger.warning("Cannot read the token cache %s: %s", self.path, exc.strerror)
            return CachedTokens()
        try:
            data = json.loads(raw)
        except ValueError:
            logger.warning("Ignoring a corrupt token cache file %s", self.path)
            return CachedTokens()
        if not isinstance(data, dict) or data.get("version") != CACHE_FORMAT_VERSION:
            logger.warning("Ignoring a token cache file of another format: %s", self.path)
            return CachedTokens()
        if data.get("hub_url", "").rstrip("/").lower() != self.hub_url.rstrip("/").lower():
            logger.warning("Ignoring a token cache file written for another Hub: %s", self.path)
            return CachedTokens()
        external = data.get(_EXTERNAL)
        hub = data.get(_HUB)
        identity = data.get(_IDENTITY)
        return CachedTokens(
            external_token=external if isinstance(external, dict) else None,
            hub_token=hub if isinstance(hub, dict) else None,
            identity=identity if isinstance(identity, dict) else None,
        )

    # ------------------------------------------------------------------ writing
    def save(self, tokens: CachedTokens) -> None:
        """Store both tokens (atomically: temporary file, fsync, rename). Nothing on disk when not persisting.

        Raises:
            OSError: the folder or file cannot be written.
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
        self._ensure_folder()
        fd, tmp_name = tempfile.mkstemp(prefix=".tokens-", suffix=".tmp", dir=self.folder)
        try:
            os.fchmod(fd, CACHE_FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        logger.debug("Token cache written to %s", self.path)

    def clear(self) -> bool:
        """Forget both tokens (memory and file). Returns whether a file was removed."""
        self._memory = CachedTokens()
        if not self.persist:
            return False
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        logger.debug("Token cache %s removed", self.path)
        return True

    def _ensure_folder(self) -> None:
        self.folder.mkdir(mode=CACHE_FOLDER_MODE, parents=True, exist_ok=True)
        current = stat.S_IMODE(self.folder.stat().st_mode)
        if current != CACHE_FOLDER_MODE:
            os.chmod(self.folder, CACHE_FOLDER_MODE)
