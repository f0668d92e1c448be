"""Every error path of the CLI: usage errors exit 2 with the accepted forms; reported errors exit 1 with a hint
that fits the command; Ctrl-C exits 130 saying what was kept; no ``Unexpected error`` and no ``__del__`` noise."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from polaris.cli import app

runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


def _password_env(local_hub: Any) -> dict[str, str]:
    return {**local_hub.env(), "POLARIS_USERNAME": "demo-user", "POLARIS_PASSWORD": local_hub.users["demo-user"]}


def _subprocess_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLARIS_") or k == "POLARIS_CACHE_DIR"}
    env.update(extra)
    env["COLUMNS"] = "200"
    return env


@pytest.mark.parametrize(
    "args",
    [
        ["datasets", "get", "freesolv"],
        ["datasets", "get", "a/b/c"],
        ["benchmarks", "get", "/name"],
        ["competitions", "get", "owner/"],
        ["competitions", "evaluate", "nope", "preds.csv"],
        ["cache", "rm", "just-a-name"],
    ],
)
def test_malformed_artifact_names_are_usage_errors(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    text = _flat(result.output)
    assert "expected OWNER/NAME" in text and "polaris-demo/freesolv" in text
    assert "Unexpected error" not in text and "ValueError" not in text


def test_unknown_verify_checksum_is_a_usage_error_listing_the_choices() -> None:
    result = runner.invoke(app, ["datasets", "get", "polaris-demo/freesolv", "--verify-checksum", "bogus"])
    assert result.exit_code == 2
    text = _flat(result.output)
    for choice in ("'verify'", "'verify_unless_zarr'", "'ignore'"):
        assert choice in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cache", "prune", "--older-than", "soon"], "duration like"),
        (["cache", "prune", "--max-size", "lots"], "size like"),
        (["cache", "prune"], "--older-than"),
        (["datasets", "upload", "missing.csv", "--owner", "x"], "does not exist"),
        (["no-such-command"], "No such command"),
    ],
)
def test_other_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in _flat(result.output)


def test_upload_without_owner_and_without_login_says_how_to_name_one(tmp_path: Path) -> None:
    # --owner defaults to the logged-in user (issue 22); logged out, the error names the option to give instead
    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["datasets", "upload", str(table), "--license", "MIT"])
    text = _flat(result.output)
    assert result.exit_code == 1 and "--owner defaults to the logged-in user" in text and "--owner OWNER" in text


@pytest.mark.parametrize(
    ("args", "listing"),
    [
        (["benchmarks", "get", "polaris-demo/no-such-benchmark"], "polaris benchmarks list"),
        (["datasets", "get", "polaris-demo/no-such-dataset"], "polaris datasets list"),
        (["competitions", "get", "polaris-demo/no-such-competition"], "polaris competitions list"),
    ],
)
def test_not_found_hint_names_the_listing_of_its_own_kind(local_hub: Any, args: list[str], listing: str) -> None:
    result = runner.invoke(app, args, env=_password_env(local_hub))
    assert result.exit_code == 1
    text = _flat(result.output)
    assert "not found" in text.lower() and f"`{listing}`" in text
    others = {"polaris benchmarks list", "polaris datasets list", "polaris competitions list"} - {listing}
    assert not any(other in text for other in others)


def test_eof_at_the_code_prompt_is_a_login_error(local_hub: Any) -> None:
    result = runner.invoke(app, ["login", "--no-browser"], env=local_hub.env(), input="")
    assert result.exit_code == 1
    text = _flat(result.output)
    assert "Login aborted: the input closed" in text and "POLARIS_PASSWORD" in text
    assert "EOFError" not in text and "Unexpected error" not in text


def test_username_without_password_does_not_fall_back_to_the_browser(local_hub: Any) -> None:
    result = runner.invoke(app, ["login"], env={**local_hub.env(), "POLARIS_USERNAME": "demo-user"})
    assert result.exit_code == 1
    text = _flat(result.output)
    assert "POLARIS_USERNAME is set but POLARIS_PASSWORD is not" in text
    assert "unset POLARIS_USERNAME" in text and "Open this link" not in text


def test_missing_ca_bundle_is_typed_and_leaves_no_del_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    result = subprocess.run(
        [sys.executable, "-m", "polaris.cli", "datasets", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_subprocess_env({"POLARIS_CA_BUNDLE": str(missing)}),
    )
    assert result.returncode == 1
    text = _flat(result.stderr)
    assert f"POLARIS_CA_BUNDLE (ca_bundle) names a missing file or folder: {missing}" in text
    assert "unset it to use the system trust store" in text
    assert "Exception ignored" not in result.stderr and "Traceback" not in result.stderr


def test_missing_ca_bundle_in_the_library(tmp_path: Path) -> None:
    from polaris.errors import CABundleNotFoundError, SettingsError
    from polaris.hub.client import PolarisHubClient
    from polaris.hub.settings import PolarisHubSettings

    unraisable: list[Any] = []
    previous = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        with pytest.raises(CABundleNotFoundError) as caught:
            PolarisHubClient(PolarisHubSettings(ca_bundle=str(tmp_path / "none.pem")))
        assert isinstance(caught.value, FileNotFoundError) and isinstance(caught.value, SettingsError)
        del caught
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert unraisable == []


def test_ctrl_c_during_a_download_keeps_nothing_incomplete(
    local_hub: Any, monkeypatch: pytest.MonkeyPatch, _isolated_caches: Path
) -> None:
    from polaris.progress import Progress

    def interrupted(self: Progress, n: int) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:  # only this patch is undone below (the cache folder stays isolated)
        patch.setattr(Progress, "advance", interrupted)
        result = runner.invoke(app, ["datasets", "get", "polaris-demo/freesolv"], env=_password_env(local_hub))
    assert result.exit_code == 130
    text = _flat(result.output)
    assert "Interrupted." in text and "Nothing unverified entered the cache" in text
    listed = runner.invoke(app, ["cache", "ls", "--json"])
    assert listed.exit_code == 0 and listed.stdout.strip() == "[]"  # no entry: nothing unverified is served
    again = runner.invoke(app, ["datasets", "get", "polaris-demo/freesolv"], env=_password_env(local_hub))
    assert again.exit_code == 0, again.output  # the next get continues what was kept and verifies the whole
    assert not list(_isolated_caches.rglob("*.incomplete"))
    entries = json.loads(runner.invoke(app, ["cache", "ls", "--json"]).stdout)
    assert len(entries) == 1 and entries[0]["verified"] is True


def test_ctrl_c_in_a_real_process_exits_130(local_hub: Any, tmp_path: Path) -> None:
    # A shell's background jobs ignore SIGINT: give the child the default disposition back.
    proc = subprocess.Popen(
        [sys.executable, "-m", "polaris.cli", "login", "--no-browser"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_subprocess_env({**local_hub.env(), "POLARIS_CACHE_DIR": str(tmp_path / "cache")}),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stderr is not None
        seen = ""
        deadline = time.monotonic() + 60
        while "oauth/authorize" not in seen and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        assert "oauth/authorize" in seen, seen
        time.sleep(0.5)  # let it reach the code prompt
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, seen + rest
    text = _flat(rest)
    assert "Interrupted." in text and "your cached login, if any, is unchanged" in text
    assert "Traceback" not in rest
    assert not (tmp_path / "cache" / "tokens").exists() or not list((tmp_path / "cache" / "tokens").iterdir())


_SLOW_DOWNLOAD = """
import sys, time
from polaris.progress import Progress
original = Progress.advance
def slow(self, n):
    original(self, n)
    sys.stderr.write("BYTES-FLOWING\\n"); sys.stderr.flush()
    time.sleep(3)  # a slow link (a worker thread): the user presses Ctrl-C now
Progress.advance = slow
from polaris.cli import main
main(["datasets", "get", "polaris-demo/freesolv"])
"""


def test_ctrl_c_in_a_real_process_mid_download(local_hub: Any, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_DOWNLOAD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_subprocess_env({**_password_env(local_hub), "POLARIS_CACHE_DIR": str(cache)}),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stderr is not None
        seen = ""
        deadline = time.monotonic() + 90
        while "BYTES-FLOWING" not in seen and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        assert "BYTES-FLOWING" in seen, seen
        assert list(cache.rglob("*.incomplete")), "the download should be under way"
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, seen + rest
    text = _flat(rest)
    assert "Interrupted." in text and "Nothing unverified entered the cache" in text and "Traceback" not in rest
    # What arrived is kept aside for a resumed download, never as a cache entry.
    entries = [p for p in cache.rglob("table.parquet") if not any(part.endswith(".incomplete") for part in p.parts)]
    assert not entries, "a partial table reached the cache"
