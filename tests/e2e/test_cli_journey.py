"""The CLI journey of issue 22 against a local Hub: ``get --to DIR`` writes the training table, the test inputs in
test order and the predictions templates; a simple model fills a template; ``competitions evaluate`` /
``results upload`` take it as it is and the Hub shows the scores. Plus ``info`` without downloads, ``--owner me``,
``-q``, progress on stderr under ``--json`` and the version ``models upload --parent`` created.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cli_schemas import parse  # tests/ is on sys.path (conftest)
from typer.testing import CliRunner

from polaris.cli import app

runner = CliRunner()

ZARR_COMPETITION = "polaris-demo/freesolv-zarr-challenge"
COMPETITION = "polaris-demo/freesolv-challenge"
BENCHMARK = "polaris-demo/freesolv-hydration-free-energy"
BENCHMARK_V2 = "polaris-demo/freesolv-zarr-expt"


@pytest.fixture
def env(local_hub: Any) -> dict[str, str]:
    values = {**local_hub.env(), "POLARIS_USERNAME": "demo-user", "POLARIS_PASSWORD": local_hub.users["demo-user"]}
    result = runner.invoke(app, ["login"], env=values)
    assert result.exit_code == 0, result.output
    return values


def _ok(args: list[str], env: dict[str, str]) -> Any:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("POLARIS_") or k == "POLARIS_CACHE_DIR"}
    full.update(env)
    full["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "polaris.cli", *args], capture_output=True, text=True, timeout=180, env=full
    )


def _linear_fill(folder: Path, source: str, target: str) -> np.ndarray:
    """A one-feature linear model fit on train.csv, written into predictions.csv (and .json) in test order."""
    train = pd.read_csv(folder / "train.csv")
    test = pd.read_csv(folder / "test.csv")
    slope, intercept = np.polyfit(train[source].to_numpy(float), train[target].to_numpy(float), 1)
    predicted = slope * test[source].to_numpy(float) + intercept
    template = pd.read_csv(folder / "predictions.csv")
    assert template[target].isna().all() and template["row"].tolist() == list(range(len(template)))
    template[target] = predicted
    template.to_csv(folder / "predictions.csv", index=False)
    document = json.loads((folder / "predictions.json").read_text())
    document["predictions"]["test"][target] = predicted.tolist()
    (folder / "predictions.json").write_text(json.dumps(document))
    return predicted


def test_competition_journey_from_get_to_a_scored_submission(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "challenge"
    got = _run(["competitions", "get", ZARR_COMPETITION, "--to", str(folder), "--json"], env)
    assert got.returncode == 0, got.stderr
    summary = parse("competition", got.stdout)  # stdout holds the JSON alone
    assert summary["format"] == "V2" and summary["inputs"] == ["calc"] and summary["targets"] == ["expt"]
    assert {Path(p).name for p in summary["files"].values()} == {
        "train.csv", "test.csv", "predictions.csv", "predictions.json"
    }  # fmt: skip
    test = pd.read_csv(folder / "test.csv")
    assert len(test) == summary["test_sizes"]["test"] and list(test.columns) == ["test_set", "row", "calc"]
    assert "expt" in pd.read_csv(folder / "train.csv").columns and len(pd.read_csv(folder / "train.csv")) == 482

    # the test inputs are the competition's test rows, in test order
    from polaris.hub.client import PolarisHubClient
    from polaris.hub.settings import PolarisHubSettings

    settings = PolarisHubSettings(
        hub_url=env["POLARIS_HUB_URL"],
        authorize_url=env["POLARIS_AUTHORIZE_URL"],
        token_fetch_url=env["POLARIS_TOKEN_FETCH_URL"],
        user_info_url=env["POLARIS_USER_INFO_URL"],
        client_id=env["POLARIS_CLIENT_ID"],
    )
    with PolarisHubClient(settings) as client:
        competition = client.get_competition(ZARR_COMPETITION)
    _, expected = competition.get_train_test_split()
    np.testing.assert_allclose(test["calc"].to_numpy(float), expected.as_dataframe()["calc"].to_numpy(float))

    _linear_fill(folder, "calc", "expt")
    scored = _run(["competitions", "evaluate", ZARR_COMPETITION, str(folder / "predictions.csv"), "--json"], env)
    assert scored.returncode == 0, scored.stderr
    results = parse("evaluation", scored.stdout)
    scores = {r["metric"]: r["score"] for r in results["results"]}
    assert set(scores) == set(summary["metrics"]) and all(math.isfinite(v) for v in scores.values())
    assert scores["r2"] > 0.5  # a linear fit of expt on calc is a real model, not noise

    as_json = _ok(["competitions", "evaluate", ZARR_COMPETITION, str(folder / "predictions.json"), "-q"], env)
    assert len(as_json.stdout.split()) == 1  # -q: the submission's name only


def test_benchmark_journey_scores_a_template_and_uploads_it(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    got = parse("benchmark", _ok(["benchmarks", "get", BENCHMARK, "--to", str(folder), "--json"], env).stdout)
    train = pd.read_csv(folder / "train.csv")
    assert len(train) == got["train_size"] and list(train.columns) == ["smiles", "expt"]
    template = pd.read_csv(folder / "predictions.csv")
    # a simple model: expt against the length of the SMILES string
    slope, intercept = np.polyfit(train["smiles"].str.len(), train["expt"], 1)
    test = pd.read_csv(folder / "test.csv")
    template["expt"] = slope * test["smiles"].str.len() + intercept
    template.to_csv(folder / "predictions.csv", index=False)
    document = json.loads((folder / "predictions.json").read_text())
    assert document["benchmark"] == BENCHMARK
    document["predictions"]["test"]["expt"] = template["expt"].tolist()
    (folder / "predictions.json").write_text(json.dumps(document))

    # the file names its benchmark: no --benchmark needed
    sent = parse("results_upload", _ok(["results", "upload", str(folder / "predictions.json"), "--json"], env).stdout)
    assert sent["benchmark"] == BENCHMARK and sent["owner"] == "demo-user"
    uploaded = {r["metric"]: r["score"] for r in sent["results"]}
    assert set(uploaded) == set(got["metrics"])

    # the scores are the benchmark's own evaluation of the same predictions
    from polaris.hub.client import PolarisHubClient

    settings_env = {k.removeprefix("POLARIS_").lower(): v for k, v in env.items()}
    from polaris.hub.settings import PolarisHubSettings

    with PolarisHubClient(PolarisHubSettings(**settings_env)) as client:
        benchmark = client.get_benchmark(BENCHMARK)
    local = benchmark.evaluate(template["expt"].to_numpy())
    expected = {str(m): float(s) for m, s in zip(local.results["Metric"], local.results["Score"], strict=True)}
    assert uploaded == pytest.approx(expected)

    quiet = _ok(["results", "upload", str(folder / "predictions.csv"), "--benchmark", BENCHMARK, "-q"], env)
    assert len(quiet.stdout.split()) == 1


def test_v2_benchmark_and_v1_competition_templates_are_accepted_as_they_are(
    env: dict[str, str], tmp_path: Path
) -> None:
    v2 = tmp_path / "v2"
    _ok(["benchmarks", "get", BENCHMARK_V2, "--to", str(v2)], env)
    _linear_fill(v2, "calc", "expt")
    sent = _ok(["results", "upload", str(v2 / "predictions.csv"), "--benchmark", BENCHMARK_V2, "--json"], env)
    assert {r["metric"] for r in parse("results_upload", sent.stdout)["results"]} >= {"mean_absolute_error"}

    v1 = tmp_path / "v1"
    _ok(["competitions", "get", COMPETITION, "--to", str(v1)], env)
    template = pd.read_csv(v1 / "predictions.csv")
    template["expt"] = -3.0
    template.to_csv(v1 / "predictions.csv", index=False)
    scored = parse(
        "evaluation", _ok(["competitions", "evaluate", COMPETITION, str(v1 / "predictions.csv"), "--json"], env).stdout
    )
    assert {r["test_set"] for r in scored["results"]} == {"test"}

    again = runner.invoke(app, ["competitions", "get", COMPETITION, "--to", str(v1)], env=env)
    assert again.exit_code == 1 and "--overwrite" in again.output


def test_progress_stays_on_stderr_under_json(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import polaris.progress

    monkeypatch.setattr(polaris.progress, "LOG_MIN_DURATION", 0.0)  # log even the local Hub's fast transfers
    result = _ok(["datasets", "get", "polaris-demo/freesolv", "--json"], {**env, "POLARIS_PROGRESS": "log"})
    assert parse("dataset", result.stdout)["artifact"] == "polaris-demo/freesolv"
    assert "polaris.progress: download table.parquet: done" in result.stderr


def test_competitions_list_shows_every_generation(env: dict[str, str]) -> None:
    listed = {r["artifact"]: r for r in parse("listing", _ok(["competitions", "list", "--json"], env).stdout)}
    assert listed[COMPETITION]["format"] == "V1"  # 0.10: a competition dataset with masked targets
    assert listed[ZARR_COMPETITION]["format"] == "V2"  # 0.11-style: a Zarr archive, what `get` and `evaluate` take
    quiet = _ok(["competitions", "list", "-q"], env).stdout.split()
    assert COMPETITION in quiet and ZARR_COMPETITION in quiet


def test_info_shows_metadata_without_downloading(env: dict[str, str]) -> None:
    dataset = parse("dataset_info", _ok(["datasets", "info", "polaris-demo/freesolv", "--json"], env).stdout)
    assert dataset["format"] == "V1" and dataset["version"] == 1 and "expt" in dataset["columns"]
    assert dataset["rows"] == 642 and dataset["license"] == "CC-BY-4.0" and len(dataset["md5sum"]) == 32
    zarr = parse("dataset_info", _ok(["datasets", "info", "polaris-demo/freesolv-zarr", "--json"], env).stdout)
    assert zarr["format"] == "V2"
    bench = parse("benchmark_info", _ok(["benchmarks", "info", BENCHMARK_V2, "--json"], env).stdout)
    assert bench["format"] == "V2" and bench["dataset"] == "polaris-demo/freesolv-zarr" and bench["targets"] == ["expt"]
    table = _ok(["benchmarks", "info", BENCHMARK], env).stdout
    assert "main_metric" in table and "mean_absolute_error" in table
    assert parse("cache", _ok(["cache", "ls", "--json"], env).stdout) == []  # nothing was downloaded


def test_owner_me_quiet_listings_and_the_version_a_parent_upload_made(env: dict[str, str], tmp_path: Path) -> None:
    name = f"journey-model-{uuid.uuid4().hex[:8]}"
    first = _ok(["models", "upload", "--name", name, "-q"], env)  # --owner defaults to the login
    assert first.stdout.strip() == f"demo-user/{name}"
    mine = _ok(["models", "list", "--owner", "me", "-q"], env).stdout.split()
    assert f"demo-user/{name}" in mine and all(line.startswith("demo-user/") for line in mine)
    second = _ok(["models", "upload", "--name", f"{name}-v2", "--parent", f"demo-user/{name}"], env)
    text = " ".join(second.stderr.split())
    assert "version 2" in text and f"a new version of demo-user/{name}" in text
    datasets = _ok(["datasets", "list", "-q"], env).stdout.split()
    assert "polaris-demo/freesolv" in datasets and all("/" in line and " " not in line for line in datasets)
