"""No token, signature or URL credential in log records, exception text, reprs or ``--debug`` tracebacks."""

from __future__ import annotations

import json
import logging
import pprint
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from typer.testing import CliRunner

from polaris.artifacts import DatasetV2
from polaris.cli import app
from polaris.errors import HubConnectionError, InvalidSettingError, PolarisHubError
from polaris.hub.redact import RedactingFilter, install_log_redaction, mask_secret, redact_text
from polaris.hub.settings import PolarisHubSettings

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}")
AWS_SIGNATURE = re.compile(r"Signature=[0-9a-f]{16,}")
HTTP_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "httpx", "httpcore", "authlib", "polaris")


def _all_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(record.exc_text or "")
    return "\n".join(parts)


# ------------------------------------------------------------------ a real transfer with every logger at DEBUG
def test_debug_logs_of_a_real_storage_transfer_hold_no_secret(
    hub_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    issued: list[dict[str, Any]] = []
    auth = hub_client._authenticator
    original = auth.storage_token

    def recording(*, resource: str, scope: str) -> dict[str, Any]:
        token = original(resource=resource, scope=scope)
        issued.append(token)
        return token

    auth.storage_token = recording
    hub_client.show_progress = False
    root = tmp_path / "secret.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("x", shape=(12,), chunks=(4,), dtype="int64")[:] = np.arange(12)
    zarr.consolidate_metadata(str(root), zarr_format=2)
    name = f"logs-{uuid.uuid4().hex[:8]}"
    dataset = DatasetV2(name=name, owner="demo-user", zarr_root_path=str(root), license="CC0-1.0")

    with caplog.at_level(logging.DEBUG):
        for logger_name in HTTP_LOGGERS:  # some tests set levels of their own on these
            caplog.set_level(logging.DEBUG, logger=logger_name)
        hub_client.upload_dataset(dataset)
        back = hub_client.get_dataset("demo-user", name)
    assert back.get_data(5, "x") == 5

    text = _all_text(caplog)
    names = {r.name.split(".")[0] for r in caplog.records}
    # The stacks really logged at DEBUG: httpx (the Hub) and urllib3, under the client's own SigV4 signer for every
    # storage request (botocore is left only for multipart uploads, which this small archive does not need).
    assert {"urllib3", "httpx"} <= names, names
    assert re.search(r'"PUT /polaris-hub/dataset/demo-user/', text) and re.search(r'"GET /polaris-hub/', text)
    assert issued and all(t.get("scope") != "x" for t in issued)
    secrets = [str(hub_client.token["access_token"])]
    for token in issued:
        secrets.append(str(token["access_token"]))
        secrets.append(str(token["extra_data"]["secret"]))
    for secret in secrets:
        assert secret not in text
        assert secret.split(".")[-1] not in text  # not even a JWT's signature part
    assert not JWT.search(text), JWT.search(text)
    assert not AWS_SIGNATURE.search(text), AWS_SIGNATURE.search(text)
    assert not re.search(r"(?i)authorization['\"]?\s*[:,]\s*b?['\"]?(Bearer|AWS4)", text)


def test_a_worker_that_never_imports_the_client_logs_no_storage_secret(hub_client: Any) -> None:
    """A Dask worker reads chunks through ``HubZarrStore`` with a storage token only, in a process that never imports
    ``polaris.hub.client`` (which installs the log filter): its DEBUG logs must hold no secret either."""
    from polaris.hub.storage.lazy import token_to_dict
    from polaris.hub.storage.tokens import StorageToken

    answer = hub_client._authenticator.storage_token(resource="urn:polaris:dataset:polaris-demo:freesolv", scope="read")
    token = StorageToken.from_response(answer)
    code = (
        "import json, logging, sys\n"
        "records = []\n"
        "class Keep(logging.Handler):\n"
        "    def emit(self, record): records.append(self.format(record))\n"
        "logging.getLogger().addHandler(Keep()); logging.getLogger().setLevel(logging.DEBUG)\n"
        "from polaris.hub.storage.lazy import HubZarrStore, token_from_dict\n"
        "data = json.loads(sys.stdin.read())\n"
        "token = token_from_dict(data['token'])\n"
        "store = HubZarrStore(lambda: token, data['url'], manifest=None)\n"
        "body = store.fetch('table.parquet')\n"
        "store.close()\n"
        "assert 'polaris.hub.client' not in sys.modules\n"
        "print(json.dumps({'size': len(body), 'log': records}))\n"
    )
    bucket, _, prefix = str(token.paths["root"]).split("://", 1)[1].rpartition("/")[0].partition("/")
    payload = json.dumps({"token": token_to_dict(token), "url": f"polarisfs://{bucket}/{prefix}"})
    out = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    text = "\n".join(result["log"])
    assert result["size"] > 0
    assert '"GET /polaris-hub/dataset/polaris-demo/freesolv/table.parquet' in text  # urllib3 logged the request...
    for secret in (token.secret, token.session_token or "", str(answer["access_token"])):
        assert secret and secret not in text  # ...without the secrets
    assert not AWS_SIGNATURE.search(text), AWS_SIGNATURE.search(text)


def test_filter_covers_loggers_created_after_install_without_importing_botocore() -> None:
    code = (
        "import logging, sys\n"
        "import polaris.hub.client\n"
        "assert 'botocore' not in sys.modules and 'urllib3' not in sys.modules\n"
        "from polaris.hub.redact import RedactingFilter\n"
        "assert any(isinstance(f, RedactingFilter) for f in logging.getLogger('botocore').filters)\n"
        "records = []\n"
        "class Keep(logging.Handler):\n"
        "    def emit(self, record): records.append(self.format(record))\n"
        "logging.getLogger().addHandler(Keep()); logging.getLogger().setLevel(logging.DEBUG)\n"
        "logging.getLogger('botocore.brand_new').debug('headers=%s', {'Authorization': 'Bearer abcdefghijklmnop'})\n"
        "logging.getLogger('unrelated').debug('Authorization: kept as is 1234567890')\n"
        "print(records)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "abcdefghijklmnop" not in out.stdout and "***mnop" in out.stdout
    assert "kept as is 1234567890" in out.stdout  # other libraries' records are not touched


@pytest.mark.parametrize(
    "line, secret",
    [
        ("headers={'x-amz-security-token': b'jwt/eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl'}", "c2lnbmF0dXJl"),
        ("x-amz-security-token:jwt/eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl", "c2lnbmF0dXJl"),
        (
            "'Authorization': b'AWS4-HMAC-SHA256 Credential=k/d, SignedHeaders=host, Signature=0123abcd4567ef'",
            "0123abcd",
        ),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz", "abcdefghijkl"),
        ("GET /o?X-Amz-Credential=AKIAEXAMPLE%2F20261201&X-Amz-Signature=feedfacecafe1234", "feedfacecafe"),
        ("GET /o?X-Amz-Credential=AKIAEXAMPLE%2F20261201&X-Amz-Signature=feedfacecafe1234", "AKIAEXAMPLE"),
        ("callback /cb?code=verysecretcode123&state=ok", "verysecretcode"),
        ("redirect #access_token=tok_abcdefghijkl&token_type=bearer", "tok_abcdefgh"),
        ("POST /revoke token=refresh-abcdefghijkl&token_type_hint=refresh_token", "refresh-abcdefgh"),
        ("{'access_token': 'abcdefghijklmnop', 'expires_in': 5}", "abcdefghijkl"),
        ('{"refresh_token": "abcdefghijklmnop"}', "abcdefghijkl"),
        ("grant_type=password&username=bob&password=hunter2hunter2", "hunter2"),
        ("connecting to https://alice:s3cretpass@hub.example/api", "s3cretpass"),
        ("a JWT eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig_sig_sig_sig in text", "eyJzdWIiOiJ4In0"),
    ],
)
def test_redact_text_masks_every_kind_of_secret(line: str, secret: str) -> None:
    cleaned = redact_text(line)
    assert secret not in cleaned
    assert "***" in cleaned
    record = logging.LogRecord("botocore.endpoint", logging.DEBUG, __file__, 1, "%s", (line,), None)
    assert RedactingFilter().filter(record) and secret not in record.getMessage()


def test_redaction_keeps_harmless_text() -> None:
    text = "GET https://hub.example/api/v1/dataset?limit=5&offset=0 token_type=Bearer status 200"
    assert redact_text(text) == text
    assert mask_secret("abcdefghijklmnop") == "***mnop" and mask_secret("short") == "***" and mask_secret("") == "***"


def test_exception_traceback_in_a_log_record_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    try:
        raise RuntimeError("failed for https://bob:pw-abcdefgh@hub.example/ with Bearer-less token=abcdefghijkl")
    except RuntimeError:
        with caplog.at_level(logging.DEBUG, logger="polaris"):
            logging.getLogger("polaris.hub.test").debug("transfer failed", exc_info=True)
    assert "pw-abcdefgh" not in caplog.text and "abcdefghijkl" not in caplog.text
    assert "RuntimeError" in caplog.text


# ------------------------------------------------------------------ errors and reprs
CREDENTIAL_URL = "https://alice:s3cret-pass@hub.example/"


@pytest.mark.parametrize("field", ["hub_url", "api_url", "token_fetch_url"])
def test_settings_validation_error_never_echoes_url_credentials(field: str) -> None:
    with pytest.raises(InvalidSettingError) as info:
        PolarisHubSettings(**{field: CREDENTIAL_URL})
    for text in (str(info.value), repr(info.value)):
        assert "s3cret-pass" not in text and "alice" not in text
        assert field in text and "credentials" in text
    with pytest.raises(InvalidSettingError) as bad_scheme:
        PolarisHubSettings(hub_url="ftp://alice:s3cret-pass@hub.example/")
    assert "s3cret-pass" not in str(bad_scheme.value) and "ftp://***@hub.example/" in str(bad_scheme.value)


def test_polaris_errors_redact_urls_and_tokens() -> None:
    error = HubConnectionError(
        "Could not connect for GET https://alice:s3cret-pass@hub.example/api",
        hub_message="refused ?access_token=abcdefghijklmnop",
        url="https://alice:s3cret-pass@hub.example/api",
    )
    for text in (str(error), repr(error), error.message, str(error.url)):
        assert "s3cret-pass" not in text and "abcdefghijklmnop" not in text
    assert isinstance(error, PolarisHubError)


def test_repr_of_client_token_shows_only_the_last_4(hub_client: Any) -> None:
    token = hub_client.token
    access = token["access_token"]
    assert JWT.fullmatch(access)  # the dict still holds the real token: authlib signs requests with it
    for shown in (repr(token), str(token), f"{token}", pprint.pformat(token), repr(hub_client), repr([token])):
        assert access not in shown and not JWT.search(shown)
        assert access.split(".")[-1] not in shown
    assert f"***{access[-4:]}" in repr(token)
    assert json.loads(json.dumps(token))["access_token"] == access  # still a plain dict for serialisation
    assert isinstance(hub_client.list_datasets(), list)  # and still works for requests
    hub_client.token = dict(token)  # a plain dict set by a user is masked too
    assert access not in repr(hub_client.token)


def test_cli_debug_traceback_redacts_a_hub_url_with_credentials() -> None:
    result = CliRunner().invoke(app, ["--debug", "--hub-url", CREDENTIAL_URL, "whoami"])
    assert result.exit_code == 1
    assert "Traceback" in result.output and "InvalidSettingError" in result.output  # the traceback is there...
    assert "s3cret-pass" not in result.output and "alice" not in result.output  # ...without the credentials
    assert "must not carry credentials" in " ".join(result.output.split())
