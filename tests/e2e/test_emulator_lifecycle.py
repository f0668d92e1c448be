"""Starting and stopping the local Hub as a process: ready banner, clean stop on SIGTERM/SIGINT, persistence with
--data-dir (SQLite rows and S3 objects survive a restart), temp dir removed without it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from polaris.testing import LocalHub

HTTP_TIMEOUT = 30.0
STOP_BUDGET_SECONDS = 5.0
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TT_JWT = "urn:ietf:params:oauth:token-type:jwt"


def _token(http: httpx.Client, user: str, password: str) -> str:
    r = http.post("api/auth/token", data={"grant_type": "password", "username": user, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _s3(http: httpx.Client, token: str, resource: str, scope: str) -> tuple[Any, dict[str, str]]:
    r = http.post(
        "api/auth/token",
        data={
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": token,
            "subject_token_type": TT_JWT,
            "resource": resource,
            "scope": scope,
            "client_id": "None",
        },
    )
    assert r.status_code == 200, r.text
    tok = r.json()
    extra = tok["extra_data"]
    client = boto3.client(
        "s3",
        endpoint_url=extra["endpoint"],
        aws_access_key_id=extra["key"],
        aws_secret_access_key=extra["secret"],
        aws_session_token="jwt/" + tok["access_token"],
        region_name="us-east-1",
    )
    return client, extra["paths"]


def _key(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("polarisfs://").partition("/")
    return bucket, key


def test_banner_lists_settings_and_credentials(local_hub: LocalHub) -> None:
    env = local_hub.env()
    assert env["POLARIS_HUB_URL"] == local_hub.url and local_hub.url.endswith("/")
    assert env["POLARIS_AUTHORIZE_URL"] == local_hub.url + "oauth/authorize"
    assert env["POLARIS_TOKEN_FETCH_URL"] == local_hub.url + "oauth/token"
    assert env["POLARIS_USER_INFO_URL"] == local_hub.url + "oauth/userinfo"
    assert env["POLARIS_CLIENT_ID"] == "agQP2xVM6JqMHvGc"
    assert local_hub.users == {"demo-user": "demo-password", "other-user": "other-password"}
    assert local_hub.output[0] == f"Polaris Hub emulator ready at {local_hub.url}"


def test_restart_with_data_dir_keeps_metadata_and_objects(local_hub_factory: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "hub-data"
    options = {"users": {"carol-user": "carol-password"}, "orgs": {"carol-lab": ["carol-user"]}, "data_dir": data_dir}
    hub = local_hub_factory(**options)
    body = {
        "tableContent": {"size": 5, "fileType": "parquet", "md5Sum": "5d41402abc4b2a76b9719d911017c592"},
        "zarrContent": [], "access": "private", "name": "kept_data", "owner": "carol-lab", "license": "MIT",
        "md5Sum": "b" * 32, "annotations": {}, "polarisVersion": "0.10.0",
    }  # fmt: skip
    with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
        token = _token(http, "carol-user", "carol-password")
        r = http.put("api/v1/dataset/carol-lab/kept-data", json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        s3, paths = _s3(http, token, "urn:polaris:dataset:carol-lab:kept-data", "write")
        bucket, key = _key(paths["root"])
        s3.put_object(Bucket=bucket, Key=key, Body=b"hello")
    hub.stop()
    assert (data_dir / "hub.sqlite3").exists() and len(list((data_dir / "store" / "objects").glob("*.obj"))) == 1

    again = local_hub_factory(**options)
    with httpx.Client(base_url=again.url, timeout=HTTP_TIMEOUT) as http:
        token = _token(http, "carol-user", "carol-password")
        got = http.get("api/v1/dataset/carol-lab/kept_data", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 200 and got.json()["md5Sum"] == "b" * 32
        assert http.get("api/v1/dataset/carol-lab/kept_data").status_code == 404  # still private
        s3, paths = _s3(http, token, "urn:polaris:dataset:carol-lab:kept-data", "read")
        bucket, key = _key(paths["root"])
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"hello"


def test_seed_is_deterministic_across_restarts(local_hub_factory: Any, tmp_path: Path) -> None:
    first = local_hub_factory(seed="demo", data_dir=tmp_path / "d")
    with httpx.Client(base_url=first.url, timeout=HTTP_TIMEOUT) as http:
        before = http.get("api/v1/benchmark/polaris-demo/freesolv-hydration-free-energy").json()
        ds_before = http.get("api/v1/dataset/polaris-demo/freesolv").json()
    first.stop()
    second = local_hub_factory(seed="demo", data_dir=tmp_path / "d")
    with httpx.Client(base_url=second.url, timeout=HTTP_TIMEOUT) as http:
        after = http.get("api/v1/benchmark/polaris-demo/freesolv-hydration-free-energy").json()
        ds_after = http.get("api/v1/dataset/polaris-demo/freesolv").json()
        total = http.get("api/v1/dataset").json()["metadata"]["total"]
    assert before["split"] == after["split"] and before["md5Sum"] == after["md5Sum"]
    assert ds_before["tableContent"] == ds_after["tableContent"] and ds_before["md5Sum"] == ds_after["md5Sum"]
    assert total == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_within_budget_and_removes_temp_dir(sig: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "polaris.emulator", "start", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if not line or line.startswith("Press Ctrl+C"):
                break
        data_line = next(x for x in lines if x.startswith("data dir "))
        data_dir = Path(data_line.split()[2])
        assert data_dir.exists()
        url = lines[0].split(" at ")[1].strip()
        assert httpx.get(url + "__emulator__/health", timeout=HTTP_TIMEOUT).status_code == 200
        started = time.monotonic()
        process.send_signal(sig)
        process.wait(timeout=STOP_BUDGET_SECONDS + 5)
        assert time.monotonic() - started < STOP_BUDGET_SECONDS
        assert process.returncode == 0
        assert not data_dir.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_unknown_org_member_fails_to_start(local_hub_factory: Any) -> None:
    from polaris.testing import LocalHubError

    with pytest.raises(LocalHubError, match="unknown members"):
        local_hub_factory(orgs={"lonely-org": ["ghost-user"]})
