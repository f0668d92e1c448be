"""Strict CLI input (issue 22): each bad input is refused with its exit code and where it went wrong, before any
upload; a missing --env-file is a usage error; a broken cached login is reported, never turned into anonymous
results; ``whoami`` asks the Hub.

Refusals that must come before any request are run against a closed port: had the command sent anything, it would
fail with a network error instead of the message asserted.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from polaris.cli import app

runner = CliRunner()

BENCHMARK = "polaris-demo/freesolv-hydration-free-energy"
COMPETITION = "polaris-demo/freesolv-zarr-challenge"


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def nowhere() -> dict[str, str]:
    """Settings of a Hub at a closed loopback port: any request would be a connection error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    return {
        "POLARIS_HUB_URL": url,
        "POLARIS_AUTHORIZE_URL": f"{url}oauth/authorize",
        "POLARIS_TOKEN_FETCH_URL": f"{url}oauth/token",
        "POLARIS_USER_INFO_URL": f"{url}oauth/userinfo",
        "POLARIS_CLIENT_ID": "polaris-cli-test",
    }


def _password_env(local_hub: Any) -> dict[str, str]:
    return {**local_hub.env(), "POLARIS_USERNAME": "demo-user", "POLARIS_PASSWORD": local_hub.users["demo-user"]}


def _refused(args: list[str], env: dict[str, str], *words: str, code: int = 1) -> str:
    result = runner.invoke(app, args, env={**env, "COLUMNS": "500"})
    text = _flat(result.output)
    assert result.exit_code == code, text
    for word in words:
        assert word in text, text
    assert "Unexpected error" not in text and "Network error" not in text and "Traceback" not in text
    return text


# ------------------------------------------------------------------ tables, strictly
TABLES = [
    ("ragged.csv", b"smiles,logp\nCCO,-0.31,extra\n", ["ragged.csv, line 2", "3 fields", "header (line 1) has 2"]),
    ("empty.csv", b"", ["empty.csv: is empty"]),
    ("header-only.csv", b"smiles,logp\n", ["header-only.csv, line 1: has a header but no rows"]),
    ("latin1.csv", b"smiles,name\nCCO,caf\xe9\n", ["latin1.csv, line 2, column 8", "not UTF-8", "Save the file"]),
    ("dup.csv", b"smiles,smiles\nCCO,C\n", ["dup.csv, line 1, column 2", "names 'smiles' twice"]),
    ("blank.csv", b",logp\nCCO,1\n", ["blank.csv, line 1, column 1", "header column 1 has no name"]),
    ("trailing.tsv", b"smiles\tlogp\t\nCCO\t1\t\n", ["trailing.tsv, line 1, column 3", "has no name"]),
    ("quote.csv", b'smiles,logp\n"CCO,1\n', ["quote.csv"]),
]


@pytest.mark.parametrize(("name", "content", "words"), TABLES, ids=[t[0] for t in TABLES])
def test_a_bad_table_is_refused_with_its_line_before_any_request(
    tmp_path: Path, nowhere: dict[str, str], name: str, content: bytes, words: list[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    args = ["datasets", "upload", str(path), "--owner", "demo-user", "--license", "MIT"]
    _refused(args, nowhere, *words, "Hint:")


def test_a_table_with_a_bom_and_blank_lines_is_read(tmp_path: Path) -> None:
    from polaris.tables import line_of, read_table

    path = tmp_path / "ok.csv"
    path.write_bytes(b'\xef\xbb\xbfsmiles,logp\nCCO,1\n\nCC,"2"\n')
    frame = read_table(path)
    assert list(frame.columns) == ["smiles", "logp"] and frame["logp"].tolist() == [1, 2]
    assert line_of(frame, 1) == 4


def test_a_parquet_file_that_is_not_parquet(tmp_path: Path, nowhere: dict[str, str]) -> None:
    path = tmp_path / "t.parquet"
    path.write_text("smiles,logp\nCCO,1\n")
    _refused(["datasets", "upload", str(path), "--owner", "x", "--license", "MIT"], nowhere, "not a readable Parquet")


# ------------------------------------------------------------------ Zarr folders
def test_a_zarr_folder_without_an_array_is_refused_before_any_request(tmp_path: Path, nowhere: dict[str, str]) -> None:
    import zarr

    root = tmp_path / "bare.zarr"
    zarr.open_group(str(root), mode="w", zarr_format=2)
    args = ["datasets", "upload", str(root), "--owner", "demo-user", "--license", "MIT"]
    _refused(args, nowhere, "bare.zarr: holds no Zarr array")


def test_a_zarr_array_without_a_shape_is_refused_before_any_request(tmp_path: Path, nowhere: dict[str, str]) -> None:
    import zarr

    root = tmp_path / "broken.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("x", shape=(3,), dtype="f8")
    meta = json.loads((root / "x" / ".zarray").read_text())
    del meta["shape"]
    (root / "x" / ".zarray").write_text(json.dumps(meta))
    args = ["datasets", "upload", str(root), "--owner", "demo-user", "--license", "MIT"]
    _refused(args, nowhere, "the array 'x' cannot be read")


# ------------------------------------------------------------------ metadata files
def test_metadata_that_is_not_a_mapping_or_not_json(tmp_path: Path, nowhere: dict[str, str]) -> None:
    table = tmp_path / "t.csv"
    table.write_text("smiles,y\nC,1\nCC,2\n")
    listed = tmp_path / "meta.yaml"
    listed.write_text("- a\n- b\n")
    _refused(["datasets", "upload", str(table), "--metadata", str(listed)], nowhere, "meta.yaml: holds list")
    broken = tmp_path / "meta.json"
    broken.write_text('{"name": "x",\n "license": }\n')
    _refused(["datasets", "upload", str(table), "--metadata", str(broken)], nowhere, "meta.json, line 2", "JSON")


def test_metadata_of_the_wrong_type_names_the_key(tmp_path: Path, nowhere: dict[str, str]) -> None:
    table = tmp_path / "table.csv"
    table.write_text("smiles,y\nC,1\nCC,2\n")
    meta = tmp_path / "meta.yaml"
    meta.write_text("license: MIT\ntags: 7\n")
    args = ["datasets", "upload", str(table), "--metadata", str(meta), "--owner", "x"]
    _refused(args, nowhere, "meta.yaml: tags: Input should be a valid list")


def test_unknown_metadata_keys_are_named_in_a_warning(local_hub: Any, tmp_path: Path) -> None:
    env = _password_env(local_hub)
    assert runner.invoke(app, ["login"], env=env).exit_code == 0
    table = tmp_path / "warned.csv"
    table.write_text("smiles,y\nC,1\nCC,2\nCCC,3\n")
    meta = tmp_path / "meta.yaml"
    meta.write_text("license: MIT\ndescripton: typo\ncolour: blue\n")
    result = runner.invoke(app, ["datasets", "upload", str(table), "--metadata", str(meta), "-q"], env=env)
    assert result.exit_code == 0, result.output
    warning = _flat(result.stderr)
    assert "ignoring unknown dataset field(s)" in warning and "descripton, colour" in warning
    assert result.stdout.strip() == "demo-user/warned"  # -q: the identifier only; the owner defaulted to the login


# ------------------------------------------------------------------ scores
def test_a_score_that_is_not_a_number_is_refused(tmp_path: Path, nowhere: dict[str, str]) -> None:
    scores = tmp_path / "scores.csv"
    scores.write_text("Test set,Target label,Metric,Score\ntest,expt,r2,0.5\ntest,expt,mean_absolute_error,abc\n")
    args = ["results", "upload", str(scores), "--benchmark", BENCHMARK]
    _refused(args, nowhere, "scores.csv, line 3, column Score", "score 'abc' is not a number")
    doc = tmp_path / "scores.json"
    doc.write_text(
        json.dumps(
            {"benchmark": BENCHMARK, "results": [{"test_set": "test", "target_label": "expt", "scores": {"r2": "abc"}}]}
        )
    )
    _refused(["results", "upload", str(doc)], nowhere, "results[0].scores.r2: 'abc' is not a number")
    wrong_columns = tmp_path / "cols.csv"
    wrong_columns.write_text("Test set,Target label,Metric,Value\ntest,expt,r2,1\n")
    _refused(["results", "upload", str(wrong_columns), "--benchmark", BENCHMARK], nowhere, "Score")


def test_a_results_file_with_an_unknown_key_warns(tmp_path: Path, nowhere: dict[str, str]) -> None:
    doc = tmp_path / "scores.yaml"
    doc.write_text(f"benchmark: {BENCHMARK}\nsocre: 1\nresults:\n  - [test, expt, r2, abc]\n")
    text = _refused(["results", "upload", str(doc)], nowhere, "results[0][3]: 'abc' is not a number")
    assert "ignoring unknown results field(s)" in text and "socre" in text


# ------------------------------------------------------------------ predictions
def test_predictions_are_checked_value_by_value(local_hub: Any, tmp_path: Path) -> None:
    env = _password_env(local_hub)
    assert runner.invoke(app, ["login"], env=env).exit_code == 0
    out = tmp_path / "task"
    assert runner.invoke(app, ["competitions", "get", COMPETITION, "--to", str(out)], env=env).exit_code == 0
    template = out / "predictions.csv"
    evaluate = ["competitions", "evaluate", COMPETITION]
    # the template as written: every prediction still empty
    _refused([*evaluate, str(template)], env, "predictions.csv, line 2, column expt: prediction empty", "Fill every")
    lines = template.read_text().splitlines()
    n = len(lines) - 1
    text_value = tmp_path / "text.csv"
    text_value.write_text("\n".join([lines[0], *[f"{row}{i}.5" for i, row in enumerate(lines[1:])]]) + "\n")
    text_value.write_text(text_value.read_text().replace("test,3,3.5", "test,3,abc"))
    _refused([*evaluate, str(text_value)], env, "text.csv, line 5, column expt: prediction 'abc' is not a number")
    short = tmp_path / "short.csv"
    short.write_text("\n".join([lines[0], *[f"{row}1" for row in lines[1:-1]]]) + "\n")
    _refused([*evaluate, str(short)], env, f"has {n - 1} row(s) for test set 'test', which has {n}")
    # a .json file is JSON: YAML is not read into a string
    not_json = tmp_path / "preds.json"
    not_json.write_text("test:\n  expt: [1, 2]\n")
    _refused([*evaluate, str(not_json)], env, "preds.json, line 1, column 1: is not valid JSON")
    nulls = json.loads((out / "predictions.json").read_text())
    _refused([*evaluate, str(out / "predictions.json")], env, "predictions.test.expt[0] is null")
    nulls["predictions"]["test"]["expt"] = ["1.0"] * n
    strings = tmp_path / "strings.json"
    strings.write_text(json.dumps(nulls))
    _refused([*evaluate, str(strings)], env, "predictions.test.expt[0] is '1.0', not a number")
    nulls["competition"] = BENCHMARK
    other = tmp_path / "other.json"
    other.write_text(json.dumps(nulls))
    _refused([*evaluate, str(other)], env, f"holds predictions for {BENCHMARK}", code=2)


# ------------------------------------------------------------------ settings and identity
def test_a_missing_env_file_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "nonexist.env"
    result = runner.invoke(app, ["--env-file", str(missing), "datasets", "list"])
    assert result.exit_code == 2, result.output
    assert "--env-file" in _flat(result.output) and "does not exist" in _flat(result.output)


def test_a_corrupt_cached_login_is_reported_not_anonymous(local_hub: Any) -> None:
    from polaris.hub.token_cache import TokenCache

    env = _password_env(local_hub)
    assert runner.invoke(app, ["login"], env=env).exit_code == 0
    path = TokenCache(local_hub.url).path
    path.write_text("{corrupt")
    try:
        text = _refused(["datasets", "list", "--owner", "demo-user"], local_hub.env(), "cannot be used")
        assert local_hub.url in text and "login --overwrite" in text
        _refused(["whoami"], local_hub.env(), "cannot be used")
    finally:
        path.unlink()


def test_a_rejected_cached_login_is_reported_by_whoami_and_listings(local_hub: Any) -> None:
    from polaris.hub.token_cache import TokenCache

    env = _password_env(local_hub)
    assert runner.invoke(app, ["login"], env=env).exit_code == 0
    path = TokenCache(local_hub.url).path
    data = json.loads(path.read_text())
    data["hub_token"]["access_token"] = "garbage"
    path.write_text(json.dumps(data))
    try:
        text = _refused(["whoami"], local_hub.env(), "refused your login and it could not be renewed")
        assert local_hub.url in text
        _refused(["datasets", "list", "--owner", "me", "--json"], local_hub.env(), "HTTP 401")
        offline = runner.invoke(app, ["--offline", "whoami"], env=local_hub.env())
        assert offline.exit_code == 0, offline.output
        assert "demo-user" in offline.stdout and "not checked with the Hub" in _flat(offline.stdout)
    finally:
        path.unlink()


def test_owner_defaults_to_the_login_and_needs_one(tmp_path: Path, nowhere: dict[str, str]) -> None:
    model = ["models", "upload", "--name", "no-owner-model"]
    _refused(model, nowhere, "--owner defaults to the logged-in user", "not logged in to", nowhere["POLARIS_HUB_URL"])


def test_an_expired_login_that_cannot_be_renewed_is_reported(local_hub_factory: Any) -> None:
    import time

    hub = local_hub_factory(seed="demo", token_ttl=2)
    assert runner.invoke(app, ["login"], env=_password_env(hub)).exit_code == 0
    time.sleep(3)  # the Hub token has expired; without the password in the environment it cannot be renewed
    _refused(
        ["datasets", "list", "--owner", "demo-user"],
        hub.env(),
        f"Your login to the Polaris Hub at {hub.url} expired at",
        "cannot be renewed",
        "nothing was sent anonymously",
        "login --overwrite",
    )
