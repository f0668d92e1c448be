"""Every exception the Polaris client raises.

One tree, so callers can catch as broadly or as narrowly as they like::

    PolarisError
    ├── PolarisHubError                 a request to the Hub failed (carries status + Hub message)
    │   ├── PolarisUnauthorizedError        401 / no usable token
    │   │   └── CachedLoginError                the cached login is unreadable or expired (never used as anonymous)
    │   ├── PolarisCreateArtifactError      403 (alias: PolarisForbiddenError)
    │   ├── ArtifactNotFoundError           404 (alias: PolarisRetrieveArtifactError), also a LookupError
    │   ├── ArtifactConflictError           409
    │   │   └── IncompleteUploadError           409: the dataset's upload never completed
    │   ├── InvalidRequestError             400 / 422, also a ValueError
    │   ├── RateLimitedError                429
    │   ├── HubServerError                  5xx
    │   ├── HubConnectionError              connection refused, DNS, TLS, timeouts
    │   │   └── OfflineError                    offline mode is on: no request was sent
    │   ├── ResponseTooLargeError           the Hub's answer is larger than the client accepts
    │   ├── NotAPolarisHubError             the URL answers, but not as a Polaris Hub does
    │   │   └── NotAPolarisHubNotFoundError     ... with an HTML 404 (also an ArtifactNotFoundError)
    │   └── TokenExchangeError              RFC 6749 error from a token endpoint
    ├── PolarisChecksumError            downloaded or local data does not match its checksum (ValueError)
    ├── UnsafeCacheError                a cache folder or file could be controlled by someone else (PermissionError)
    ├── DeclaredSizeError               a size an answer or an archive declares is beyond what the artifact
    │                                   declares or the configured ceiling (refused before allocating)
    ├── InvalidArtifactError            an artifact fails a client-side rule (ValueError)
    │   └── LicenseRequiredError
    ├── InvalidPredictionsError         predictions a metric cannot score (ValueError): names target and test set
    ├── StorageError                    object-storage transfer failed
    │   ├── ArtifactExistsError             if_exists="raise" and the object is already there
    │   │   └── ObjectConflictError             if_exists="skip" and a stored object differs from ours
    │   └── PartialUploadError              some objects were sent; re-run with if_exists="skip"
    ├── ClientClosedError               the client was used after close() (RuntimeError)
    ├── SettingsError                   the settings cannot work as given (ValueError)
    │   ├── InvalidSettingError             a POLARIS_* value is refused (names the variable and what it accepts)
    │   ├── IdentityProviderUnknownError    another Hub, and its identity provider could not be learnt
    │   └── CABundleNotFoundError           ca_bundle names a missing file (also FileNotFoundError)
    └── NotCachedError                  offline, and the artifact is not in the local cache (LookupError)

Messages never contain tokens or passwords.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArtifactConflictError",
    "ArtifactExistsError",
    "ArtifactNotFoundError",
    "CABundleNotFoundError",
    "CachedLoginError",
    "ClientClosedError",
    "DeclaredSizeError",
    "HubConnectionError",
    "HubServerError",
    "IdentityProviderUnknownError",
    "IncompleteUploadError",
    "InvalidArtifactError",
    "InvalidPredictionsError",
    "InvalidRequestError",
    "InvalidSettingError",
    "LicenseRequiredError",
    "NotAPolarisHubError",
    "NotAPolarisHubNotFoundError",
    "NotCachedError",
    "ObjectConflictError",
    "OfflineError",
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
    "SettingsError",
    "StorageError",
    "TokenExchangeError",
    "UnsafeCacheError",
]


class PolarisError(Exception):
    """Base class of every error raised by this package.

    ``hint`` says what the user can do about it (may be empty).
    """

    default_hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        from polaris.hub.redact import redact_text  # URLs with credentials and tokens never reach the text

        message = redact_text(message)
        self.message = message
        self.hint = redact_text(self.default_hint if hint is None else hint)
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
        from polaris.hub.redact import redact_text

        self.status_code = status_code
        self.hub_message = redact_text(hub_message) if hub_message else hub_message
        self.method = method
        self.url = redact_text(url) if url else url
        self.body = body
        text = message
        if hub_message:
            text = f"{message}: {hub_message}"
        if status_code is not None:
            text = f"{text} (HTTP {status_code})"
        super().__init__(text, hint=hint)


class PolarisUnauthorizedError(PolarisHubError):
    default_hint = "Log in with `polaris login` (or `polaris login --overwrite` if your session expired)."


class CachedLoginError(PolarisUnauthorizedError):
    """The cached login of this Hub cannot be used (unreadable file, or expired with nothing to renew it).

    Requests are not sent anonymously instead: the user would get answers for nobody (``[]``) without a word.

    Attributes:
        hub_url: the Hub of the login; path: the cache file (``None`` for a login kept in memory).
    """

    default_hint = "Log in again with `polaris login --overwrite` (or `polaris logout` to use the Hub anonymously)."

    def __init__(self, message: str, *, hub_url: str, path: str | None = None, **kwargs: Any) -> None:
        self.hub_url = hub_url
        self.path = path
        super().__init__(message, **kwargs)


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


class NotAPolarisHubError(PolarisHubError):
    """The URL answered, but not as a Polaris Hub does (an HTML page, a 404/405 without a Hub's JSON body...)."""

    default_hint = (
        "Check POLARIS_HUB_URL (or --hub-url): it must be the root of a Polaris Hub, e.g. https://polarishub.io/ "
        "or a local Hub started with `polaris emulator start`."
    )


class NotAPolarisHubNotFoundError(NotAPolarisHubError, ArtifactNotFoundError):
    """A 404 from something that is not a Hub: still an :class:`ArtifactNotFoundError` for code that falls back on
    404 (the V1 -> V2 dataset lookup), but saying what it is."""


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


class DeclaredSizeError(PolarisError):
    """A size that a Hub answer or an archive's metadata declares is refused before anything is allocated.

    ``field`` names what declared it (``"data/__index__ shape"``, ``"test index set datapoints"``, ...),
    ``declared`` the value, ``limit`` the most the client accepts there and ``reason`` where that limit comes from
    (what the artifact itself declares, or the ``max_declared_bytes`` ceiling).

    Not a ``ValueError`` on purpose: raised inside a pydantic validator it reaches the caller as itself.
    """

    default_hint = (
        "The artifact's metadata does not match its data (a damaged or hostile artifact). If it is genuine and "
        "only large, raise the ceiling with POLARIS_MAX_DECLARED_BYTES (PolarisHubSettings.max_declared_bytes)."
    )

    def __init__(
        self,
        field: str,
        declared: int,
        limit: int,
        *,
        reason: str = "the max_declared_bytes ceiling",
        artifact: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.field = field
        self.declared = declared
        self.limit = limit
        self.reason = reason
        self.artifact = artifact
        where = f"{artifact}: " if artifact else ""
        super().__init__(f"{where}{field} declares {declared}, more than the {limit} allowed by {reason}", hint=hint)


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


class UnsafeCacheError(PolarisError, PermissionError):
    """A token or data cache folder or file is not private to the current user, so it is not used.

    Attributes:
        path: the folder or file that was refused.
        reason: why (a symbolic link, owned by another user, writable by others...).
    """

    default_hint = (
        "Remove it (or point POLARIS_CACHE_DIR at a folder only you can write to) and log in again; "
        "the client recreates it with owner-only permissions."
    )

    def __init__(self, message: str, *, path: str, reason: str, hint: str | None = None) -> None:
        self.path = path
        self.reason = reason
        super().__init__(message, hint=hint)


class ClientClosedError(PolarisError, RuntimeError):
    default_hint = "Create a new PolarisHubClient (or use it as a context manager)."


class OfflineError(HubConnectionError):
    """Offline mode is on (``POLARIS_OFFLINE=1`` / ``--offline``), so no request was sent."""

    default_hint = (
        "Unset POLARIS_OFFLINE (or drop --offline) to reach the Hub; `polaris cache ls` shows what is cached."
    )


class SettingsError(PolarisError, ValueError):
    """The settings are valid one by one but cannot work together (e.g. a user name without a password)."""

    default_hint = "Check the POLARIS_* environment variables, .env and --hub-url."


class InvalidSettingError(SettingsError):
    """A setting (``POLARIS_*`` variable, ``.env`` line or argument) is refused.

    Attributes:
        variables: the ``POLARIS_*`` variables named in the message.
    """

    default_hint = "Fix the POLARIS_* variables named above (in the environment, the .env file or --hub-url)."

    def __init__(self, message: str, *, variables: list[str] | None = None, hint: str | None = None) -> None:
        self.variables = list(variables or [])
        super().__init__(message, hint=hint)


class IdentityProviderUnknownError(SettingsError):
    """``hub_url`` is not the real Hub, the identity-provider settings are defaults, and the Hub does not say which
    identity provider it uses: logging in there with the real Hub's identity provider would be wrong.

    Attributes:
        hub_url: the Hub; variables: the settings to set.
    """

    def __init__(self, message: str, *, hub_url: str, variables: list[str], hint: str | None = None) -> None:
        self.hub_url = hub_url
        self.variables = list(variables)
        if hint is None:
            hint = "Set " + ", ".join(variables) + " to the identity provider of that Hub (or use the password grant)."
        super().__init__(message, hint=hint)


class CABundleNotFoundError(SettingsError, FileNotFoundError):
    """``ca_bundle`` (``POLARIS_CA_BUNDLE``) names a file or folder that does not exist."""

    default_hint = (
        "Point POLARIS_CA_BUNDLE at an existing PEM file (or folder of certificates), "
        "or unset it to use the system trust store."
    )


class NotCachedError(PolarisError, LookupError):
    """Offline, and the requested artifact has no verified copy in the local cache.

    Attributes:
        kind: ``dataset``, ``benchmark``, ``competition``...; artifact: ``owner/name``.
    """

    default_hint = (
        "Download it once while online (unset POLARIS_OFFLINE / drop --offline); "
        "`polaris cache ls` lists what is cached."
    )

    def __init__(self, message: str, *, kind: str = "", artifact: str = "", hint: str | None = None) -> None:
        self.kind = kind
        self.artifact = artifact
        super().__init__(message, hint=hint)
