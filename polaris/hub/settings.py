"""Settings of the Polaris Hub client: one object, read once, passed down.

Every field can be set from the environment with the ``POLARIS_`` prefix (``POLARIS_HUB_URL``, ...)
or from a ``.env`` file in the working directory. Defaults point at the real Polaris Hub.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from polaris.hub.redact import redact_text, redact_url
from polaris.types import TimeoutTypes

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "DEFAULT_READ_TIMEOUT", "LIBRARY_DEFAULT_TIMEOUT", "PolarisHubSettings"]

#: Seconds to wait for a TCP/TLS connection to the Hub.
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Seconds to wait for bytes of a Hub response.
DEFAULT_READ_TIMEOUT = 200.0
#: Seconds used for every phase when ``default_timeout="timeout"`` (httpx's own default).
LIBRARY_DEFAULT_TIMEOUT = 5.0

_URL_FIELDS = (
    "hub_url",
    "api_url",
    "hub_token_url",
    "authorize_url",
    "callback_url",
    "token_fetch_url",
    "user_info_url",
    "revoke_url",
)
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _check_url(value: str, field: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.hostname:
        raise ValueError(f"{field} must be an absolute http(s) URL, got {redact_url(value)!r}")
    if parts.username or parts.password:
        raise ValueError(f"{field} must not carry credentials")
    return value


def is_loopback_url(url: str) -> bool:
    """True when ``url`` points at this machine (127.0.0.1, localhost or [::1])."""
    return (urlsplit(url).hostname or "") in _LOOPBACK_HOSTS


class PolarisHubSettings(BaseSettings):
    """Where the Hub and its identity provider live, how to log in, and how to talk to them.

    Attributes:
        hub_url: the Hub web app root; ``api_url``, ``hub_token_url`` and ``callback_url`` derive from it.
        api_url: REST API base (default ``{scheme}://{host}/api``; a path inside ``hub_url`` is dropped).
        custom_metadata_prefix: prefix of object-metadata response headers (``X-Amz-Meta-``).
        hub_token_url: the Hub token endpoint (default ``{scheme}://{host}/api/auth/token``).
        username, password: when both are set, log in with the password grant (no browser).
        authorize_url, token_fetch_url, user_info_url: the external identity provider (not derived).
        callback_url: OAuth2 ``redirect_uri`` (default ``{scheme}://{host}/oauth2/callback``). A loopback URL
            (``http://127.0.0.1:0/callback``) makes ``login`` catch the code itself.
        revoke_url: RFC 7009 token revocation, called by ``logout`` (default ``{scheme}://{host}/oauth/revoke``);
            identity-provider tokens are sent there only when it is on ``token_fetch_url``'s origin.
        scopes: space-separated OAuth2 scopes; client_id: the public PKCE client id.
        ca_bundle: ``None``/``True`` verify TLS with the default CA store, ``False`` disables verification,
            a path verifies against that CA bundle file (or directory).
        default_timeout: ``(connect, read)`` seconds, ``"timeout"`` (5 s everywhere) or ``"never"``.
        offline: ``POLARIS_OFFLINE=1``: send no request at all; artifacts come from the verified local cache.
        progress: ``POLARIS_PROGRESS=0`` turns progress bars off (``rich``/``notebook``/``log`` force a kind, see
            :mod:`polaris.progress`).
        storage_max_concurrency: ``POLARIS_STORAGE_MAX_CONCURRENCY``: the most object-storage requests one transfer
            keeps in flight (default 64). Below it the number adapts to the link (it grows while throughput grows,
            backs off when the store throttles); lower it on a shared or metered link.

    Raises:
        pydantic.ValidationError: a URL is not an absolute http(s) URL, or a value has the wrong type.
    """

    model_config = SettingsConfigDict(
        env_prefix="POLARIS_",
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
        validate_default=True,
        # A ValidationError never echoes what was given: a hub_url with credentials must not reach logs or tracebacks.
        hide_input_in_errors=True,
    )

    hub_url: str = "https://polarishub.io/"
    api_url: str | None = None
    custom_metadata_prefix: str = "X-Amz-Meta-"
    hub_token_url: str | None = None
    username: str | None = None
    password: SecretStr | None = Field(default=None, repr=False)
    authorize_url: str = "https://clerk.polarishub.io/oauth/authorize"
    callback_url: str | None = None
    token_fetch_url: str = "https://clerk.polarishub.io/oauth/token"
    user_info_url: str = "https://clerk.polarishub.io/oauth/userinfo"
    revoke_url: str | None = None
    scopes: str = "profile email"
    client_id: str = "agQP2xVM6JqMHvGc"
    ca_bundle: bool | str | None = None
    default_timeout: TimeoutTypes = (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)
    offline: bool = False
    progress: bool = True
    storage_max_concurrency: int = Field(default=64, ge=1, le=1024)

    @field_validator("progress", mode="before")
    @classmethod
    def _parse_progress(cls, value: Any) -> Any:
        # A forced kind (rich, notebook, log, auto) means "on"; polaris.progress reads which one.
        if isinstance(value, str) and value.strip().lower() in ("rich", "notebook", "log", "auto"):
            return True
        return value

    @field_validator(*_URL_FIELDS, mode="after")
    @classmethod
    def _validate_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return _check_url(value.strip(), info.field_name or "url")

    @field_validator("default_timeout", mode="after")
    @classmethod
    def _validate_timeout(cls, value: TimeoutTypes) -> TimeoutTypes:
        if isinstance(value, tuple) and any(v <= 0 for v in value):
            raise ValueError("default_timeout values must be positive seconds")
        return value

    @field_validator("ca_bundle", mode="before")
    @classmethod
    def _parse_ca_bundle(cls, value: Any) -> Any:
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("", "none", "null"):
                return None
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
        return value

    @model_validator(mode="after")
    def _derive_urls(self) -> PolarisHubSettings:
        # urljoin with an absolute path: any path inside hub_url is dropped, as on the real Hub.
        if self.api_url is None:
            self.api_url = urljoin(self.hub_url, "/api")
        if self.hub_token_url is None:
            self.hub_token_url = urljoin(self.hub_url, "/api/auth/token")
        if self.callback_url is None:
            self.callback_url = urljoin(self.hub_url, "/oauth2/callback")
        if self.revoke_url is None:
            self.revoke_url = urljoin(self.hub_url, "/oauth/revoke")
        return self

    def __repr_args__(self) -> Any:
        # URLs are shown without user-info or token-looking query values (the password is never shown at all).
        for name, value in super().__repr_args__():
            yield name, redact_text(value) if isinstance(value, str) else value

    # ----------------------------------------------------------------- derived helpers
    @property
    def resolved_api_url(self) -> str:
        """``api_url`` (never ``None`` after validation)."""
        assert self.api_url is not None
        return self.api_url

    @property
    def resolved_hub_token_url(self) -> str:
        assert self.hub_token_url is not None
        return self.hub_token_url

    @property
    def resolved_revoke_url(self) -> str:
        """Where ``logout`` revokes tokens (RFC 7009; default ``{scheme}://{host}/oauth/revoke`` of ``hub_url``)."""
        assert self.revoke_url is not None
        return self.revoke_url

    @property
    def resolved_callback_url(self) -> str:
        assert self.callback_url is not None
        return self.callback_url

    @property
    def uses_password_grant(self) -> bool:
        """True when both username and password are set (then no browser is involved)."""
        return bool(self.username) and self.password is not None and bool(self.password.get_secret_value())

    @property
    def callback_is_loopback(self) -> bool:
        """True when ``callback_url`` points at this machine."""
        return is_loopback_url(self.resolved_callback_url)

    @property
    def catches_callback_locally(self) -> bool:
        """True when ``login`` should run its own one-shot server for the callback (RFC 8252).

        That is a loopback ``callback_url`` that the Hub does not serve itself: a local Hub at
        ``http://127.0.0.1:8765`` shows the code on its own ``/oauth2/callback`` page.
        """
        if not self.callback_is_loopback:
            return False
        callback, hub = urlsplit(self.resolved_callback_url), urlsplit(self.hub_url)
        return (callback.hostname, callback.port) != (hub.hostname, hub.port)

    def password_value(self) -> str | None:
        """The password in clear (only for building the token request)."""
        return None if self.password is None else self.password.get_secret_value()

    def httpx_verify(self) -> ssl.SSLContext | bool:
        """What to pass as httpx ``verify=``: the CA bundle really controls TLS verification.

        Raises:
            FileNotFoundError: ``ca_bundle`` names a file or folder that does not exist.
        """
        if self.ca_bundle is None or self.ca_bundle is True:
            return True
        if self.ca_bundle is False:
            return False
        import os

        path = os.path.expanduser(self.ca_bundle)
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"ca_bundle {path!r} does not exist")
        return ssl.create_default_context(cafile=path)

    def httpx_timeout(self) -> httpx.Timeout:
        """``default_timeout`` as an :class:`httpx.Timeout` (a tuple is ``(connect, read)``)."""
        import httpx

        value = self.default_timeout
        if value == "never":
            return httpx.Timeout(None)
        if value == "timeout":
            return httpx.Timeout(LIBRARY_DEFAULT_TIMEOUT)
        connect, read = value
        return httpx.Timeout(read, connect=connect, read=read, write=read, pool=read)

    def web_url(self, *parts: str) -> str:
        """A link into the Hub web app, e.g. ``web_url("datasets", owner, name)``."""
        base = self.hub_url if self.hub_url.endswith("/") else self.hub_url + "/"
        return urljoin(base, "/".join(p.strip("/") for p in parts))
