"""Issue 22/20: settings, token destinations and argument types refused with a message a user can act on.

Every case asserts the words the user sees. No Hub is needed here; loopback servers record what reaches them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from polaris.errors import InvalidPredictionsError, InvalidSettingError, SettingsError
from polaris.hub._oauth_grants import exchange_for_storage_token
from polaris.hub.client import PolarisHubClient
from polaris.hub.settings import PolarisHubSettings

EVIL = "https://evil.example"


# ------------------------------------------------------------------------------------------- recording server
class _Recorder:
    """A loopback HTTP server that records every request it receives (method, path, headers, body)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = _record

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    server = _Recorder()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory (where settings look for ``.env``), with no POLARIS_* token settings set."""
    for var in ("POLARIS_HUB_TOKEN_URL", "POLARIS_REVOKE_URL", "POLARIS_ALLOW_TOKEN_ORIGINS", "POLARIS_API_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ------------------------------------------------------------------------------------------- token origin
@pytest.mark.parametrize("variable", ["POLARIS_API_URL", "POLARIS_HUB_TOKEN_URL", "POLARIS_REVOKE_URL"])
def test_a_planted_env_file_cannot_send_the_token_elsewhere(workdir: Path, variable: str) -> None:
    (workdir / ".env").write_text(f"{variable}={EVIL}/api/auth/token\n")
    with pytest.raises(InvalidSettingError) as err:
        PolarisHubSettings()
    text = str(err.value)
    assert variable in text and "evil.example" in text and "another origin than POLARIS_HUB_URL" in text
    assert "POLARIS_ALLOW_TOKEN_ORIGINS=https://evil.example" in text
    assert variable in err.value.variables
    with pytest.raises(InvalidSettingError):  # the client refuses the same way
        PolarisHubClient(cache_auth_token=False)


def test_the_env_file_read_is_always_logged(workdir: Path, caplog: pytest.LogCaptureFixture) -> None:
    (workdir / ".env").write_text("POLARIS_SCOPES=profile\n")
    with caplog.at_level(logging.INFO, logger="polaris.hub.settings"):
        settings = PolarisHubSettings()
    assert settings.scopes == "profile"
    assert f"Reading Polaris settings from {(workdir / '.env').resolve()}" in caplog.text
    assert settings.env_files_read == (str((workdir / ".env").resolve()),)
    (workdir / ".env").unlink()
    assert PolarisHubSettings().env_files_read == ()


def test_the_allow_setting_is_not_taken_from_a_env_file(workdir: Path, caplog: pytest.LogCaptureFixture) -> None:
    (workdir / ".env").write_text(f"POLARIS_API_URL={EVIL}/api\nPOLARIS_ALLOW_TOKEN_ORIGINS={EVIL}\n")
    with caplog.at_level(logging.WARNING, logger="polaris.hub.settings"), pytest.raises(InvalidSettingError):
        PolarisHubSettings()
    assert "Ignoring POLARIS_ALLOW_TOKEN_ORIGINS in a .env file" in caplog.text


def test_an_origin_allowed_in_the_environment_is_accepted(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / ".env").write_text(f"POLARIS_API_URL={EVIL}/api\n")
    monkeypatch.setenv("POLARIS_ALLOW_TOKEN_ORIGINS", f"{EVIL}, https://other.example:8443")
    settings = PolarisHubSettings()
    assert settings.api_url == f"{EVIL}/api"
    assert settings.may_receive_token(f"{EVIL}:443/x") and settings.may_receive_token("https://other.example:8443/")
    assert not settings.may_receive_token("https://other.example/")  # another port is another origin
    assert not settings.may_receive_token("http://evil.example/")  # another scheme too


def test_same_origin_urls_need_no_allowance(workdir: Path) -> None:
    settings = PolarisHubSettings(hub_url="http://127.0.0.1:9000/", api_url="http://127.0.0.1:9000/rest")
    assert settings.resolved_hub_token_url == "http://127.0.0.1:9000/api/auth/token"


def test_the_exchange_subject_token_never_leaves_the_hub_origin(workdir: Path, recorder: _Recorder) -> None:
    settings = PolarisHubSettings(hub_url="http://127.0.0.1:9/")
    settings.hub_token_url = recorder.url + "/api/auth/token"  # changed after validation: still refused when sending
    with httpx.Client(timeout=5) as http, pytest.raises(InvalidSettingError) as err:
        exchange_for_storage_token(http, settings, "the-hub-token", resource="urn:x", scope="read")
    assert "Refusing to send a token to" in str(err.value) and "POLARIS_HUB_TOKEN_URL" in str(err.value)
    assert recorder.requests == []


def test_the_bearer_is_not_attached_for_another_origin(workdir: Path, recorder: _Recorder) -> None:
    settings = PolarisHubSettings(hub_url="http://127.0.0.1:9/")
    with PolarisHubClient(settings, cache_auth_token=False) as client:
        client._authenticator.tokens.hub_token = {"access_token": "the-hub-token", "token_type": "Bearer"}
        with pytest.raises(InvalidSettingError) as err:
            client.get(recorder.url + "/api/v1/dataset")
        assert "Refusing to send the Hub token to" in str(err.value)
        assert recorder.requests == []
        client.request("GET", recorder.url + "/public", withhold_token=True)  # without the token: anywhere
    assert [r["path"] for r in recorder.requests] == ["/public"]
    assert "authorization" not in {k.lower() for k in recorder.requests[0]["headers"]}


# ------------------------------------------------------------------------------------------- settings errors
def test_a_bad_timeout_names_the_variable_and_its_forms(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLARIS_DEFAULT_TIMEOUT", "abc")
    with pytest.raises(InvalidSettingError) as err:
        PolarisHubSettings()
    text = str(err.value)
    assert "POLARIS_DEFAULT_TIMEOUT" in text and "'abc'" in text
    assert "connect,read" in text and "'timeout'" in text and "'never'" in text
    assert "validation error" not in text and "union" not in text  # no pydantic dump
    assert isinstance(err.value, SettingsError) and isinstance(err.value, ValueError)


@pytest.mark.parametrize("value, expected", [("10,200", (10.0, 200.0)), ("[3, 40]", (3.0, 40.0)), ("never", "never")])
def test_timeout_forms_from_the_environment(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: Any
) -> None:
    monkeypatch.setenv("POLARIS_DEFAULT_TIMEOUT", value)
    assert PolarisHubSettings().default_timeout == expected


def test_a_bad_progress_lists_every_accepted_kind(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLARIS_PROGRESS", "fancy")
    with pytest.raises(InvalidSettingError) as err:
        PolarisHubSettings()
    text = str(err.value)
    assert "POLARIS_PROGRESS" in text and "'fancy'" in text
    for kind in ("rich", "notebook", "log", "true", "false"):
        assert kind in text
    assert "valid boolean" not in text
    monkeypatch.setenv("POLARIS_PROGRESS", "log")
    assert PolarisHubSettings().progress is True
    monkeypatch.setenv("POLARIS_PROGRESS", "off")
    assert PolarisHubSettings().progress is False


def test_a_bad_url_names_the_variable_without_echoing_credentials(workdir: Path) -> None:
    with pytest.raises(InvalidSettingError) as err:
        PolarisHubSettings(hub_url="ftp://user:secret@polarishub.io/")
    assert "POLARIS_HUB_URL" in str(err.value) and "absolute http(s) URL" in str(err.value)
    assert "secret" not in str(err.value)


# ------------------------------------------------------------------------------------------- argument types
def test_settings_may_be_a_hub_url_string(workdir: Path) -> None:
    with PolarisHubClient(settings="http://127.0.0.1:9/", cache_auth_token=False) as client:
        assert client.settings.hub_url == "http://127.0.0.1:9/"
        assert str(client.base_url).startswith("http://127.0.0.1:9/api")
    with pytest.raises(TypeError, match=r"PolarisHubClient\(settings=\.\.\.\) takes a PolarisHubSettings, a Hub URL"):
        PolarisHubClient(settings=42)  # type: ignore[arg-type]


@pytest.fixture
def offline_client(workdir: Path) -> Iterator[PolarisHubClient]:
    with PolarisHubClient(PolarisHubSettings(hub_url="http://127.0.0.1:9/", offline=True), cache_auth_token=False) as c:
        yield c


def test_upload_dataset_of_a_file_name_says_what_to_pass(offline_client: PolarisHubClient) -> None:
    with pytest.raises(TypeError) as err:
        offline_client.upload_dataset("mols.csv")  # type: ignore[arg-type]
    text = str(err.value)
    assert "upload_dataset(dataset=...) takes a DatasetV1 or DatasetV2, not str 'mols.csv'" in text
    assert "polaris datasets upload mols.csv" in text and "pandas.read_csv" in text


def test_upload_results_of_a_string_says_what_to_pass(offline_client: PolarisHubClient) -> None:
    with pytest.raises(TypeError) as err:
        offline_client.upload_results("x")  # type: ignore[arg-type]
    assert "upload_results(results=...) takes the BenchmarkResults, not str 'x'" in str(err.value)
    assert "benchmark.evaluate(predictions)" in str(err.value)


def test_literal_arguments_list_what_they_accept(offline_client: PolarisHubClient) -> None:
    from test_artifact_models import make_dataset

    with pytest.raises(ValueError, match=r"access must be one of 'private', 'public'"):
        offline_client.upload_dataset(make_dataset(), access="everyone")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"if_exists must be one of 'replace', 'skip', 'raise'"):
        offline_client.upload_dataset(make_dataset(), if_exists="overwrite")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"get_dataset\(\) takes 'owner/name' or owner and name strings, not owner=int"):
        offline_client.get_dataset(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"verify_checksum must be one of 'verify', 'verify_unless_zarr', 'ignore'"):
        offline_client.get_benchmark("a/b", verify_checksum="yes")  # type: ignore[arg-type]


def test_evaluate_competition_of_another_type_says_what_to_pass(offline_client: PolarisHubClient) -> None:
    with pytest.raises(TypeError, match=r"evaluate_competition\(competition=\.\.\.\) takes a competition from"):
        offline_client.evaluate_competition(12, [1.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'owner/name'"):
        offline_client.evaluate_competition("just-a-name", [1.0])


def test_every_prediction_shape_problem_is_invalid_predictions() -> None:
    from test_artifact_models import make_benchmark

    benchmark = make_benchmark()  # one target, one test set of 4 rows
    cases: list[tuple[Any, str]] = [
        ([1.0] * 5, "have length 5, expected 4"),
        ({"nope": [1.0] * 4}, "expected one entry per"),
        ("1,2,3,4", "got a string"),
        (3.0, "got a scalar"),
        ({"test": {"z": [1.0] * 4}}, "have targets ['z'], expected ['y']"),
    ]
    for predictions, words in cases:
        with pytest.raises(InvalidPredictionsError) as err:
            benchmark.evaluate(predictions)
        assert words in str(err.value), str(err.value)
        assert "in test order" in str(err.value)  # the hint lists the accepted shapes


def test_logout_does_not_revoke_at_another_origin(
    workdir: Path, recorder: _Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    settings = PolarisHubSettings(hub_url="http://127.0.0.1:9/")
    settings.revoke_url = recorder.url + "/oauth/revoke"  # changed after validation
    with PolarisHubClient(settings, cache_auth_token=False) as client:
        client._authenticator.tokens.hub_token = {"access_token": "the-hub-token", "token_type": "Bearer"}
        with caplog.at_level(logging.WARNING, logger="polaris.hub.auth"):
            client.logout()
    assert recorder.requests == []
    assert "Not revoking at" in caplog.text and "POLARIS_REVOKE_URL" in caplog.text


def test_missing_predictions_for_a_metric_are_invalid_predictions() -> None:
    import numpy as np

    from polaris.evaluate import score

    y = {"test": {"y": np.array([0, 1])}}
    with pytest.raises(InvalidPredictionsError, match="needs y_prob") as err:
        score(["roc_auc"], y, y)
    assert err.value.metric == "roc_auc" and err.value.target == "y"
    with pytest.raises(InvalidPredictionsError, match="no y_pred for test set 'test', target 'y'"):
        score(["mean_absolute_error"], y, {"test": {}})
