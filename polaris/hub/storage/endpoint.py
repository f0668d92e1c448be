"""One storage endpoint with one token's credentials: a pooled urllib3 connection pool and a SigV4 signer.

Shared by the reader (GET, HEAD, listing) and the writer (single PUTs) of a token, so an upload's HEADs and PUTs and
a download's listing and GETs reuse the same keep-alive connections (one pool per token, as large as the session's
concurrency cap), and a store that counts connections sees one client, not three.

Signing (:class:`Signer`) is SigV4 for S3 with ``x-amz-content-sha256: UNSIGNED-PAYLOAD`` (accepted by S3 and R2 over
http and https), computed directly with the day's signing key cached: ~0.02 ms per request, where botocore's
``S3SigV4Auth`` over an ``AWSRequest`` costs ~0.2 ms (its header/URL objects and canonicalisation) and
``s3.get_object`` / ``head_object`` / ``list_objects_v2`` ~1-2 ms more (events, models, response parsing: a
listing parses every key's ``LastModified`` with dateutil). The tests check the signature against botocore's.

The guarantees are those of botocore's HTTP layer: no redirects and no other host (``redirect=False``,
``assert_same_host``), no library retries (the session's one loop decides), connect + idle-read timeouts (never a
deadline), and every answer >= 300 raised as a botocore ``ClientError`` so :mod:`.classify` sorts it exactly as
it sorts boto3's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from polaris.errors import StorageError
from polaris.hub.storage.constants import DEFAULT_REGION

if TYPE_CHECKING:
    from pathlib import Path

    from urllib3.connectionpool import HTTPConnectionPool
    from urllib3.response import BaseHTTPResponse

    from polaris.hub.storage.tokens import StorageToken

__all__ = ["ERROR_BODY_MAX", "UNSIGNED_PAYLOAD", "Endpoint", "Signer", "client_error", "endpoint_pool"]

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
ERROR_BODY_MAX = 64 * 1024
"""At most this much of an error answer is read (S3 error documents are tiny)."""
_CODE_RE = re.compile(rb"<Code>([^<]{1,200})</Code>")
_MESSAGE_RE = re.compile(rb"<Message>([^<]{0,500})</Message>")


def endpoint_pool(
    endpoint: str, *, timeout: tuple[float, float], ca_bundle: str | Path | bool | None, max_connections: int
) -> tuple[Any, HTTPConnectionPool]:
    """The parsed storage endpoint (``urlsplit``) and one urllib3 pool for it (no retries of its own,
    connect/idle-read timeouts, TLS verified against ``ca_bundle`` unless it is ``False``).

    Raises:
        StorageError: the endpoint is not an http(s) URL.
    """
    import urllib3

    split = urlsplit(endpoint)
    if split.scheme not in ("http", "https") or not split.netloc:
        raise StorageError(f"storage endpoint {endpoint!r} is not an http(s) URL")
    tls: dict[str, Any] = {}
    if split.scheme == "https":
        if ca_bundle is False:
            tls["cert_reqs"] = "CERT_NONE"
        elif ca_bundle not in (None, True):
            tls["ca_certs"] = str(ca_bundle)
    pool = urllib3.connection_from_url(
        f"{split.scheme}://{split.netloc}",
        maxsize=max_connections,
        block=False,
        retries=False,
        timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
        **tls,
    )
    return split, pool


class Signer:
    """AWS SigV4 for S3 requests with ``UNSIGNED-PAYLOAD`` (what botocore's ``S3SigV4Auth`` computes, checked against
    it in the tests), with the day's signing key cached."""

    def __init__(self, key: str, secret: str, session_token: str | None) -> None:
        self._key = key
        self._secret = secret
        self._session_token = session_token
        self._day_key: tuple[str, bytes] | None = None

    def _signing_key(self, day: str) -> bytes:
        cached = self._day_key
        if cached is not None and cached[0] == day:
            return cached[1]
        key = hmac.digest(("AWS4" + self._secret).encode(), day.encode(), "sha256")
        for part in (DEFAULT_REGION, "s3", "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        self._day_key = (day, key)
        return key

    def sign(self, method: str, path: str, headers: dict[str, str], query: str = "") -> dict[str, str]:
        """``headers`` plus ``X-Amz-Date``, ``X-Amz-Content-SHA256``, the session token and ``Authorization``.

        ``path`` is the request path exactly as sent (already percent-encoded; S3 does not normalise it);
        ``query`` the canonical query string (see :func:`canonical_query`), also sent as is; ``headers`` must hold
        ``Host`` as sent. Every header is signed.
        """
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        day = amz_date[:8]
        signed = dict(headers)
        signed["X-Amz-Date"] = amz_date
        signed["X-Amz-Content-SHA256"] = UNSIGNED_PAYLOAD
        if self._session_token:
            signed["X-Amz-Security-Token"] = self._session_token
        canonical = sorted([(name.lower(), " ".join(value.split())) for name, value in signed.items()])
        names = ";".join(name for name, _ in canonical)
        request = "\n".join(
            (method, path, query, "".join(f"{name}:{value}\n" for name, value in canonical), names, UNSIGNED_PAYLOAD)
        )
        scope = f"{day}/{DEFAULT_REGION}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
        signature = hmac.new(self._signing_key(day), to_sign.encode(), "sha256").hexdigest()
        signed["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self._key}/{scope}, SignedHeaders={names}, Signature={signature}"
        )
        return signed


def canonical_query(params: dict[str, str]) -> str:
    """The SigV4 canonical query string of ``params`` (sorted, RFC 3986 encoded); sent exactly like this too."""
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items()))


class Endpoint:
    """The storage endpoint of one token: its pool, request paths and signer (thread-safe)."""

    def __init__(
        self,
        token: StorageToken,
        *,
        timeout: tuple[float, float],
        ca_bundle: str | Path | bool | None,
        max_connections: int,
    ) -> None:
        from polaris.hub.redact import install_log_redaction

        install_log_redaction()  # urllib3 logs request lines at DEBUG; the filter keeps credentials out of logs
        split, self.pool = endpoint_pool(
            token.endpoint, timeout=timeout, ca_bundle=ca_bundle, max_connections=max_connections
        )
        self.prefix = split.path.rstrip("/")
        host = split.hostname or ""
        if ":" in host:
            host = f"[{host}]"  # an IPv6 literal, as in the Host header
        if split.port is not None and split.port != (443 if split.scheme == "https" else 80):
            host = f"{host}:{split.port}"  # the Host header sent omits a default port
        self.host = host
        self.signer = Signer(token.key, token.secret, token.session_token)

    def close(self) -> None:
        self.pool.close()

    def path(self, bucket: str, key: str = "") -> str:
        """The request path of an object (path-style, percent-encoded as sent and signed)."""
        base = f"{self.prefix}/{quote(bucket, safe='')}"
        return f"{base}/{quote(key, safe='/~')}" if key else f"{base}/"

    def send(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        *,
        body: Any = None,
        query: str = "",
        operation: str = "GetObject",
    ) -> BaseHTTPResponse:
        """Sign and send one request; return the open response (status < 300) for the caller to read.

        Raises:
            botocore.exceptions.ClientError: the storage answered with a status >= 300 (redirects included).
            urllib3.exceptions.HTTPError: the connection failed or timed out.
        """
        headers = {"Host": self.host, **headers}  # sent as signed (urllib3 then adds no Host of its own)
        signed = self.signer.sign(method, path, headers, query)
        response = self._urlopen(method, f"{path}?{query}" if query else path, signed, body)
        if response.status >= 300:
            try:
                data = b"" if method == "HEAD" else response.read(ERROR_BODY_MAX, decode_content=False)
            finally:
                response.close()
                response.release_conn()
            raise client_error(response.status, data, {k.lower(): v for k, v in response.headers.items()}, operation)
        return response

    def _urlopen(self, method: str, target: str, headers: dict[str, str], body: Any) -> BaseHTTPResponse:
        return self.pool.urlopen(
            method,
            target,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            assert_same_host=True,
            preload_content=False,
            decode_content=False,
        )


def client_error(status: int, body: bytes, headers: dict[str, str], operation: str) -> Exception:
    """A botocore ``ClientError`` for an answer >= 300 (status, S3 error code and message, headers)."""
    from botocore.exceptions import ClientError

    code = _CODE_RE.search(body)
    message = _MESSAGE_RE.search(body)
    error = {
        "Code": code.group(1).decode("utf-8", "replace") if code else str(status),
        "Message": message.group(1).decode("utf-8", "replace") if message else "",
    }
    response: Any = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers}}
    return ClientError(response, operation)
