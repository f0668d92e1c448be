"""Settings of the Polaris Hub client: one object, read once, passed down.

Every field can be set from the environment with the ``POLARIS_`` prefix (``POLARIS_HUB_URL``, ...)
or from a ``.env`` file in the working directory (the file read is always logged). Defaults point at the real Polaris
Hub.

The Hub token only ever goes to the origin of ``hub_url``: an ``api_url``, ``hub_token_url`` or ``revoke_url`` on
another origin is refused unless that origin is listed in ``POLARIS_ALLOW_TOKEN_ORIGINS`` (read from the real
environment or passed in code, never from a ``.env`` file, so a planted ``.env`` cannot widen it).
"""

from __future__ import annotations

import logging
import os
import re
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urljoin, urlsplit

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from polaris.errors import InvalidSettingError
from polaris.hub.redact import redact_text, redact_url
from polaris.limits import DEFAULT_MAX_DECLARED_BYTES
from polaris.types import TimeoutTypes

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_HUB_URL",
    "DEFAULT_READ_TIMEOUT",
    "IDP_FIELDS",
    "LIBRARY_DEFAULT_TIMEOUT",
    "PolarisHubSettings",
    "origin_of",
]

logger = logging.getLogger(__name__)

#: The real Polaris Hub (the identity-provider defaults below belong to it).
DEFAULT_HUB_URL = "https://polarishub.io/"
#: Settings that name the identity provider: learnt from a Hub that is not the default one (see ``discover``).
IDP_FIELDS = ("authorize_url", "token_fetch_url", "user_info_url", "client_id")
#: Settings whose URL receives the Hub token (bearer, exchange subject or revocation).
TOKEN_URL_FIELDS = ("api_url", "hub_token_url", "revoke_url")

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


def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url`` (lower case, the default port spelt out), for comparing origins."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def _origin_text(url: str) -> str:
    """The origin of ``url`` as a user writes it (no default port)."""
    scheme, rest = origin_of(url).split("://", 1)
    host, _, port = rest.rpartition(":")
    return f"{scheme}://{host}" if {"http": "80", "https": "443"}.get(scheme) == port else f"{scheme}://{rest}"


#: What each setting accepts, shown when a value is refused.
_ACCEPTED: dict[str, str] = {
    "default_timeout": (
        "two positive numbers of seconds as connect,read (e.g. 10,200 or [10, 200]), "
        "'timeout' (5 s for everything) or 'never'"
    ),
    "progress": "one of rich, notebook, log, auto, true, false (or 1/0, yes/no, on/off)",
    "offline": "true or false (or 1/0, yes/no, on/off)",
    "ca_bundle": "the path of a CA bundle file or folder, true (system trust store) or false (no TLS verification)",
    "allow_token_origins": "origins separated by commas or spaces, e.g. https://api.example.org,https://auth.example.org",
}
_URL_ACCEPTED = "an absolute http(s) URL without user name or password, e.g. https://polarishub.io/"
_SECRET_FIELDS = frozenset({"password"})
_TRUE = ("true", "1", "yes", "on", "y", "t")
_FALSE = ("false", "0", "no", "off", "n", "f", "")


def _env_name(field: str) -> str:
    return f"POLARIS_{field.upper()}"


def _settings_error(exc: ValidationError) -> InvalidSettingError:
    """One line per refused setting: the variable, what it accepts, and (when not secret) what was given."""
    problems: list[str] = []
    variables: list[str] = []
    seen: set[str] = set()
    for err in exc.errors():
        loc = err.get("loc") or ()
        field = str(loc[0]) if loc else ""
        raw_msg = str(err.get("msg", "invalid value"))
        msg = raw_msg.removeprefix("Value error, ")
        if not field:
            problems.append(msg)  # a check across fields: its message names the variables
            variables.extend(re.findall(r"POLARIS_[A-Z_]+", msg))
            continue
        if field in seen:
            continue  # a union type reports one error per member: one line is enough
        seen.add(field)
        variables.append(_env_name(field))
        accepted = _ACCEPTED.get(field) or (_URL_ACCEPTED if field in _URL_FIELDS else None)
        given = ""
        if field not in _SECRET_FIELDS and field not in _URL_FIELDS and "input" in err:
            given = f", got {redact_text(repr(err['input']))[:80]}"
        if accepted and field in _URL_FIELDS:
            problems.append(f"{_env_name(field)} ({field}): {msg} (e.g. {DEFAULT_HUB_URL})")
        elif accepted:
            problems.append(f"{_env_name(field)} ({field}) must be {accepted}{given}")
        else:
            problems.append(f"{_env_name(field)} ({field}): {msg}{given}")
    return InvalidSettingError(
        "Invalid settings: " + "; ".join(problems),
        variables=list(dict.fromkeys(variables)),
    )


class _DotEnvWithoutTrust(PydanticBaseSettingsSource):
    """The ``.env`` source minus ``allow_token_origins``: only the real environment or code may widen where the
    Hub token goes."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self.inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values = dict(self.inner())
        if values.pop("allow_token_origins", None) is not None:
            logger.warning(
                "Ignoring POLARIS_ALLOW_TOKEN_ORIGINS in a .env file: set it in the environment or in code to let "
                "the Hub token go to another origin"
            )
        return values


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

        max_declared_bytes: ``POLARIS_MAX_DECLARED_BYTES``: the most memory one size declared by a Hub answer or an
            archive's metadata (a chunk, an ``__index__``, an index set, an object read into memory, a key listing)
            may make the client reserve; beyond it the artifact is refused with ``DeclaredSizeError`` before
            anything is allocated (default 2 GiB, see :mod:`polaris.limits`).

        allow_token_origins: ``POLARIS_ALLOW_TOKEN_ORIGINS``: origins besides ``hub_url``'s that may receive the
            Hub token as ``api_url``, ``hub_token_url`` or ``revoke_url`` (comma- or space-separated). Ignored in a
            ``.env`` file.

    When ``hub_url`` is not the real Hub and the identity-provider settings are left at their defaults, the client
    reads them from the Hub's discovery document (``/.well-known/polaris-hub``) before a login, or refuses naming
    the variables to set (see :meth:`discover`).

    Raises:
        InvalidSettingError: (a ``SettingsError`` and ``ValueError``) a value is refused; the message names each
            variable (``POLARIS_...``) and what it accepts. The Hub token would go to another origin than
            ``hub_url``'s.
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

    hub_url: str = DEFAULT_HUB_URL
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
    default_timeout: Annotated[TimeoutTypes, NoDecode] = (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)
    offline: bool = False
    progress: bool = True
    max_declared_bytes: int = Field(default=DEFAULT_MAX_DECLARED_BYTES, gt=0)
    allow_token_origins: str | None = None
    #: Origins a discovery document of ``hub_url`` named for its token endpoint (trusted: the Hub said so).
    _learnt_origins: set[str] = PrivateAttr(default_factory=set)
    _env_files_read: tuple[str, ...] = PrivateAttr(default=())

    def __init__(self, **values: Any) -> None:
        env_file = values.get("_env_file", self.model_config.get("env_file"))
        read = _log_env_file(env_file)
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _settings_error(exc) from None
        self._env_files_read = read

    @property
    def env_files_read(self) -> tuple[str, ...]:
        """The ``.env`` files these settings were read from (absolute paths; empty when none exists)."""
        return tuple(getattr(self, "_env_files_read", ()))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _DotEnvWithoutTrust(settings_cls, dotenv_settings), file_secret_settings

    storage_max_concurrency: int = Field(default=64, ge=1, le=1024)

    @field_validator("progress", mode="before")
    @classmethod
    def _parse_progress(cls, value: Any) -> Any:
        # A forced kind (rich, notebook, log, auto) means "on"; polaris.progress reads which one.
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("rich", "notebook", "log", "auto") or lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(f"{value.strip()[:40]!r} is not a progress kind")
        return value

    @field_validator("default_timeout", mode="before")
    @classmethod
    def _parse_timeout(cls, value: Any) -> Any:
        # From the environment: "10,200", "[10, 200]", "timeout" or "never".
        if isinstance(value, str):
            text = value.strip()
            if text.lower() in ("timeout", "never"):
                return text.lower()
            numbers = [p for p in re.split(r"[\s,]+", text.strip("[]()")) if p]
            if len(numbers) == 2:
                try:
                    return (float(numbers[0]), float(numbers[1]))
                except ValueError:
                    pass
            raise ValueError(f"{text[:40]!r} is not a timeout")
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
        self._check_token_origins()
        return self

    @property
    def token_origins(self) -> frozenset[str]:
        """Origins that may receive the Hub token: ``hub_url``'s and those of ``allow_token_origins``."""
        allowed = {origin_of(self.hub_url), *(getattr(self, "_learnt_origins", None) or ())}
        for item in re.split(r"[\s,]+", self.allow_token_origins or ""):
            if item:
                _check_url(item, "allow_token_origins")
                allowed.add(origin_of(item))
        return frozenset(allowed)

    def _check_token_origins(self) -> None:
        allowed = self.token_origins
        foreign = [
            (field, url)
            for field in TOKEN_URL_FIELDS
            if (url := getattr(self, field)) is not None and origin_of(url) not in allowed
        ]
        if foreign:
            named = ", ".join(f"{_env_name(field)} ({redact_url(url)})" for field, url in foreign)
            origins = ",".join(dict.fromkeys(_origin_text(url) for _, url in foreign))
            raise ValueError(
                f"{named} {'is' if len(foreign) == 1 else 'are'} on another origin than POLARIS_HUB_URL "
                f"({redact_url(self.hub_url)}), so the Hub token would be sent there; refused. Unset "
                f"{' and '.join(_env_name(field) for field, _ in foreign)} (check the .env file), or allow "
                f"{'that origin' if ',' not in origins else 'those origins'} explicitly with "
                f"POLARIS_ALLOW_TOKEN_ORIGINS={origins} in the environment"
            )

    def may_receive_token(self, url: str) -> bool:
        """True when ``url`` is on an origin allowed to receive the Hub token (see :attr:`token_origins`)."""
        return origin_of(url) in self.token_origins

    def check_token_destination(self, url: str) -> None:
        """Refuse to attach the Hub token to a request for ``url`` when it is not on an allowed origin.

        Raises:
            InvalidSettingError: ``url`` is on another origin than ``hub_url``'s (and not allowed explicitly).
        """
        if not self.may_receive_token(url):
            raise InvalidSettingError(
                f"Refusing to send the Hub token to {redact_url(url)}: it is not on the origin of POLARIS_HUB_URL "
                f"({redact_url(self.hub_url)})",
                variables=["POLARIS_API_URL", "POLARIS_ALLOW_TOKEN_ORIGINS"],
                hint="Send the request without the token (withhold_token=True), or allow that origin explicitly with "
                "POLARIS_ALLOW_TOKEN_ORIGINS in the environment.",
            )

    @property
    def is_default_hub(self) -> bool:
        """True when ``hub_url`` is the real Polaris Hub (whose identity provider the defaults name)."""
        return origin_of(self.hub_url) == origin_of(DEFAULT_HUB_URL)

    @property
    def idp_needs_discovery(self) -> bool:
        """True when ``hub_url`` is another Hub and no identity-provider setting was given: they must be learnt."""
        return not self.is_default_hub and not (set(IDP_FIELDS) & self.model_fields_set)

    def apply_discovery(self, document: dict[str, Any]) -> None:
        """Take the identity provider (and token endpoint) from a Hub's discovery document.

        Raises:
            ValueError: a URL of the document is not an absolute http(s) URL, or a field is missing.
        """
        learnt: dict[str, str] = {}
        for field in IDP_FIELDS:
            value = document.get(field)
            if not isinstance(value, str) or not value:
                raise ValueError(f"the discovery document has no {field}")
            learnt[field] = value if field == "client_id" else _check_url(value, field)
        token_url = document.get("hub_token_url")
        if isinstance(token_url, str) and token_url and "hub_token_url" not in self.model_fields_set:
            learnt["hub_token_url"] = _check_url(token_url, "hub_token_url")  # the Hub's own origin names it
            self._learnt_origins.add(origin_of(token_url))
        for field, value in learnt.items():
            setattr(self, field, value)

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


def _log_env_file(env_file: Any) -> tuple[str, ...]:
    """Say which ``.env`` file the settings are read from (or that none is), so a planted one cannot go unseen.

    Returns the absolute paths of the files that exist.
    """
    files = env_file if isinstance(env_file, list | tuple) else [env_file]
    read: list[str] = []
    for item in files:
        if item is None:
            continue
        path = Path(os.fspath(item)).expanduser()
        if path.is_file():
            logger.info("Reading Polaris settings from %s", path.resolve())
            read.append(str(path.resolve()))
        else:
            logger.debug("No settings file %s (in %s)", path, Path.cwd())
    return tuple(read)
