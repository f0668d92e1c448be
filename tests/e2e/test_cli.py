"""The ``polaris`` CLI against the local Hub: typer's runner in-process, and real subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from polaris.cli import app

runner = CliRunner()
POLARIS_SCRIPT = Path(sys.executable).parent / "polaris"


def _env(local_hub: Any, *, password: bool = True) -> dict[str, str]:
    env = dict(local_hub.env())
    if password:
        env["POLARIS_USERNAME"] = "demo-user"
        env["POLARIS_PASSWORD"] = local_hub.users["demo-user"]
    return env


def _artifacts(stdout: str) -> list[str]:
    return [row["artifact"] for row in json.loads(stdout)]


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_login_whoami_list_logout(local_hub: Any) -> None:
    env = _env(local_hub)
    result = runner.invoke(app, ["login"], env=env)
    assert result.exit_code == 0, result.output
    assert "Logged in" in result.output and "demo-user" in result.output
    again = runner.invoke(app, ["login"], env=env)
    assert again.exit_code == 0 and "Already logged in" in _flat(again.output)

    # Without the password in the environment the cached login is used.
    bare = _env(local_hub, password=False)
    who = runner.invoke(app, ["whoami"], env=bare)
    assert who.exit_code == 0, who.output
    assert "demo-user" in who.stdout

    listed = runner.invoke(app, ["datasets", "list", "--json"], env=bare)
    assert listed.exit_code == 0, listed.output
    assert "polaris-demo/freesolv" in _artifacts(listed.stdout)

    table = runner.invoke(app, ["benchmarks", "list"], env=bare)
    assert table.exit_code == 0, table.output
    assert "polaris-demo" in table.stdout and "freesolv-hydration-free-energy" in _flat(table.stdout).replace(" ", "")

    comps = runner.invoke(app, ["competitions", "list", "--all", "--limit", "1", "--json"], env=bare)
    assert comps.exit_code == 0, comps.output
    assert "polaris-demo/freesolv-challenge" in _artifacts(comps.stdout)

    out = runner.invoke(app, ["logout"], env=bare)
    assert out.exit_code == 0 and "Logged out" in out.output
    after = runner.invoke(app, ["whoami"], env=bare)
    assert after.exit_code == 1
    assert "Error:" in after.output and "Hint:" in after.output and "polaris login" in after.output
    assert "Traceback" not in after.output


def test_limit_offset_options(local_hub: Any) -> None:
    env = _env(local_hub)
    full = json.loads(runner.invoke(app, ["datasets", "list", "--json"], env=env).stdout)
    page = runner.invoke(app, ["datasets", "list", "--json", "--limit", "1", "--offset", "1"], env=env)
    assert page.exit_code == 0, page.output
    assert json.loads(page.stdout) == full[1:2]
    bad = runner.invoke(app, ["datasets", "list", "--limit", "0"], env=env)
    assert bad.exit_code == 2  # usage error from the option bounds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_errors_are_one_line_with_hint_and_debug_shows_traceback() -> None:
    url = f"http://127.0.0.1:{_free_port()}/"
    env = {"POLARIS_USERNAME": "demo-user", "POLARIS_PASSWORD": "x"}
    plain = runner.invoke(app, ["--hub-url", url, "datasets", "list"], env=env)
    assert plain.exit_code == 1
    assert "Error:" in plain.output and "Could not connect" in _flat(plain.output)
    assert "POLARIS_CA_BUNDLE" in _flat(plain.output)
    assert "Traceback" not in plain.output and "x" not in plain.output.split("Error:")[0]
    debug = runner.invoke(app, ["--debug", "--hub-url", url, "datasets", "list"], env=env)
    assert debug.exit_code == 1
    assert "Traceback" in debug.output and "Error:" in debug.output


def test_invalid_settings_are_reported() -> None:
    result = runner.invoke(app, ["--hub-url", "not a url", "whoami"])
    assert result.exit_code == 1
    assert "Invalid settings" in _flat(result.output) and "hub_url" in result.output


def test_password_never_printed(local_hub: Any) -> None:
    env = _env(local_hub)
    result = runner.invoke(app, ["--debug", "login", "--overwrite"], env=env)
    assert result.exit_code == 0, result.output
    assert local_hub.users["demo-user"] not in result.output
    assert "eyJ" not in result.output


# ------------------------------------------------------------------ subprocesses (the installed console script)
def _run(args: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("POLARIS_") or k == "POLARIS_CACHE_DIR"}
    full_env.update(env or {})
    full_env["COLUMNS"] = "200"
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=full_env, **kwargs)


def test_console_script_help() -> None:
    assert POLARIS_SCRIPT.exists(), "run `pip install -e .` to install the console script"
    result = _run([str(POLARIS_SCRIPT), "--help"])
    assert result.returncode == 0, result.stderr
    for command in ("login", "logout", "whoami", "datasets", "benchmarks", "competitions", "emulator"):
        assert command in result.stdout


def test_subprocess_login_and_list(local_hub: Any, tmp_path: Path) -> None:
    env = _env(local_hub)
    env["POLARIS_CACHE_DIR"] = str(tmp_path / "cache")
    login = _run([sys.executable, "-m", "polaris.cli", "login"], env, cwd=tmp_path)
    assert login.returncode == 0, login.stderr
    listed = _run([str(POLARIS_SCRIPT), "datasets", "list", "--json"], env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "polaris-demo/freesolv" in _artifacts(listed.stdout)
    token_files = list((tmp_path / "cache" / "tokens").iterdir())
    assert len(token_files) == 1 and local_hub.users["demo-user"] not in token_files[0].read_text()


def test_emulator_subcommand_is_mounted() -> None:
    result = _run([str(POLARIS_SCRIPT), "emulator", "--help"])
    assert result.returncode == 0, result.stderr
    assert "polaris emulator" in result.stdout


def test_emulator_missing_extra_is_explained() -> None:
    code = (
        "import sys; sys.modules['polaris.emulator.cli'] = None\n"
        "from polaris.cli import main\n"
        "main(['emulator', 'start'])\n"
    )
    result = _run([sys.executable, "-c", code])
    assert result.returncode == 1
    text = _flat(result.stderr)
    assert "emulator extra" in text and "pip install" in text
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["datasets", "--help"], ["login", "--help"]])
def test_help_texts(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "Usage" in result.output
