"""The one place that calls the generated endpoints, and the one funnel from HTTP answers to typed errors.

Everything above this module works with plain Python values and :mod:`polaris.errors`; everything
below it is ``polaris_hub_api`` (generated, never edited) and httpx.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from polaris.errors import (
    ArtifactConflictError,
    ArtifactNotFoundError,
    HubConnectionError,
    HubServerError,
    IncompleteUploadError,
    InvalidRequestError,
    PolarisCreateArtifactError,
    PolarisHubError,
    PolarisUnauthorizedError,
    RateLimitedError,
)
from polaris.hub._transport import parse_retry_after

if TYPE_CHECKING:
    from polaris_hub_api import AuthenticatedClient
    from polaris_hub_api.types import Response as GeneratedResponse

__all__ = [
    "MAX_HUB_MESSAGE_CHARS",
    "Page",
    "Wire",
    "connection_error",
    "error_for_response",
    "error_for_status",
    "fetch_user_info",
    "hub_message",
    "raise_for_response",
]

logger = logging.getLogger(__name__)

#: The Hub's message is cut to this many characters in exception text.
MAX_HUB_MESSAGE_CHARS = 1000

_R = TypeVar("_R")


# ---------------------------------------------------------------------------------------------- errors funnel
def _detail_text(detail: Any) -> str | None:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, Mapping) and "msg" in item:
                loc = item.get("loc")
                where = ".".join(str(p) for p in loc) if isinstance(loc, list | tuple) else None
                parts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
            else:
                parts.append(str(item))
        return "; ".join(parts) if parts else None
    if detail is None:
        return None
    return json.dumps(detail, sort_keys=True)


def hub_message(content: bytes, headers: Mapping[str, str] | None = None) -> str | None:
    """The Hub's own explanation in an error body.

    JSON ``message``, else ``detail``, else ``error_description`` (or ``error``), else the body as text.
    """
    if not content:
        return None
    text = content.decode("utf-8", errors="replace").strip()
    data: Any = None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    message: str | None = None
    if isinstance(data, Mapping):
        for key in ("message", "detail", "error_description", "error"):
            if data.get(key):
                message = data[key] if key != "detail" else _detail_text(data[key])
                if message:
                    break
        if message is None:
            message = json.dumps(data, sort_keys=True)
    elif data is not None:
        message = json.dumps(data)
    else:
        content_type = (headers or {}).get("content-type", "")
        # an HTML error page says nothing useful on one line
        message = None if "html" in content_type.lower() else (text or None)
    if message is not None and not isinstance(message, str):
        message = str(message)
    if message and len(message) > MAX_HUB_MESSAGE_CHARS:
        message = message[:MAX_HUB_MESSAGE_CHARS] + "..."
    return message


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


def _incomplete_upload(content: bytes) -> tuple[list[str], list[str]] | None:
    """``(missing, mismatched)`` when a 409 body says ``detail.state == "incomplete"``, else ``None``."""
    data = _json_or_none(content)
    detail = data.get("detail") if isinstance(data, dict) else None
    if not isinstance(detail, dict) or detail.get("state") != "incomplete":
        return None

    def keys(name: str) -> list[str]:
        value = detail.get(name)
        return [str(v) for v in value] if isinstance(value, list) else []

    return keys("missing"), keys("mismatched")


def error_for_status(
    status: int,
    content: bytes,
    headers: Mapping[str, str],
    *,
    method: str | None = None,
    url: str | None = None,
) -> PolarisHubError:
    """The typed error for a non-2xx answer (the caller raises it)."""
    message = hub_message(content, headers)
    where = f"{method} {url}" if method and url else "The Hub request"
    kwargs: dict[str, Any] = {"status_code": status, "hub_message": message, "method": method, "url": url}
    if status == 401:
        return PolarisUnauthorizedError(f"{where} was refused: not logged in or the login expired", **kwargs)
    if status == 403:
        return PolarisCreateArtifactError(f"{where} was forbidden", **kwargs)
    if status == 404:
        return ArtifactNotFoundError(f"{where}: not found, or you have no access", **kwargs)
    if status == 409:
        incomplete = _incomplete_upload(content)
        if incomplete is not None:
            missing, mismatched = incomplete
            return IncompleteUploadError(
                f"{where}: the artifact's upload is incomplete ({len(missing)} object(s) missing, "
                f"{len(mismatched)} differing)",
                missing=missing,
                mismatched=mismatched,
                body=_json_or_none(content),
                **kwargs,
            )
        return ArtifactConflictError(f"{where} conflicts with the Hub's state", **kwargs)
    if status in (400, 422):
        return InvalidRequestError(f"{where} was rejected as invalid", **kwargs)
    if status == 429:
        retry_after = parse_retry_after(headers.get("retry-after"))
        return RateLimitedError(f"{where} was rate limited", retry_after=retry_after, **kwargs)
    if status >= 500:
        return HubServerError(f"{where} failed on the Hub's side", **kwargs)
    return PolarisHubError(f"{where} failed", **kwargs)


def error_for_response(response: httpx.Response) -> PolarisHubError:
    """The typed error for an httpx response (reads the body if needed)."""
    try:
        content = response.read()
    except httpx.HTTPError:
        content = b""
    try:
        request: httpx.Request | None = response.request
    except RuntimeError:
        request = None
    method = request.method if request is not None else None
    url = str(request.url.copy_with(query=None)) if request is not None else None
    return error_for_status(response.status_code, content, response.headers, method=method, url=url)


def raise_for_response(response: httpx.Response) -> None:
    """Raise the typed error of a non-2xx answer; do nothing on success.

    Raises:
        PolarisUnauthorizedError: 401. PolarisCreateArtifactError: 403. ArtifactNotFoundError: 404.
        ArtifactConflictError: 409 (IncompleteUploadError when the body says the upload is incomplete).
        InvalidRequestError: 400/422. RateLimitedError: 429.
        HubServerError: 5xx. PolarisHubError: any other non-2xx.
    """
    if 200 <= response.status_code < 300:
        return
    raise error_for_response(response)


def connection_error(
    exc: httpx.TransportError | ssl.SSLError, *, method: str | None, url: str | None
) -> HubConnectionError:
    """A :class:`HubConnectionError` for a failure before any answer (no secret is in httpx's text)."""
    text = str(exc) or type(exc).__name__
    is_tls = isinstance(exc, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text
    where = f"{method} {url}" if method and url else "The Hub"
    if is_tls:
        message = f"TLS verification failed when connecting for {where}"
        hint = (
            "The server certificate is not trusted. If you are behind a TLS-inspecting proxy, point "
            "POLARIS_CA_BUNDLE (settings.ca_bundle) at your organisation's CA bundle file."
        )
        return HubConnectionError(message, hub_message=text, method=method, url=url, hint=hint)
    if isinstance(exc, httpx.TimeoutException):
        message = f"Timed out waiting for {where}"
    else:
        message = f"Could not connect for {where}"
    return HubConnectionError(message, hub_message=text, method=method, url=url)


# ---------------------------------------------------------------------------------------------- wire
@dataclass(frozen=True)
class Page:
    """One page of a listing: ``owner/name`` strings, plus the total the Hub reports (if any)."""

    items: list[str]
    total: int | None
    limit: int
    offset: int


def _owner_slug(owner: Any) -> str:
    if isinstance(owner, str):
        return owner
    if isinstance(owner, Mapping):
        return str(owner.get("slug", ""))
    return str(getattr(owner, "slug", ""))


class Wire:
    """Holds the generated client that shares the authenticated httpx connection, and calls its endpoints.

    Args:
        http: the (authenticated) httpx client every call goes through.
        api_url: base of the REST API; ``http`` must have it as ``base_url``.
    """

    def __init__(self, http: httpx.Client, api_url: str) -> None:
        from polaris_hub_api import AuthenticatedClient

        self.http = http
        self.api_url = api_url
        # The injected httpx client carries base_url and auth; the generated client's own are unused.
        self.api: AuthenticatedClient = AuthenticatedClient(base_url=api_url, token="").set_httpx_client(http)
        self._local = threading.local()
        hooks = http.event_hooks
        hooks.setdefault("response", []).append(self._remember)
        http.event_hooks = hooks

    def _remember(self, response: httpx.Response) -> None:
        self._local.response = response

    def _last_response(self) -> httpx.Response | None:
        response = getattr(self._local, "response", None)
        return response if isinstance(response, httpx.Response) else None

    def call(self, method: str, path: str, endpoint: Callable[..., GeneratedResponse[_R]], **kwargs: Any) -> _R | None:
        """Call ``endpoint.sync_detailed`` and funnel failures; return the parsed 2xx model.

        ``method`` and ``path`` only label errors and logs.

        Raises:
            HubConnectionError: no answer (connection, TLS, timeout).
            PolarisHubError (a subclass per status): a non-2xx answer.
        """
        return self.call_detailed(method, path, endpoint, **kwargs).parsed

    def call_detailed(
        self, method: str, path: str, endpoint: Callable[..., GeneratedResponse[_R]], **kwargs: Any
    ) -> GeneratedResponse[_R]:
        """Like :meth:`call`, but return the whole generated response (status, headers, parsed model).

        Raises: see :meth:`call`.
        """
        url = f"{self.api_url.rstrip('/')}{path}"
        self._local.response = None
        try:
            result = endpoint(client=self.api, **kwargs)
        except httpx.TransportError as exc:
            raise connection_error(exc, method=method, url=url) from exc
        except (KeyError, TypeError, ValueError) as exc:
            # The generated parser choked on the body. Funnel the answer itself if it was an error.
            last = self._last_response()
            if last is not None and not 200 <= last.status_code < 300:
                raise error_for_response(last) from exc
            status = last.status_code if last is not None else None
            raise PolarisHubError(
                f"{method} {url}: the Hub's answer has an unexpected shape ({type(exc).__name__})",
                status_code=status,
                method=method,
                url=url,
            ) from exc
        status = int(result.status_code)
        if not 200 <= status < 300:
            raise error_for_status(status, result.content, result.headers, method=method, url=url)
        return result

    # ---------------------------------------------------------------- listings
    def list_datasets(self, *, limit: int, offset: int) -> Page:
        """``GET /v1/dataset``: ``artifactId`` of each V1 dataset.

        Raises: see :meth:`call`.
        """
        from polaris_hub_api.api.datasets import list_datasets_v1
        from polaris_hub_api.models.dataset_v1_list import DatasetV1List

        parsed = self.call("GET", "/v1/dataset", list_datasets_v1.sync_detailed, limit=limit, offset=offset)
        if not isinstance(parsed, DatasetV1List):
            raise PolarisHubError("GET /v1/dataset: the Hub's answer is not a dataset list")
        items = [item.artifact_id for item in parsed.data]
        return Page(items=items, total=parsed.metadata.total, limit=limit, offset=offset)

    def list_benchmarks(self, *, limit: int, offset: int) -> Page:
        """``GET /v1/benchmark``: ``owner/name`` of each benchmark.

        Raises: see :meth:`call`.
        """
        from polaris_hub_api.api.benchmarks import list_benchmarks
        from polaris_hub_api.models.benchmark_list import BenchmarkList

        parsed = self.call("GET", "/v1/benchmark", list_benchmarks.sync_detailed, limit=limit, offset=offset)
        if not isinstance(parsed, BenchmarkList):
            raise PolarisHubError("GET /v1/benchmark: the Hub's answer is not a benchmark list")
        items = [f"{_owner_slug(item.owner)}/{item.name}" for item in parsed.data]
        return Page(items=items, total=parsed.metadata.total, limit=limit, offset=offset)

    def list_competitions(self, *, limit: int, offset: int) -> Page:
        """``GET /v2/competition``: ``owner/name`` of each competition.

        Raises: see :meth:`call`.
        """
        from polaris_hub_api.api.competitions import list_competitions
        from polaris_hub_api.models.competition_list import CompetitionList

        parsed = self.call("GET", "/v2/competition", list_competitions.sync_detailed, limit=limit, offset=offset)
        if not isinstance(parsed, CompetitionList):
            raise PolarisHubError("GET /v2/competition: the Hub's answer is not a competition list")
        items = [f"{_owner_slug(item.owner)}/{item.name}" for item in parsed.data]
        return Page(items=items, total=parsed.metadata.total, limit=limit, offset=offset)

    # ---------------------------------------------------------------- artifacts (JSON dicts in, JSON dicts out)
    def _json(
        self,
        method: str,
        path: str,
        endpoint: Callable[..., GeneratedResponse[Any]],
        *,
        body_model: Any = None,
        body: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        """Send ``body`` (checked against the spec's model), return the answer as a JSON dict plus its headers."""
        if body is not None:
            try:
                kwargs["body"] = body_model.from_dict(dict(body))
            except (KeyError, TypeError, ValueError) as exc:
                raise PolarisHubError(
                    f"{method} {path}: the request body does not match the Hub's API ({exc})"
                ) from exc
        result = self.call_detailed(method, path, endpoint, **kwargs)
        parsed = result.parsed
        if parsed is None or not hasattr(parsed, "to_dict"):
            raise PolarisHubError(
                f"{method} {path}: the Hub answered without the expected JSON body", status_code=int(result.status_code)
            )
        data: dict[str, Any] = parsed.to_dict()
        return data, result.headers

    def get_dataset_v1(self, owner: str, name: str) -> dict[str, Any]:
        """``GET /v1/dataset/{owner}/{name}``. Raises: see :meth:`call` (404 -> ArtifactNotFoundError)."""
        from polaris_hub_api.api.datasets import get_dataset_v1

        return self._json("GET", f"/v1/dataset/{owner}/{name}", get_dataset_v1.sync_detailed, owner=owner, name=name)[0]

    def get_dataset_v2(self, owner: str, name: str) -> dict[str, Any]:
        """``GET /v2/dataset/{owner}/{name}``. Raises: see :meth:`call`."""
        from polaris_hub_api.api.datasets import get_dataset_v2

        return self._json("GET", f"/v2/dataset/{owner}/{name}", get_dataset_v2.sync_detailed, owner=owner, name=name)[0]

    def put_dataset_v1(self, owner: str, slug: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /v1/dataset/{owner}/{slug}`` (the slug in the path). Raises: see :meth:`call`."""
        from polaris_hub_api.api.datasets import put_dataset_v1
        from polaris_hub_api.models import DatasetV1Upload

        path = f"/v1/dataset/{owner}/{slug}"
        return self._json(
            "PUT", path, put_dataset_v1.sync_detailed, body_model=DatasetV1Upload, body=body, owner=owner, name=slug
        )[0]

    def put_dataset_v2(self, owner: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /v2/dataset/{owner}/{name}`` (the name in the path). Raises: see :meth:`call`."""
        from polaris_hub_api.api.datasets import put_dataset_v2
        from polaris_hub_api.models import DatasetV2Upload

        path = f"/v2/dataset/{owner}/{name}"
        return self._json(
            "PUT", path, put_dataset_v2.sync_detailed, body_model=DatasetV2Upload, body=body, owner=owner, name=name
        )[0]

    def get_benchmark(self, owner: str, name: str) -> dict[str, Any]:
        """``GET /v1/benchmark/{owner}/{name}``. Raises: see :meth:`call`."""
        from polaris_hub_api.api.benchmarks import get_benchmark

        path = f"/v1/benchmark/{owner}/{name}"
        return self._json("GET", path, get_benchmark.sync_detailed, owner=owner, name=name)[0]

    def put_benchmark(self, owner: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /v1/benchmark/{owner}/{name}``. Raises: see :meth:`call`."""
        from polaris_hub_api.api.benchmarks import put_benchmark
        from polaris_hub_api.models import BenchmarkUpload

        path = f"/v1/benchmark/{owner}/{name}"
        return self._json(
            "PUT", path, put_benchmark.sync_detailed, body_model=BenchmarkUpload, body=body, owner=owner, name=name
        )[0]

    def create_result(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        """``POST /v2/result``; returns the stored result and its ``Content-Location`` (relative to hub_url).

        Raises: see :meth:`call`.
        """
        from polaris_hub_api.api.results import create_result
        from polaris_hub_api.models import ResultUpload

        try:
            data, headers = self._json(
                "POST", "/v2/result", create_result.sync_detailed, body_model=ResultUpload, body=body
            )
        except PolarisHubError as exc:
            # polaris-lib never read this answer's body, so a Hub may send none: success is the 2xx status.
            last = self._last_response()
            if exc.status_code is None or not 200 <= exc.status_code < 300 or last is None:
                raise
            return {}, last.headers.get("content-location")
        return data, headers.get("content-location")

    def get_competition(self, owner: str, name: str) -> dict[str, Any]:
        """``GET /v2/competition/{owner}/{name}``. Raises: see :meth:`call`."""
        from polaris_hub_api.api.competitions import get_competition

        path = f"/v2/competition/{owner}/{name}"
        return self._json("GET", path, get_competition.sync_detailed, owner=owner, name=name)[0]

    def get_competition_dataset(self, owner: str, name: str) -> dict[str, Any]:
        """``GET /v2/competition/dataset/{owner}/{name}``. Raises: see :meth:`call`."""
        from polaris_hub_api.api.competitions import get_competition_dataset

        path = f"/v2/competition/dataset/{owner}/{name}"
        return self._json("GET", path, get_competition_dataset.sync_detailed, owner=owner, name=name)[0]

    def evaluate_competition(self, owner: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v2/competition/{owner}/{name}/evaluate`` with snake_case predictions. Raises: see :meth:`call`."""
        from polaris_hub_api.api.competitions import evaluate_competition
        from polaris_hub_api.models import CompetitionPredictions

        path = f"/v2/competition/{owner}/{name}/evaluate"
        return self._json(
            "POST",
            path,
            evaluate_competition.sync_detailed,
            body_model=CompetitionPredictions,
            body=body,
            owner=owner,
            name=name,
        )[0]


# ---------------------------------------------------------------------------------------------- identity provider
def fetch_user_info(http: httpx.Client, *, user_info_url: str) -> dict[str, Any]:
    """``GET user_info_url`` with the external access token (``http`` carries base_url and the header).

    Returns the user-info claims (``sub``, ``email``, ``name``, ``preferred_username`` when known).

    Raises:
        HubConnectionError: the identity provider cannot be reached.
        PolarisUnauthorizedError: the external token was refused.
        PolarisHubError: any other failure.
    """
    from polaris_hub_api import AuthenticatedClient
    from polaris_hub_api.api.identity import get_user_info
    from polaris_hub_api.models.user_info import UserInfo

    if not user_info_url.rstrip("/").endswith("/oauth/userinfo"):
        # Not where the spec puts the operation: fetch the configured URL as it is.
        try:
            response = http.get(user_info_url)
        except httpx.TransportError as exc:
            raise connection_error(exc, method="GET", url=user_info_url) from exc
        raise_for_response(response)
        try:
            data = response.json()
        except ValueError as exc:
            raise PolarisHubError(f"GET {user_info_url}: the answer is not JSON") from exc
        if not isinstance(data, dict):
            raise PolarisHubError(f"GET {user_info_url}: the answer is not user information")
        return {k: v for k, v in data.items() if v is not None}
    api = AuthenticatedClient(base_url=str(http.base_url), token="").set_httpx_client(http)
    try:
        result = get_user_info.sync_detailed(client=api)
    except httpx.TransportError as exc:
        raise connection_error(exc, method="GET", url=user_info_url) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise PolarisHubError(f"GET {user_info_url}: unexpected answer ({type(exc).__name__})") from exc
    status = int(result.status_code)
    if not 200 <= status < 300:
        raise error_for_status(status, result.content, result.headers, method="GET", url=user_info_url)
    if not isinstance(result.parsed, UserInfo):
        raise PolarisHubError(f"GET {user_info_url}: the answer is not user information", status_code=status)
    claims: dict[str, Any] = {k: v for k, v in result.parsed.to_dict().items() if v is not None}
    return claims
