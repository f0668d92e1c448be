"""``polaris datasets get`` / ``polaris benchmarks get`` against the local Hub."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from polaris.cli import app

runner = CliRunner()


def _env(local_hub: Any) -> dict[str, str]:
    return {**local_hub.env(), "POLARIS_USERNAME": "demo-user", "POLARIS_PASSWORD": local_hub.users["demo-user"]}


def test_datasets_get_summarises_a_verified_download(local_hub: Any) -> None:
    env = _env(local_hub)
    assert runner.invoke(app, ["login"], env=env).exit_code == 0
    result = runner.invoke(
        app, ["datasets", "get", "polaris-demo/freesolv", "--verify-checksum", "verify", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["artifact"] == "polaris-demo/freesolv" and summary["format"] == "V1" and summary["rows"] == 642
    assert len(summary["md5sum"]) == 32

    v2 = runner.invoke(app, ["datasets", "get", "polaris-demo/freesolv-zarr", "--json"], env=env)
    assert v2.exit_code == 0, v2.output
    assert json.loads(v2.stdout)["format"] == "V2"


def test_benchmarks_get_and_a_missing_one(local_hub: Any) -> None:
    env = _env(local_hub)
    assert runner.invoke(app, ["login"], env=env).exit_code == 0
    result = runner.invoke(app, ["benchmarks", "get", "polaris-demo/freesolv-hydration-free-energy", "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["dataset"] == "polaris-demo/freesolv" and summary["main_metric"] in summary["metrics"]
    table = runner.invoke(app, ["benchmarks", "get", "polaris-demo/freesolv-hydration-free-energy"], env=env)
    assert table.exit_code == 0 and "main_metric" in table.stdout

    missing = runner.invoke(app, ["benchmarks", "get", "polaris-demo/nope-nope"], env=env)
    assert missing.exit_code == 1
    assert "not found" in missing.output.lower()
