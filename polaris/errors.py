"""Every exception the Polaris client raises.

One tree, so callers can catch as broadly or as narrowly as they like::

    PolarisError
    ├── PolarisHubError                 a request to the Hub failed (carries status + Hub message)
    │   ├── PolarisUnauthorizedError        401 / no usable token
    │   ├── PolarisCreateArtifactError      403 (alias: PolarisForbiddenError)
    │   ├── ArtifactNotFoundError           404 (alias: PolarisRetrieveArtifactError), also a LookupError
    │   ├── ArtifactConflictError           409
    │   │   └── IncompleteUploadError           409: the dataset's upload never completed
    │   ├── InvalidRequestError             400 / 422, also a ValueError
    │   ├── RateLimitedError                429
    │   ├── HubServerError                  5xx
    │   ├── HubConnectionError              connection refused, DNS, TLS, timeouts
    │   ├── ResponseTooLargeError           the Hub's answer is larger than the client accepts
    │   └── TokenExchangeError              RFC 6749 error from a token endpoint
    ├── PolarisChecksumError            downloaded or local data does not match its checksum (ValueError)
    ├── InvalidArtifactError            an artifact fails a client-side rule (ValueError)
    │   └── LicenseRequiredError
    ├── InvalidPredictionsError         predictions a metric cannot score (ValueError): names target and test set
    ├── StorageError                    object-storage transfer failed
    │   ├── ArtifactExistsError             if_exists="raise" and the object is already there
    │   │   └── ObjectConflictError             if_exists="skip" and a stored object differs from ours
    │   └── PartialUploadError              some objects were sent; re-run with if_exists="skip"
    └── ClientClosedError               the client was used after close() (RuntimeError)

Messages never contain tokens or passwords.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArtifactConflictError",
    "ArtifactExistsError",
    "ArtifactNotFoundError",
    "ClientClosedError",
    "HubConnectionError",
    "HubServerError",
    "IncompleteUploadError",
    "InvalidArtifactError",
    "InvalidPredictionsError",
    "InvalidRequestError",
    "LicenseRequiredError",
    "ObjectConflictError",
    "PartialUploadError",
    "PolarisChecksumError",
    "PolarisCreateArtifactError",
    "PolarisError",
    "PolarisForbiddenError",
    "PolarisHubError",
    "PolarisRetrieveArtifactError",
    "PolarisUnauthorizedError",
    "RateLimitedError",
    "ResponseTooLargeError",
    "StorageError",
    "TokenExchangeError",
]


class PolarisError(Exception):
    """Base class of every error raised by this package.

    ``hint`` says what the user can do about it (may be empty).
    """

    default_hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = self.default_hint if hint is None else hint
        super().__init__(message)

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\nHint: {self.hint}"
        return self.message


class PolarisHubError(PolarisError):
    """A request to the Polaris Hub failed.

    Attributes:
        status_code: HTTP status of the Hub's answer (``None`` when no answer arrived).
        hub_message: the Hub's own explanation, taken from the response body.
        method, url: the request that failed (the URL never carries credentials).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        hub_message: str | None = None,
        method: str | None = None,
        url: str | None = None,
        hint: str | None = None,
        body: Any = None,
    ) -> None:
        self.status_code = status_code
        self.hub_message = hub_message
        self.method = method
        self.url = url
        self.body = body
        text = message
        if hub_message:
            text = f"{message}: {hub_message}"
        if status_code is not None:
            text = f"{text} (HTTP {status_code})"
        super().__init__(text, hint=hint)


class PolarisUnauthorizedError(PolarisHubError):
    default_hint = "Log in with `polaris login` (or `polaris login --overwrite` if your session expired)."


class PolarisCreateArtifactError(PolarisHubError):
    default_hint = (
        "You cannot create or change artifacts for this owner. If you just joined the organization, "
        "log in again with `polaris login --overwrite` so your token carries the new membership."
    )


PolarisForbiddenError = PolarisCreateArtifactError


class ArtifactNotFoundError(PolarisHubError, LookupError):
    default_hint = (
        "Check the owner and name (`polaris datasets list`). Private artifacts of others look like missing "
        "ones; log in as a user who can see it."
    )


PolarisRetrieveArtifactError = ArtifactNotFoundError


class ArtifactConflictError(PolarisHubError):
    default_hint = "An artifact with this owner and name already exists in another state; pick another name."


class IncompleteUploadError(ArtifactConflictError):
    """The Hub holds the dataset's metadata but not (all of) its bytes: an upload was interrupted.

    Attributes:
        missing: storage keys the Hub did not find.
        mismatched: storage keys whose content differs from what the metadata declares.
    """

    default_hint = (
        'Complete the upload: run the same client.upload_dataset(dataset, if_exists="skip") call again with the '
        "same dataset (CLI: the same `polaris datasets upload` command with --resume); it sends only what is missing."
    )

    def __init__(
        self,
        message: str,
        *,
        missing: list[str] | None = None,
        mismatched: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.missing = list(missing or [])
        self.mismatched = list(mismatched or [])
        super().__init__(message, **kwargs)


class InvalidRequestError(PolarisHubError, ValueError):
    default_hint = "The Hub rejected the request as invalid; its message says which field."


class RateLimitedError(PolarisHubError):
    default_hint = "Too many requests; wait a moment and try again."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class HubServerError(PolarisHubError):
    default_hint = "The Hub had a problem; try again later. If it persists, report it with the time of the request."


class HubConnectionError(PolarisHubError):
    default_hint = (
        "Check the network and `hub_url`. Behind a TLS-inspecting proxy set POLARIS_CA_BUNDLE to your "
        "CA certificate bundle."
    )


class ResponseTooLargeError(PolarisHubError):
    """The Hub's answer exceeded the size the client reads into memory (see ``polaris.hub._transport``)."""

    default_hint = "The Hub (or something pretending to be it) sent an oversized answer; check hub_url and retry."


class TokenExchangeError(PolarisHubError):
    """A token endpoint answered with an RFC 6749 error (``error`` + ``error_description``)."""

    default_hint = "Log in again with `polaris login --overwrite`."

    def __init__(
        self, message: str, *, error: str | None = None, error_description: str | None = None, **kwargs: Any
    ) -> None:
        self.error = error
        self.error_description = error_description
        hub_message = kwargs.pop("hub_message", None)
        if hub_message is None and error:
            hub_message = f"{error}: {error_description}" if error_description else error
        super().__init__(message, hub_message=hub_message, **kwargs)


class PolarisChecksumError(PolarisError, ValueError):
    """Data does not match the checksum the Hub recorded for it.

    Attributes name the artifact, and for Zarr data the chunk (object key) that failed.
    """

    default_hint = (
        "The download was discarded; nothing corrupt was kept in the cache. Retry; if it fails again, "
        "the artifact on the Hub may be damaged."
    )

    def __init__(
        self,
        message: str,
        *,
        artifact: str | None = None,
        expected: str | None = None,
        actual: str | None = None,
        chunk: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.artifact = artifact
        self.expected = expected
        self.actual = actual
        self.chunk = chunk
        parts = [message]
        if artifact:
            parts.append(f"artifact={artifact}")
        if chunk:
            parts.append(f"chunk={chunk}")
        if expected or actual:
            parts.append(f"expected={expected} actual={actual}")
        super().__init__(" | ".join(parts), hint=hint)


class InvalidArtifactError(PolarisError, ValueError):
    """An artifact breaks a rule the Hub enforces; nothing was sent."""


class InvalidPredictionsError(PolarisError, ValueError):
    """Predictions that cannot be scored: NaN, the wrong type, or values a metric refuses.

    Attributes:
        test_set, target, metric: where it happened (``metric`` may be ``None``).
    """

    default_hint = "Fix the predictions of that target and test set (numbers, no NaN; probabilities in [0, 1])."

    def __init__(
        self,
        message: str,
        *,
        test_set: str | None = None,
        target: str | None = None,
        metric: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.test_set = test_set
        self.target = target
        self.metric = metric
        super().__init__(message, hint=hint)


class LicenseRequiredError(InvalidArtifactError):
    default_hint = "Set `license` to one of CC-BY-4.0, CC-BY-SA-4.0, CC-BY-NC-4.0, CC-BY-NC-SA-4.0, CC0-1.0, MIT."


class StorageError(PolarisError):
    """Moving bytes to or from the Hub's object storage failed."""


class ArtifactExistsError(StorageError):
    default_hint = 'Pass if_exists="replace" to overwrite, or if_exists="skip" to keep what is there.'


class ObjectConflictError(ArtifactExistsError):
    """``if_exists="skip"`` found stored objects whose md5 differs from ours; nothing was overwritten.

    Attributes:
        keys: the differing objects (storage keys).
    """

    default_hint = (
        'The data on the Hub differs from yours. Upload with if_exists="replace" to overwrite it, '
        "or under a new name to keep both."
    )

    def __init__(self, message: str, *, keys: list[str] | None = None, hint: str | None = None) -> None:
        self.keys = list(keys or [])
        super().__init__(message, hint=hint)


class PartialUploadError(StorageError):
    """Part of an upload went through. Re-running it with ``if_exists="skip"`` sends only what is missing.

    Attributes:
        done, failed: objects sent (or found present) and objects that failed.
        missing: the objects (storage keys, relative to the artifact) that are not stored yet.
    """

    default_hint = 'Re-run the same upload with if_exists="skip" to send only the missing objects.'

    def __init__(
        self,
        message: str,
        *,
        done: int = 0,
        failed: int = 0,
        missing: list[str] | None = None,
        hint: str | None = None,
    ) -> None:
        self.done = done
        self.failed = failed
        self.missing = list(missing or [])
        text = f"{message} ({done} objects uploaded, {failed} failed"
        if self.missing:
            shown = ", ".join(self.missing[:5]) + (" ..." if len(self.missing) > 5 else "")
            text += f"; {len(self.missing)} missing: {shown}"
        super().__init__(text + ")", hint=hint)


class ClientClosedError(PolarisError, RuntimeError):
    default_hint = "Create a new PolarisHubClient (or use it as a context manager)."
