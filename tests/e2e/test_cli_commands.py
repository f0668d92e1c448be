"""Every ``polaris`` command end to end against the local Hub (typer's runner), with ``--json`` schema-checked."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from cli_schemas import parse  # tests/ is on sys.path (conftest)
from typer.testing import CliRunner

from polaris.cli import app

runner = CliRunner()

FREESOLV = "polaris-demo/freesolv"
FREESOLV_V2 = "polaris-demo/freesolv-zarr"
BENCHMARK = "polaris-demo/freesolv-hydration-free-energy"
COMPETITION = "polaris-demo/freesolv-challenge"


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


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _table(path: Path, rows: int = 12) -> pd.DataFrame:
    frame = pd.DataFrame({"smiles": ["C" * (i + 1) for i in range(rows)], "y": np.arange(rows, dtype=float) / 2})
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return frame


def test_version() -> None:
    from polaris.artifacts._base import package_version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"polaris-hub-client {package_version()}"


def test_whoami_json(env: dict[str, str]) -> None:
    data = parse("whoami", _ok(["whoami", "--json"], env).stdout)
    assert data["identity"] == "demo-user"


def test_listings_show_kind_and_version_with_filter_and_owner(env: dict[str, str]) -> None:
    rows = parse("listing", _ok(["datasets", "list", "--json"], env).stdout)
    by_id = {r["artifact"]: r for r in rows}
    assert by_id[FREESOLV]["kind"] == "dataset" and by_id[FREESOLV]["format"] == "V1"
    assert by_id[FREESOLV_V2]["kind"] == "dataset" and by_id[FREESOLV_V2]["format"] == "V2"
    assert by_id[FREESOLV]["access"] == "public"
    filtered = parse("listing", _ok(["datasets", "list", "--filter", "FREESOLV", "--json"], env).stdout)
    assert filtered and all("freesolv" in r["artifact"] for r in filtered)
    nobody = parse("listing", _ok(["datasets", "list", "--owner", "no-such-owner", "--json"], env).stdout)
    assert nobody == []
    benches = parse("listing", _ok(["benchmarks", "list", "--owner", "polaris-demo", "--json"], env).stdout)
    assert BENCHMARK in [r["artifact"] for r in benches] and {r["owner"] for r in benches} == {"polaris-demo"}
    comps = parse("listing", _ok(["competitions", "list", "--json"], env).stdout)
    assert any(r["artifact"] == COMPETITION and r["kind"] == "competition" for r in comps)
    table = _ok(["datasets", "list"], env).stdout
    assert "kind" in table and "format" in table and "version" in table and "V1" in table and "V2" in table


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_upload_table_then_get_it_back_with_to(env: dict[str, str], tmp_path: Path, suffix: str) -> None:
    name = _unique("cli-table")
    source = tmp_path / f"mols{suffix}"
    frame = _table(source)
    uploaded = parse(
        "upload",
        _ok(
            [
                "datasets",
                "upload",
                str(source),
                "--name",
                name,
                "--owner",
                "demo-user",
                "--license",
                "CC-BY-4.0",
                "--description",
                "from the CLI",
                "--access",
                "private",
                "--json",
            ],
            env,
        ).stdout,
    )
    artifact = f"demo-user/{name}"
    assert uploaded == {
        "artifact": artifact,
        "kind": "dataset",
        "format": "V1",
        "version": uploaded["version"],
        "access": "private",
        "url": env["POLARIS_HUB_URL"].rstrip("/") + f"/datasets/demo-user/{name}",
    }
    assert uploaded["version"] in (None, 1)
    listed = parse("listing", _ok(["datasets", "list", "--owner", "demo-user", "--json"], env).stdout)
    assert artifact in [r["artifact"] for r in listed]

    out = tmp_path / "out"
    got = parse("dataset", _ok(["datasets", "get", artifact, "--to", str(out), "--json"], env).stdout)
    assert got["rows"] == len(frame) and got["columns"] == ["smiles", "y"]
    files = [Path(p) for p in got["files"]]
    assert {p.name for p in files} == {f"{name}.parquet", f"{name}.metadata.json"}
    copied = pd.read_parquet(out / f"{name}.parquet")
    pd.testing.assert_frame_equal(copied, frame, check_dtype=False)
    # Copies, not the cache itself: removing them leaves the cache entry intact.
    cache_entry = Path(got["cached_at"])
    assert cache_entry.is_dir() and not (out / f"{name}.parquet").is_symlink()
    (out / f"{name}.parquet").unlink()
    assert (cache_entry / "table.parquet").is_file()


def test_get_to_prints_paths_refuses_to_overwrite_and_links(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "here"
    plain = _ok(["datasets", "get", FREESOLV, "--to", str(out)], env)
    printed = [Path(line) for line in plain.stdout.split()]
    assert printed == [out / "freesolv.parquet", out / "freesolv.metadata.json"]
    assert all(p.is_file() for p in printed)
    before = (out / "freesolv.parquet").read_bytes()

    again = runner.invoke(app, ["datasets", "get", FREESOLV, "--to", str(out)], env=env)
    assert again.exit_code == 1 and "already exist" in again.output and "--overwrite" in again.output
    assert "Unexpected error" not in again.output
    assert (out / "freesolv.parquet").read_bytes() == before

    linked = tmp_path / "linked"
    result = parse("dataset", _ok(["datasets", "get", FREESOLV, "--to", str(linked), "--link", "--json"], env).stdout)
    link = linked / "freesolv.parquet"
    assert link.is_symlink() and link.resolve() == (Path(result["cached_at"]) / "table.parquet").resolve()

    v2 = parse("dataset", _ok(["datasets", "get", FREESOLV_V2, "--to", str(tmp_path / "v2"), "--json"], env).stdout)
    assert v2["format"] == "V2"
    assert (tmp_path / "v2" / "freesolv-zarr.zarr").is_dir()


def test_upload_with_metadata_file_and_if_exists(env: dict[str, str], tmp_path: Path) -> None:
    name = _unique("cli-meta")
    source = tmp_path / "table.parquet"
    _table(source)
    meta = tmp_path / "meta.yaml"
    meta.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "owner": "demo-user",
                "license": "CC0-1.0",
                "description": "from YAML",
                "tags": ["cli"],
                "access": "public",
            }
        )
    )
    first = parse("upload", _ok(["datasets", "upload", str(source), "--metadata", str(meta), "--json"], env).stdout)
    assert first["artifact"] == f"demo-user/{name}" and first["access"] == "public"
    refused = runner.invoke(
        app, ["datasets", "upload", str(source), "--metadata", str(meta), "--if-exists", "raise"], env=env
    )
    assert refused.exit_code == 1
    assert "already exists" in refused.output and "--if-exists replace" in " ".join(refused.output.split())
    again = _ok(["datasets", "upload", str(source), "--metadata", str(meta), "--if-exists", "skip"], env)
    assert f"datasets/demo-user/{name}" in again.stdout
    got = parse("dataset", _ok(["datasets", "get", f"demo-user/{name}", "--json"], env).stdout)
    assert got["license"] == "CC0-1.0" and got["access"] == "public"


def test_upload_zarr_folder_as_v2(env: dict[str, str], tmp_path: Path) -> None:
    import zarr

    root = tmp_path / "archive.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("values", data=np.arange(10, dtype="float64"))
    name = _unique("cli-zarr")
    uploaded = parse(
        "upload",
        _ok(
            ["datasets", "upload", str(root), "--name", name, "--owner", "demo-user", "--license", "MIT", "--json"], env
        ).stdout,
    )
    assert uploaded["format"] == "V2"
    got = parse("dataset", _ok(["datasets", "get", f"demo-user/{name}", "--json"], env).stdout)
    assert got["format"] == "V2" and got["rows"] == 10


def test_upload_table_with_zarr_pointer_column(env: dict[str, str], tmp_path: Path) -> None:
    import zarr

    root = tmp_path / "arrays.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("conformers", data=np.arange(12, dtype="float64").reshape(4, 3))
    table = tmp_path / "pointers.csv"
    pd.DataFrame({"mol": [f"conformers#{i}" for i in range(4)], "y": [1.0, 2.0, 3.0, 4.0]}).to_csv(table, index=False)
    name = _unique("cli-pointers")
    _ok(
        [
            "datasets",
            "upload",
            str(table),
            "--name",
            name,
            "--owner",
            "demo-user",
            "--license",
            "MIT",
            "--zarr",
            str(root),
            "--zarr-pointer-column",
            "mol",
        ],
        env,
    )
    got = parse(
        "dataset", _ok(["datasets", "get", f"demo-user/{name}", "--to", str(tmp_path / "o"), "--json"], env).stdout
    )
    assert got["pointer_columns"] == ["mol"]
    assert (tmp_path / "o" / f"{name}.zarr").is_dir()


def test_benchmark_upload_and_results_upload(env: dict[str, str], tmp_path: Path) -> None:
    dataset = _unique("cli-bench-data")
    source = tmp_path / "t.parquet"
    _table(source, rows=20)
    _ok(["datasets", "upload", str(source), "--name", dataset, "--owner", "demo-user", "--license", "MIT"], env)
    bench = _unique("cli-bench")
    spec = tmp_path / "bench.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": bench,
                "owner": "demo-user",
                "dataset": f"demo-user/{dataset}",
                "input_cols": ["smiles"],
                "target_cols": ["y"],
                "target_types": {"y": "regression"},
                "metrics": ["mean_absolute_error", "r2"],
                "main_metric": "mean_absolute_error",
                "split": {"random": {"test_fraction": 0.25, "seed": 3}},
            }
        )
    )
    up = parse("upload", _ok(["benchmarks", "upload", str(spec), "--json"], env).stdout)
    assert up["artifact"] == f"demo-user/{bench}" and up["dataset"] == f"demo-user/{dataset}"
    got = parse(
        "benchmark", _ok(["benchmarks", "get", up["artifact"], "--verify-checksum", "verify", "--json"], env).stdout
    )
    assert got["train_size"] == 15 and got["test_sizes"] == {"test": 5}

    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            {
                "benchmark": up["artifact"],
                "name": "cli-results",
                "results": [
                    {"testSet": "test", "targetLabel": "y", "scores": {"mean_absolute_error": 0.5, "r2": None}}
                ],
            }
        )
    )
    sent = parse("results_upload", _ok(["results", "upload", str(results), "--json"], env).stdout)
    assert sent["owner"] == "demo-user" and sent["url"].startswith(env["POLARIS_HUB_URL"].rstrip("/"))
    assert {r["metric"]: r["score"] for r in sent["results"]} == {"mean_absolute_error": 0.5, "r2": None}

    csv = tmp_path / "scores.csv"
    pd.DataFrame(
        [("test", "y", "mean_absolute_error", 0.25)], columns=["Test set", "Target label", "Metric", "Score"]
    ).to_csv(csv, index=False)
    table = _ok(["results", "upload", str(csv), "--benchmark", up["artifact"], "--name", "from-csv"], env)
    assert "mean_absolute_error" in table.stdout and "/results/" in table.stdout


def test_competitions_get_and_evaluate(env: dict[str, str], tmp_path: Path) -> None:
    summary = parse("competition", _ok(["competitions", "get", COMPETITION, "--json"], env).stdout)
    size = summary["test_sizes"]["test"]
    (target,) = summary["targets"]
    preds = tmp_path / "preds.csv"
    pd.DataFrame({target: np.linspace(-5, 1, size)}).to_csv(preds, index=False)
    scored = parse("evaluation", _ok(["competitions", "evaluate", COMPETITION, str(preds), "--json"], env).stdout)
    assert {r["metric"] for r in scored["results"]} == set(summary["metrics"])
    as_json = tmp_path / "preds.json"
    as_json.write_text(json.dumps({target: [0.0] * size}))
    table = _ok(["competitions", "evaluate", COMPETITION, str(as_json)], env)
    assert "mean_absolute_error" in table.stdout


def test_cache_ls_verify_rm_prune(env: dict[str, str], tmp_path: Path, _isolated_caches: Path) -> None:
    _ok(["datasets", "get", FREESOLV], env)
    _ok(["datasets", "get", FREESOLV_V2], env)
    rows = parse("cache", _ok(["cache", "ls", "--json"], env).stdout)
    by_id = {r["artifact"]: r for r in rows}
    assert {FREESOLV, FREESOLV_V2} <= set(by_id)
    assert all(r["verified"] and r["size_bytes"] > 0 for r in rows)
    listing = _ok(["cache", "ls"], env).stdout
    assert "freesolv" in listing and "verified" in listing

    checked = parse("cache", _ok(["cache", "verify", "--json"], env).stdout)
    assert checked and all(r["ok"] and r["problems"] == [] for r in checked)
    # Damage one file of the V1 entry: verify reports it and exits 1.
    table = Path(by_id[FREESOLV]["path"]) / "table.parquet"
    table.write_bytes(table.read_bytes()[:-10] + b"0123456789")
    damaged = runner.invoke(app, ["cache", "verify", FREESOLV, "--json"], env=env)
    assert damaged.exit_code == 1
    report = parse("cache", damaged.stdout)
    assert report[0]["ok"] is False and report[0]["problems"]

    removed = parse("cache", _ok(["cache", "rm", FREESOLV, "--json"], env).stdout)
    assert [r["artifact"] for r in removed] == [FREESOLV]
    assert FREESOLV not in [r["artifact"] for r in parse("cache", _ok(["cache", "ls", "--json"], env).stdout)]

    dry = parse("cache", _ok(["cache", "prune", "--max-size", "0", "--dry-run", "--json"], env).stdout)
    assert FREESOLV_V2 in [r["artifact"] for r in dry]
    assert parse("cache", _ok(["cache", "ls", "--json"], env).stdout)  # dry run kept everything
    pruned = _ok(["cache", "prune", "--older-than", "0s"], env)
    assert "Removed" in pruned.output
    assert parse("cache", _ok(["cache", "ls", "--json"], env).stdout) == []


# ------------------------------------------------------------------ real subprocesses (the console script)
def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith("POLARIS_")}
    full.update(env)
    full["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "polaris.cli", *args], capture_output=True, text=True, timeout=120, env=full, cwd=cwd
    )


def test_subprocess_upload_get_to_list_and_prune(local_hub: Any, tmp_path: Path) -> None:
    env = {
        **local_hub.env(),
        "POLARIS_USERNAME": "demo-user",
        "POLARIS_PASSWORD": local_hub.users["demo-user"],
        "POLARIS_CACHE_DIR": str(tmp_path / "cache"),
    }
    name = _unique("cli-subprocess")
    _table(tmp_path / "mols.csv")
    up = _run(
        ["datasets", "upload", "mols.csv", "--name", name, "--owner", "demo-user", "--license", "MIT"], env, tmp_path
    )
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip().endswith(f"/datasets/demo-user/{name}")
    got = _run(["datasets", "get", f"demo-user/{name}", "--to", "out"], env, tmp_path)
    assert got.returncode == 0, got.stderr
    assert got.stdout.split() == [f"out/{name}.parquet", f"out/{name}.metadata.json"]
    assert (tmp_path / "out" / f"{name}.parquet").is_file()
    listed = _run(["datasets", "list", "--owner", "demo-user", "--json"], env, tmp_path)
    assert listed.returncode == 0 and f"demo-user/{name}" in [r["artifact"] for r in parse("listing", listed.stdout)]
    pruned = _run(["cache", "prune", "--all", "--json"], env, tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert f"demo-user/{name}" in [r["artifact"] for r in parse("cache", pruned.stdout)]
    assert parse("cache", _run(["cache", "ls", "--json"], env, tmp_path).stdout) == []
    assert (tmp_path / "out" / f"{name}.parquet").is_file()  # the copy outlives the cache entry
    version = _run(["--version"], env, tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("polaris-hub-client ")


def test_models_upload_list_get_and_new_version(env: dict[str, str], tmp_path: Path) -> None:
    name = _unique("cli-model")
    readme = tmp_path / "README.md"
    readme.write_text("# A model\n\nMean of the training targets.\n")
    up = parse(
        "upload",
        _ok(
            [
                "models",
                "upload",
                "--name",
                name,
                "--owner",
                "demo-user",
                "--description",
                "a baseline",
                "--readme",
                str(readme),
                "--code-url",
                "https://example.org/code",
                "--access",
                "public",
                "--json",
            ],
            env,
        ).stdout,
    )
    artifact = f"demo-user/{name}"
    assert up["artifact"] == artifact and up["kind"] == "model" and up["access"] == "public"
    listed = parse("listing", _ok(["models", "list", "--owner", "demo-user", "--json"], env).stdout)
    assert any(r["artifact"] == artifact and r["kind"] == "model" for r in listed)
    got = parse("model", _ok(["models", "get", artifact, "--json"], env).stdout)
    assert got["description"] == "a baseline" and got["code_url"] == "https://example.org/code"
    assert got["readme"].startswith("# A model") and got["version"] == 1 and got["format"] == "V1"

    spec = tmp_path / "model.yaml"
    spec.write_text(yaml.safe_dump({"name": f"{name}-v2", "owner": "demo-user", "description": "better"}))
    second = parse(
        "upload",
        _ok(["models", "upload", str(spec), "--parent", artifact, "--changelog", "tuned", "--json"], env).stdout,
    )
    assert second["version"] == 2 and second["parent"] == artifact
    table = _ok(["models", "get", second["artifact"]], env)
    assert "better" in table.stdout

    missing = runner.invoke(app, ["models", "get", "demo-user/no-such-model"], env=env)
    assert missing.exit_code == 1 and "`polaris models list`" in " ".join(missing.output.split())


def test_v2_benchmark_upload_on_a_v2_dataset(env: dict[str, str], tmp_path: Path) -> None:
    seeded = parse("benchmark", _ok(["benchmarks", "get", "polaris-demo/freesolv-zarr-expt", "--json"], env).stdout)
    assert seeded["format"] == "V2" and seeded["dataset"] == FREESOLV_V2 and seeded["md5sum"] is None
    assert set(seeded["index_set_md5sums"]) == {"training", "test"}
    assert all(len(md5) == 32 for md5 in seeded["index_set_md5sums"].values())
    name = _unique("cli-bench-v2")
    spec = tmp_path / "v2.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "owner": "demo-user",
                "dataset": FREESOLV_V2,
                "input_cols": ["calc"],
                "target_cols": ["expt"],
                "target_types": {"expt": "regression"},
                "metrics": ["mean_absolute_error"],
                "main_metric": "mean_absolute_error",
                "split": {"train": list(range(0, 80)), "test": list(range(80, 100))},
            }
        )
    )
    up = parse("upload", _ok(["benchmarks", "upload", str(spec), "--json"], env).stdout)
    assert up["format"] == "V2" and up["dataset"] == FREESOLV_V2
    got = parse("benchmark", _ok(["benchmarks", "get", up["artifact"], "--json"], env).stdout)
    assert got["format"] == "V2" and got["train_size"] == 80 and got["test_sizes"] == {"test": 20}


def test_results_upload_names_its_model(env: dict[str, str], tmp_path: Path) -> None:
    results = tmp_path / "r.yaml"
    results.write_text(
        yaml.safe_dump(
            {
                "benchmark": BENCHMARK,
                "name": _unique("with-model"),
                "results": [{"testSet": "test", "targetLabel": "expt", "scores": {"mean_absolute_error": 1.0}}],
            }
        )
    )
    sent = parse(
        "results_upload",
        _ok(
            ["results", "upload", str(results), "--model", "polaris-demo/freesolv-linear-baseline", "--json"], env
        ).stdout,
    )
    assert sent["benchmark"] == BENCHMARK and sent["results"][0]["score"] == 1.0
    bad = runner.invoke(app, ["results", "upload", str(results), "--model", "not-a-model-id"], env=env)
    assert bad.exit_code == 2 and "expected OWNER/NAME" in " ".join(bad.output.split())
