"""Storage tokens (facts §4.2) and storage URLs (facts §4.3): what the Hub hands out, validated."""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from polaris.errors import StorageError

__all__ = ["TOKEN_EXPIRY_LEEWAY", "ObjectLocation", "StorageToken", "parse_url"]

TOKEN_EXPIRY_LEEWAY = 30.0
"""A storage token is renewed this many seconds before it expires."""
STORAGE_TOKEN_TYPE = "storage"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
_SCHEME_RE = re.compile(r"^\w+://")


# --- addressing --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectLocation:
    """A bucket and an object key (or key prefix, for a Zarr store URL)."""

    bucket: str
    key: str

    def child(self, relative: str) -> ObjectLocation:
        return ObjectLocation(self.bucket, f"{self.key}/{relative}" if self.key else relative)


def parse_url(url: str) -> ObjectLocation:
    """Split a storage URL (facts §4.3): drop ``<scheme>://``, first segment = bucket, the rest = key.

    Raises:
        StorageError: the URL has no bucket or no key.
    """
    relative = _SCHEME_RE.sub("", url.strip()).strip("/")
    bucket, _, key = relative.partition("/")
    if not bucket or not key:
        raise StorageError(f"storage URL {url!r} must look like <scheme>://<bucket>/<key>")
    return ObjectLocation(bucket, key)


# --- token -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StorageToken:
    """Short-lived S3 credentials for one artifact, as handed out by the Hub's token endpoint (facts §4.2).

    ``access_token`` and ``secret`` never appear in ``repr``.
    """

    access_token: str = field(repr=False)
    key: str
    secret: str = field(repr=False)
    endpoint: str
    paths: dict[str, str]
    expires_at: float | None = None
    #: When the token was received (epoch seconds): short-lived tokens get a proportionally short leeway.
    issued_at: float = field(default_factory=time.time)

    @classmethod
    def from_response(cls, payload: dict[str, Any]) -> StorageToken:
        """Validate the storage-token exchange response and build a token.

        Raises:
            StorageError: wrong ``token_type`` / ``issued_token_type``, ``expires_in`` not positive, missing
                ``extra_data`` fields, endpoint not an http(s) URL, or ``paths`` not one of the known shapes.
        """
        if not isinstance(payload, dict):
            raise StorageError("storage token response is not a JSON object")
        token_type = payload.get("token_type") or "Storage"
        if not isinstance(token_type, str) or token_type.lower() != STORAGE_TOKEN_TYPE:
            raise StorageError(f"storage token has token_type {token_type!r}, expected 'Storage'")
        issued = payload.get("issued_token_type")
        if issued is not None and issued != JWT_TOKEN_TYPE:
            raise StorageError(f"storage token has issued_token_type {issued!r}, expected {JWT_TOKEN_TYPE!r}")
        access_token = payload.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise StorageError("storage token response has no access_token")
        expires_at = _expiry(payload.get("expires_in"), payload.get("expires_at"))
        extra = payload.get("extra_data")
        if not isinstance(extra, dict):
            raise StorageError("storage token response has no extra_data object")
        values: dict[str, str] = {}
        for name in ("key", "secret", "endpoint"):
            value = extra.get(name)
            if not isinstance(value, str) or not value:
                raise StorageError(f"storage token extra_data.{name} is missing or not a string")
            values[name] = value
        parsed = urlparse(values["endpoint"])
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise StorageError(f"storage endpoint {values['endpoint']!r} is not an http(s) URL")
        paths = _validate_paths(extra.get("paths"))
        return cls(
            access_token=access_token,
            key=values["key"],
            secret=values["secret"],
            endpoint=values["endpoint"],
            paths=paths,
            expires_at=expires_at,
        )

    def expired(self, leeway: float = TOKEN_EXPIRY_LEEWAY) -> bool:
        """True when the token expires within ``leeway`` seconds (never, without an expiry).

        The leeway is at most a third of the token's lifetime, so a token that lives less than the leeway is still
        used for most of its life instead of being renewed before every request.
        """
        if self.expires_at is None:
            return False
        lifetime = max(0.0, self.expires_at - self.issued_at)
        return time.time() + min(leeway, lifetime / 3) >= self.expires_at

    @property
    def session_token(self) -> str:
        """The S3 session token the Hub expects: ``jwt/<access_token>``."""
        return f"jwt/{self.access_token}"


def _expiry(expires_in: Any, expires_at: Any) -> float | None:
    if expires_in is not None and (isinstance(expires_in, bool) or not isinstance(expires_in, int | float)):
        raise StorageError(f"storage token expires_in must be a number, got {expires_in!r}")
    if expires_in is not None and expires_in <= 0:
        raise StorageError(f"storage token expires_in must be positive, got {expires_in!r}")
    if expires_at is not None:
        if isinstance(expires_at, int | float) and not isinstance(expires_at, bool):
            return float(expires_at)
        if isinstance(expires_at, str):
            try:
                return datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
            except ValueError:
                with contextlib.suppress(ValueError):
                    return float(expires_at)
        raise StorageError(f"storage token expires_at {expires_at!r} is neither epoch seconds nor ISO 8601")
    if expires_in is not None:
        return time.time() + float(expires_in)
    return None


_PATH_SHAPES: tuple[tuple[frozenset[str], frozenset[str]], ...] = (
    # (required keys, optional keys)
    (frozenset({"root", "manifest"}), frozenset()),  # DatasetV2: store URL + manifest file URL
    (frozenset({"training", "test"}), frozenset()),  # BenchmarkV2 (0.11+): two index-set files
    (frozenset({"root"}), frozenset({"extension"})),  # DatasetV1: table file URL (+ Zarr store URL)
)


def _validate_paths(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise StorageError("storage token extra_data.paths is missing or not an object")
    # null values mean "absent"; the 0.11 BenchmarkV2 model carries a stray integer `test_2` we ignore.
    paths = {k: v for k, v in raw.items() if v is not None and not (k == "test_2" and isinstance(v, int))}
    for name, value in paths.items():
        if not isinstance(value, str) or not _SCHEME_RE.match(value) or "/" not in _SCHEME_RE.sub("", value):
            raise StorageError(f"storage path {name!r} must be an absolute URL <scheme>://<bucket>/..., got {value!r}")
    keys = frozenset(paths)
    for required, optional in _PATH_SHAPES:
        if required <= keys and keys <= required | optional:
            return dict(paths)
    raise StorageError(
        f"storage token paths have keys {sorted(keys)}; expected root[+extension], root+manifest, or training+test"
    )
