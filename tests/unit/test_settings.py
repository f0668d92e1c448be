"""PolarisHubSettings: defaults, environment, derived URLs, validation, secrets, TLS and timeouts."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import httpx
import pytest

from polaris.errors import InvalidSettingError
from polaris.hub.settings import PolarisHubSettings


def test_defaults_point_at_the_real_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    s = PolarisHubSettings()
    assert s.hub_url == "https://polarishub.io/"
    assert s.api_url == "https://polarishub.io/api"
    assert s.hub_token_url == "https://polarishub.io/api/auth/token"
    assert s.callback_url == "https://polarishub.io/oauth2/callback"
    assert s.authorize_url == "https://clerk.polarishub.io/oauth/authorize"
    assert s.token_fetch_url == "https://clerk.polarishub.io/oauth/token"
    assert s.user_info_url == "https://clerk.polarishub.io/oauth/userinfo"
    assert s.scopes == "profile email"
    assert s.client_id == "agQP2xVM6JqMHvGc"
    assert s.custom_metadata_prefix == "X-Amz-Meta-"
    assert s.default_timeout == (10, 200)
    assert s.ca_bundle is None
    assert s.username is None and s.password is None
    assert not s.uses_password_grant


def test_derived_urls_drop_the_path_of_hub_url() -> None:
    s = PolarisHubSettings(hub_url="https://example.org/some/path/")
    assert s.api_url == "https://example.org/api"
    assert s.hub_token_url == "https://example.org/api/auth/token"
    assert s.callback_url == "https://example.org/oauth2/callback"


def test_explicit_urls_win_over_derivation() -> None:
    s = PolarisHubSettings(
        hub_url="http://127.0.0.1:9000",
        api_url="http://127.0.0.1:9001/rest",
        allow_token_origins="http://127.0.0.1:9001",
    )
    assert s.api_url == "http://127.0.0.1:9001/rest"
    assert s.hub_token_url == "http://127.0.0.1:9000/api/auth/token"


def test_environment_prefix_and_json_tuple(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLARIS_HUB_URL", "http://127.0.0.1:8123")
    monkeypatch.setenv("polaris_scopes", "profile")  # case-insensitive
    monkeypatch.setenv("POLARIS_DEFAULT_TIMEOUT", "[3, 40]")
    monkeypatch.setenv("POLARIS_UNRELATED_THING", "ignored")
    s = PolarisHubSettings()
    assert s.api_url == "http://127.0.0.1:8123/api"
    assert s.scopes == "profile"
    assert s.default_timeout == (3, 40)
    timeout = s.httpx_timeout()
    assert (timeout.connect, timeout.read) == (3, 40)


def test_dotenv_in_working_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("POLARIS_HUB_URL=http://127.0.0.1:8555/\nPOLARIS_USERNAME=alice\n")
    monkeypatch.chdir(tmp_path)
    s = PolarisHubSettings()
    assert s.hub_url == "http://127.0.0.1:8555/"
    assert s.username == "alice"


def test_other_env_file(tmp_path: Path) -> None:
    env = tmp_path / "hub.env"
    env.write_text("POLARIS_HUB_URL=http://127.0.0.1:8556/\n")
    s = PolarisHubSettings(_env_file=str(env))
    assert s.hub_url == "http://127.0.0.1:8556/"


@pytest.mark.parametrize(
    "field, value",
    [
        ("hub_url", "polarishub.io"),
        ("hub_url", "ftp://polarishub.io/"),
        ("api_url", "/api"),
        ("authorize_url", "https://"),
        ("token_fetch_url", "https://user:pw@idp.example/token"),
    ],
)
def test_urls_are_validated(field: str, value: str) -> None:
    with pytest.raises(InvalidSettingError, match=field):
        PolarisHubSettings(**{field: value})


def test_timeout_values_are_validated() -> None:
    with pytest.raises(InvalidSettingError):
        PolarisHubSettings(default_timeout=(0, 10))
    with pytest.raises(InvalidSettingError):
        PolarisHubSettings(default_timeout="sometimes")  # type: ignore[arg-type]


def test_timeout_never_and_timeout() -> None:
    assert PolarisHubSettings(default_timeout="never").httpx_timeout() == httpx.Timeout(None)
    assert PolarisHubSettings(default_timeout="timeout").httpx_timeout() == httpx.Timeout(5.0)


def test_password_never_shown(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-Passw0rd"
    monkeypatch.setenv("POLARIS_PASSWORD", secret)
    s = PolarisHubSettings(username="bob")
    assert s.uses_password_grant
    assert s.password_value() == secret
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("settings: %s / %r", s, s)
    for text in (repr(s), str(s), s.model_dump_json(), str(s.model_dump()), caplog.text):
        assert secret not in text


def test_empty_password_is_not_password_mode() -> None:
    assert not PolarisHubSettings(username="bob", password="").uses_password_grant
    assert not PolarisHubSettings(password="x").uses_password_grant


def test_ca_bundle_controls_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert PolarisHubSettings().httpx_verify() is True
    assert PolarisHubSettings(ca_bundle=False).httpx_verify() is False
    monkeypatch.setenv("POLARIS_CA_BUNDLE", "false")
    assert PolarisHubSettings().httpx_verify() is False
    monkeypatch.delenv("POLARIS_CA_BUNDLE")
    import certifi

    ctx = PolarisHubSettings(ca_bundle=certifi.where()).httpx_verify()
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(FileNotFoundError):
        PolarisHubSettings(ca_bundle=str(tmp_path / "missing.pem")).httpx_verify()


def test_loopback_detection() -> None:
    assert PolarisHubSettings(callback_url="http://127.0.0.1:0/callback").callback_is_loopback
    assert PolarisHubSettings(callback_url="http://localhost:8000/cb").callback_is_loopback
    assert PolarisHubSettings(callback_url="http://[::1]:8000/cb").callback_is_loopback
    assert not PolarisHubSettings().callback_is_loopback


def test_web_url() -> None:
    s = PolarisHubSettings(hub_url="https://polarishub.io")
    assert s.web_url("datasets", "org-a", "my-data") == "https://polarishub.io/datasets/org-a/my-data"


def test_the_hubs_own_callback_page_is_not_caught_locally() -> None:
    local = PolarisHubSettings(hub_url="http://127.0.0.1:8765/")
    assert local.callback_is_loopback and not local.catches_callback_locally
    own = PolarisHubSettings(hub_url="http://127.0.0.1:8765/", callback_url="http://127.0.0.1:0/callback")
    assert own.catches_callback_locally
