"""Object-storage transfers against the Hub's S3-compatible storage (AWS S3, Cloudflare R2, a local emulator).

The Hub hands out short-lived storage tokens (:class:`StorageToken`, facts §4.2). A :class:`StorageSession`
turns one into S3 credentials (access key = ``key``, secret = ``secret``, session token = ``"jwt/" + access_token``,
path-style addressing against ``endpoint``, region ``us-east-1``) and moves single files and whole Zarr archives.

One concern per module:

* :mod:`.tokens` — storage tokens and storage URLs;
* :mod:`.classify` — sorting library errors into retry / renew / give up;
* :mod:`.session` — the session: what callers use; it owns a transport and hands it to the movers;
* :mod:`.transport` — token renewal, the clients built from the token, the retry loop, the concurrency limit;
* :mod:`.concurrency` — the adaptive limit of requests in flight (grows with throughput, backs off on throttling);
* :mod:`.endpoint` / :mod:`.reader` / :mod:`.writer` — one pooled connection pool and SigV4 signer per token; signed
  GET/HEAD/LIST and PUT over it;
* :mod:`.upload` / :mod:`.download` — moving bytes (they import the transport, never the session);
* :mod:`.zarr` — Zarr archive preparation (consolidated metadata);
* :mod:`.lazy` — a read-only zarr 3 store reading (and verifying) chunks on demand, and Dask worker credentials;
* :mod:`.progress` — progress bars;
* :mod:`.constants` — sizes, concurrency, timeouts.

The retry policy is the client's one policy, :mod:`polaris.hub.retry`.
"""

from __future__ import annotations

from polaris.hub.retry import BACKOFF_BASE_SECONDS as BACKOFF_BASE
from polaris.hub.retry import BACKOFF_MAX_SECONDS as BACKOFF_MAX
from polaris.hub.retry import MAX_ATTEMPTS
from polaris.hub.storage.constants import (
    CONNECT_TIMEOUT,
    DEFAULT_CONCURRENCY,
    MULTIPART_THRESHOLD,
    PART_SIZE,
    READ_TIMEOUT,
    content_type_for,
)
from polaris.hub.storage.session import StorageSession
from polaris.hub.storage.tokens import TOKEN_EXPIRY_LEEWAY, ObjectLocation, StorageToken, parse_url
from polaris.hub.storage.upload import UploadReport
from polaris.hub.storage.zarr import StagedZarr, prepare_zarr, stage_zarr

MAX_RETRIES = MAX_ATTEMPTS - 1
"""Retries of one S3 request after a connection error, 5xx or 429 (so at most MAX_RETRIES + 1 attempts)."""

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_MAX",
    "CONNECT_TIMEOUT",
    "DEFAULT_CONCURRENCY",
    "MAX_RETRIES",
    "MULTIPART_THRESHOLD",
    "PART_SIZE",
    "READ_TIMEOUT",
    "TOKEN_EXPIRY_LEEWAY",
    "ObjectLocation",
    "StagedZarr",
    "StorageSession",
    "StorageToken",
    "UploadReport",
    "content_type_for",
    "parse_url",
    "prepare_zarr",
    "stage_zarr",
]
