"""The base of the wire layer: the generated clients, one call path through the error funnel, anonymous reads.

Everything above the wire layer works with plain Python values and :mod:`polaris.errors`; everything below it is
``polaris_hub_api`` (generated, never edited) and httpx.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx

from polaris.errors import ArtifactNotFoundError, NotAPolarisHubError, PolarisHubError, PolarisUnauthorizedError
from polaris.hub.wire.errors import (
    connection_error,
    error_for_response,
    error_for_status,
    looks_like_a_hub_answer,
    not_a_hub_error,
)
from polaris.hub.wire.generations import Generations

if TYPE_CHECKING:
    from polaris_hub_api import AuthenticatedClient
    from polaris_hub_api.types import Response as GeneratedResponse

__all__ = ["ANONYMOUS_HINT", "ArtifactSummary", "Page", "WireCore", "owner_and_name", "owner_slug"]

logger = logging.getLogger(__name__)

#: What to do when an artifact is not visible without a login.
ANONYMOUS_HINT = (
    "You are not logged in, so only public artifacts can be seen. If it is private, log in with `polaris login` "
    "as a user who may see it."
)

_R = TypeVar("_R")

ArtifactKind = Literal["dataset", "benchmark", "competition", "model"]


@dataclass(frozen=True)
class ArtifactSummary:
    """One item of a listing, with what a table of artifacts shows.

    ``version`` is the artifact generation (1 or 2: V1/V2 dataset or benchmark); ``artifact_version`` the Hub's
    version number of that artifact (0.12 versioning) when the Hub reports it.
    """

    kind: ArtifactKind
    owner: str
    name: str
    artifact_id: str
    version: int = 1
    artifact_version: int | None = None
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page of a listing: ``owner/name`` strings (and their summaries), plus the total the Hub reports."""

    items: list[str]
    total: int | None
    limit: int
    offset: int
    entries: tuple[ArtifactSummary, ...] = ()


def owner_slug(owner: Any) -> str:
    """The slug of an owner given as a string, a ``{slug}`` mapping or an object with ``.slug``."""
    if isinstance(owner, str):
        return owner
    if isinstance(owner, Mapping):
        return str(owner.get("slug", ""))
    return str(getattr(owner, "slug", ""))


def owner_and_name(owner: Any, name: str | None = None) -> tuple[str, str]:
    """``(owner, name)`` from ``owner, name`` or from one ``"owner/name"`` (the one parser of artifact references).

    ``owner`` may be anything :func:`owner_slug` reads (a string, a ``HubOwner``, a ``{slug}`` mapping).

    Raises:
        ValueError: a single reference that is not ``owner/name``.
    """
    from polaris.types import split_artifact_id

    slug = owner_slug(owner)
    if name is None:
        return split_artifact_id(slug)
    return slug, name


class WireCore:
    """Holds the generated clients sharing the client's httpx connections, and calls their endpoints.

    Every resource of the wire layer (:class:`~polaris.hub.wire.datasets.DatasetsWire`...) holds one and sends
    its calls through :meth:`call_detailed` / :meth:`json_call`.

    Args:
        http: the (authenticated) httpx client every call goes through.
        api_url: base of the REST API; ``http`` must have it as ``base_url``.
        anonymous_http: an httpx client without credentials (same ``base_url``) for reads without a login.
        has_token: whether a usable Hub token is at hand (renewing it silently if needed); reads go anonymous
            when it says no (and ``anonymous_http`` is given).
    """

    def __init__(
        self,
        http: httpx.Client,
        api_url: str,
        *,
        anonymous_http: httpx.Client | None = None,
        has_token: Callable[[], bool] | None = None,
    ) -> None:
        from polaris_hub_api import AuthenticatedClient

        self.http = http
        self.api_url = api_url
        # The injected httpx client carries base_url and auth; the generated client's own are unused.
        self.api: AuthenticatedClient = AuthenticatedClient(base_url=api_url, token="").set_httpx_client(http)
        self.anonymous_api: AuthenticatedClient | None = None
        if anonymous_http is not None:
            self.anonymous_api = AuthenticatedClient(base_url=api_url, token="").set_httpx_client(anonymous_http)
        self._has_token = has_token
        self.generations = Generations()
        self._local = threading.local()
        for client in (http, anonymous_http):
            if client is None:
                continue
            hooks = client.event_hooks
            hooks.setdefault("response", []).append(self._remember)
            client.event_hooks = hooks

    def _remember(self, response: httpx.Response) -> None:
        self._local.response = response

    def last_response(self) -> httpx.Response | None:
        response = getattr(self._local, "response", None)
        return response if isinstance(response, httpx.Response) else None

    @property
    def anonymous(self) -> bool:
        """True when reads go out without a token (no usable login, and anonymous reads are possible)."""
        if self.anonymous_api is None or self._has_token is None:
            return False
        return not self._has_token()

    def call_detailed(
        self,
        method: str,
        path: str,
        endpoint: Callable[..., GeneratedResponse[_R]],
        *,
        read: bool = False,
        **kwargs: Any,
    ) -> GeneratedResponse[_R]:
        """Call ``endpoint.sync_detailed`` and funnel failures; return the whole generated response (status, headers,
        parsed model) of a 2xx. ``method`` and ``path`` only label errors and logs.

        ``read=True`` marks a read of public content: without a login it is sent anonymously (no token, no login
        prompt), and a refusal becomes :class:`ArtifactNotFoundError` with the hint to log in.

        Raises:
            HubConnectionError: no answer (connection, TLS, timeout).
            PolarisHubError (a subclass per status): a non-2xx answer.
        """
        url = f"{self.api_url.rstrip('/')}{path}"
        anonymous = read and self.anonymous
        client = self.anonymous_api if anonymous else self.api
        self._local.response = None
        try:
            result = endpoint(client=client, **kwargs)
        except httpx.TransportError as exc:
            raise connection_error(exc, method=method, url=url) from exc
        except (KeyError, TypeError, ValueError) as exc:
            # The generated parser choked on the body. Funnel the answer itself if it was an error.
            last = self.last_response()
            if last is not None and not 200 <= last.status_code < 300:
                raise self._anonymous_error(error_for_response(last), anonymous) from exc
            status = last.status_code if last is not None else None
            if last is not None and not looks_like_a_hub_answer(last.content, last.headers):
                raise not_a_hub_error(status, last.headers, method=method, url=url) from exc
            raise PolarisHubError(
                f"{method} {url}: the Hub's answer has an unexpected shape ({type(exc).__name__})",
                status_code=status,
                method=method,
                url=url,
            ) from exc
        status = int(result.status_code)
        if not 200 <= status < 300:
            error = error_for_status(status, result.content, result.headers, method=method, url=url)
            raise self._anonymous_error(error, anonymous)
        return result

    @staticmethod
    def _anonymous_error(error: PolarisHubError, anonymous: bool) -> PolarisHubError:
        """Without a login a private artifact looks missing: say so, and how to see it. A Hub that wants a token
        for this read (401) stays a :class:`PolarisUnauthorizedError`, with the same hint."""
        if not anonymous or isinstance(error, NotAPolarisHubError):
            return error
        if not isinstance(error, (ArtifactNotFoundError, PolarisUnauthorizedError)):
            return error
        if isinstance(error, PolarisUnauthorizedError):
            return PolarisUnauthorizedError(
                f"{error.method} {error.url}: this Hub does not serve this read without a login",
                status_code=error.status_code,
                hub_message=error.hub_message,
                method=error.method,
                url=error.url,
                hint=ANONYMOUS_HINT,
            )
        return ArtifactNotFoundError(
            f"{error.method} {error.url}: not found among the public artifacts"
            if error.method and error.url
            else "not found among the public artifacts",
            status_code=error.status_code,
            hub_message=error.hub_message,
            method=error.method,
            url=error.url,
            hint=ANONYMOUS_HINT,
        )

    def json_call(
        self,
        method: str,
        path: str,
        endpoint: Callable[..., GeneratedResponse[Any]],
        *,
        body_model: Any = None,
        body: Mapping[str, Any] | None = None,
        read: bool = False,
        allow_empty: bool = False,
        **kwargs: Any,
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        """Send ``body`` (checked against the spec's model), return the answer as a JSON dict plus its headers.

        ``allow_empty``: a 2xx without a parsable body is success (``{}``).

        Raises: see :meth:`call_detailed`; PolarisHubError when the answer has no JSON body (unless allowed).
        """
        if body is not None:
            try:
                kwargs["body"] = body_model.from_dict(dict(body))
            except (KeyError, TypeError, ValueError) as exc:
                raise PolarisHubError(
                    f"{method} {path}: the request body does not match the Hub's API ({exc})"
                ) from exc
        try:
            result = self.call_detailed(method, path, endpoint, read=read, **kwargs)
        except PolarisHubError as exc:
            last = self.last_response()
            if allow_empty and exc.status_code is not None and 200 <= exc.status_code < 300 and last is not None:
                return {}, last.headers
            raise
        parsed = result.parsed
        if parsed is None or not hasattr(parsed, "to_dict"):
            if allow_empty:
                return {}, result.headers
            raise PolarisHubError(
                f"{method} {path}: the Hub answered without the expected JSON body", status_code=int(result.status_code)
            )
        data: dict[str, Any] = parsed.to_dict()
        return data, result.headers
