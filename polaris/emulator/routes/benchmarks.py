"""V1 benchmarks.

- ``GET /api/v1/benchmark`` — list
- ``GET|PUT /api/v1/benchmark/{owner}/{name}`` — one benchmark
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polaris.emulator import validation
from polaris.emulator.core import (
    BENCHMARK,
    COMPETITION_DATASET,
    DATASET,
    ApiError,
    HubCore,
    HubState,
    _body_owner,
    _split_artifact_id,
)
from polaris.emulator.tokens import HubIdentity


def normalise_benchmark(core: HubCore, body: dict[str, Any], who: HubIdentity, *, competition: bool) -> dict[str, Any]:
    """Check a V1 benchmark (or competition) body against its dataset; fill the counts and the checksum."""
    from polaris.evaluate import Metric

    dataset_id = body.get("datasetArtifactId")
    if not dataset_id and isinstance(body.get("dataset"), dict):
        ds = body["dataset"]
        ds_owner = _body_owner(ds) or ""
        dataset_id = f"{ds_owner}/{ds.get('slug') or ds.get('name') or ''}"
    d_owner, d_slug = _split_artifact_id(dataset_id, "datasetArtifactId")
    kind = COMPETITION_DATASET if competition else DATASET
    dataset = core._visible(core.db.get_artifact(kind, d_owner, d_slug), who)
    if dataset is None:
        what = "competition dataset" if competition else "dataset"
        raise ApiError(404, f"{what} '{d_owner}/{d_slug}' not found (upload it first, or check access)")
    out = {k: v for k, v in body.items() if k != "dataset"}
    out["datasetArtifactId"] = f"{d_owner}/{d_slug}"
    targets = [body["targetCols"]] if isinstance(body["targetCols"], str) else list(body["targetCols"])
    inputs = [body["inputCols"]] if isinstance(body["inputCols"], str) else list(body["inputCols"])
    if not targets:
        raise ApiError(422, "targetCols must name at least one column")
    columns = set((dataset.body.get("annotations") or {}).keys())
    missing = [c for c in targets + inputs if columns and c not in columns]
    if missing:
        raise ApiError(422, f"columns {missing} are not in the dataset '{d_owner}/{d_slug}'")
    train, test = body["split"]
    tests: dict[str, list[int]] = test if isinstance(test, dict) else {"test": test}
    n_rows = dataset.body.get("nRows")
    all_test = [i for idx in tests.values() for i in idx]
    if isinstance(n_rows, int) and any(i >= n_rows for i in [*train, *all_test]):
        raise ApiError(422, f"split indices must be below the dataset's {n_rows} rows")
    if set(train) & set(all_test):
        raise ApiError(422, "train and test sets overlap")
    for name, idx in tests.items():
        if len(set(idx)) != len(idx):
            raise ApiError(422, f"test set '{name}' has duplicate indices")
    metrics = [Metric.model_validate(m) for m in body["metrics"]]
    out.update(
        targetCols=targets,
        inputCols=inputs,
        split=[list(train), tests],
        metrics=[m.to_wire() for m in metrics],
        nTrainDatapoints=len(train),
        nTestSets=len(tests),
        nTestDatapoints={k: len(v) for k, v in tests.items()},
        testSetLabels=sorted(tests),
        testSetSizes={k: len(v) for k, v in tests.items()},
        taskType="single_task" if len(targets) == 1 else "multi_task",
    )
    if not out.get("md5Sum") and isinstance(dataset.body.get("md5Sum"), str):
        from polaris.checksum import benchmark_md5

        out["md5Sum"] = benchmark_md5(dataset.body["md5Sum"], targets, inputs, metrics, [train, tests])
    return out


class BenchmarkRoutes(HubCore):
    async def list_benchmarks(self, request: Request) -> Response:
        return await self.list_kind(request, BENCHMARK)

    async def get_benchmark(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        return JSONResponse(self.present_benchmark(self.find(BENCHMARK, owner, slug, who, "benchmark"), who))

    async def put_benchmark(self, request: Request) -> Response:
        who, owner, slug, body = await self._prepare_put(request)
        body = self._validated(validation.check_benchmark, body)
        body = normalise_benchmark(self, body, who, competition=False)
        return self._store(BENCHMARK, owner, slug, body, who)


def routes(state: HubState) -> list[Route]:
    h = BenchmarkRoutes(state)
    return [
        Route("/api/v1/benchmark", h.list_benchmarks, methods=["GET"]),
        Route("/api/v1/benchmark/{owner}/{name}", h.get_benchmark, methods=["GET"]),
        Route("/api/v1/benchmark/{owner}/{name}", h.put_benchmark, methods=["PUT"]),
    ]
