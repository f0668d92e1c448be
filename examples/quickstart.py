"""The journey of a Polaris Hub user, step by step.

Log in, find a benchmark, train a scikit-learn baseline, evaluate it, upload the results, share a small Zarr
dataset and read it back verified, and take part in a competition.

It talks to whatever Hub the ``POLARIS_*`` settings name. ``make demo`` starts a local Hub and runs it; against
the real Hub, set ``POLARIS_QUICKSTART_BENCHMARK`` / ``POLARIS_QUICKSTART_COMPETITION`` to artifacts you can see.

    python examples/quickstart.py
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from rich.console import Console
from rich.table import Table

from polaris.artifacts import DatasetV2
from polaris.hub.client import PolarisHubClient

console = Console()
T = TypeVar("T")

BENCHMARK = os.environ.get("POLARIS_QUICKSTART_BENCHMARK", "polaris-demo/freesolv-hydration-free-energy")
COMPETITION = os.environ.get("POLARIS_QUICKSTART_COMPETITION", "polaris-demo/freesolv-challenge")
OWNER = os.environ.get("POLARIS_QUICKSTART_OWNER")  # default: the logged-in user name

# Counted SMILES tokens: a deliberately simple featurisation that needs no chemistry toolkit.
_TOKENS = ["C", "c", "N", "n", "O", "o", "S", "s", "F", "Cl", "Br", "I", "P", "=", "#", "(", "[", "@", "+", "-"]
_TOKEN_RE = re.compile("Cl|Br|" + "|".join(re.escape(t) for t in _TOKENS if len(t) == 1))


def featurize(smiles: Any) -> np.ndarray:
    """Token counts, ring-closure digits and length of each SMILES string."""
    rows = []
    for s in np.asarray(smiles, dtype=object):
        tokens = _TOKEN_RE.findall(str(s))
        counts = [tokens.count(t) for t in _TOKENS]
        rings = sum(ch.isdigit() for ch in str(s)) / 2
        rows.append([*counts, rings, len(str(s))])
    return np.asarray(rows, dtype=float)


def step(number: int, title: str, action: Callable[[], T]) -> T:
    console.rule(f"[bold cyan]Step {number}: {title}")
    start = time.perf_counter()
    result = action()
    console.print(f"[green]done[/] in {time.perf_counter() - start:.2f} s")
    return result


def scores_table(title: str, records: Any) -> Table:
    table = Table(title=title)
    for col in ("Test set", "Target label", "Metric", "Score"):
        table.add_column(col)
    for test, target, metric, score in records.itertuples(index=False, name=None):
        table.add_row(str(test), str(target), str(metric), "n/a" if score != score else f"{score:.4f}")
    return table


def main() -> int:
    with PolarisHubClient() as client:
        client.show_progress = sys.stderr.isatty()

        # 1. Log in: password grant when POLARIS_USERNAME/PASSWORD are set, else the browser (PKCE).
        def login() -> str:
            result = client.login()
            console.print(f"Logged in to [bold]{client.settings.hub_url}[/] as [bold]{result.identity}[/]")
            return result.identity

        step(1, "log in", login)

        # 2. What benchmarks are there?
        def list_benchmarks() -> list[str]:
            names = client.list_benchmarks()
            table = Table(title="Benchmarks on the Hub")
            table.add_column("owner/name")
            for name in names:
                table.add_row(name)
            console.print(table)
            return names

        step(2, "list benchmarks", list_benchmarks)

        # 3. Fetch one (its dataset is downloaded, verified and cached).
        benchmark = step(3, f"get_benchmark({BENCHMARK!r})", lambda: client.get_benchmark(BENCHMARK))
        train, test = benchmark.get_train_test_split()
        assert not isinstance(test, dict), "this quickstart expects one test set"
        console.print(
            f"{type(benchmark).__name__}: inputs {benchmark.input_cols} -> targets {benchmark.target_cols}; "
            f"{len(train)} training and {len(test)} test molecules; main metric [bold]{benchmark.main_metric}[/]"
        )

        # 4. Train a baseline.
        def train_model() -> Any:
            from sklearn.ensemble import RandomForestRegressor

            model = RandomForestRegressor(n_estimators=200, random_state=0, n_jobs=-1)
            model.fit(featurize(train.X), train.y)
            return model

        model = step(4, "train a scikit-learn random forest on the train split", train_model)

        # 5. Evaluate on the test set (targets are hidden from the test subset; the benchmark scores).
        def evaluate() -> Any:
            results = benchmark.evaluate(model.predict(featurize(test.X)))
            console.print(scores_table("Baseline on the test set", results.results))
            return results

        results = step(5, "evaluate", evaluate)

        # 6. Upload the results; the Hub makes us their owner and tells where to see them.
        def upload() -> Any:
            results.name = f"quickstart-rf-{time.strftime('%Y%m%d-%H%M%S')}"
            results.description = "Random forest on SMILES token counts (examples/quickstart.py)"
            uploaded = client.upload_results(results, access="public")
            console.print(f"Results uploaded: [link={uploaded.hub_url}]{uploaded.hub_url}[/link]")
            return uploaded

        step(6, "upload_results", upload)

        # 7. Share a small V2 Zarr dataset and read it back, every chunk verified against the manifest.
        def zarr_round_trip() -> None:
            import zarr

            owner = OWNER or client.settings.username
            if not owner:
                raise SystemExit("set POLARIS_QUICKSTART_OWNER to the user or organization to upload for")
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp) / "features.zarr"
                group = zarr.open_group(str(root), mode="w", zarr_format=2)
                features = featurize(train.X)
                group.create_array("features", shape=features.shape, chunks=(64, features.shape[1]), dtype="float64")[
                    :
                ] = features
                group.create_array("target", shape=(len(train),), chunks=(64,), dtype="float64")[:] = train.y
                name = f"quickstart-features-{time.strftime('%Y%m%d%H%M%S')}"
                dataset = DatasetV2(
                    name=name,
                    owner=owner,
                    zarr_root_path=str(root),
                    license="CC-BY-4.0",
                    description="SMILES token counts of the training molecules",
                )
                client.upload_dataset(dataset, access="private")
                console.print(f"Uploaded V2 dataset [bold]{dataset.owner}/{name}[/] ({dataset.n_rows} rows)")
            back = client.get_dataset(str(dataset.owner), name, verify_checksum="verify")
            assert isinstance(back, DatasetV2)
            same = np.array_equal(back.zarr_root["features"][:], features)
            console.print(
                f"Downloaded again: columns {back.columns}, {back.n_rows} rows, every chunk verified against the "
                f"manifest; identical to what was uploaded: [bold]{same}[/]"
            )
            if not same:
                raise SystemExit("the downloaded dataset differs from the uploaded one")

        step(7, "upload a V2 Zarr dataset and download it again", zarr_round_trip)

        # 8. A competition: the Hub keeps the test labels and scores our predictions.
        def compete() -> None:
            competition = client.get_competition(COMPETITION)
            comp_train, comp_test = competition.get_train_test_split()
            assert not isinstance(comp_test, dict)
            from sklearn.ensemble import RandomForestRegressor

            comp_model = RandomForestRegressor(n_estimators=200, random_state=0, n_jobs=-1)
            comp_model.fit(featurize(comp_train.X), comp_train.y)
            scored = client.evaluate_competition(competition, comp_model.predict(featurize(comp_test.X)))
            console.print(scores_table(f"{COMPETITION}: scored by the Hub", scored.results))

        step(8, f"evaluate_competition({COMPETITION!r})", compete)

    console.rule("[bold green]All steps worked")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
