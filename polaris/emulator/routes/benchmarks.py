"""Benchmarks: V1 (index lists in the body) and V2 (0.11+: a V2 dataset and two Roaring-bitmap index sets).

- ``GET /api/v1/benchmark`` — list V1 benchmarks
- ``GET|PUT /api/v1/benchmark/{owner}/{name}`` — one V1 benchmark
- ``GET /api/v2/benchmark`` — list V2 benchmarks (0.11+; clients list V2 first, then V1)
- ``GET|PUT /api/v2/benchmark/{owner}/{name}`` — one V2 benchmark. The PUT stores the metadata; the client then
  uploads ``training.roaring`` and ``test.roaring`` with a write token on ``urn:polaris:benchmark:<owner>:<slug>``.
  Until both match the declared ``{datapoints, md5Checksum}`` the GET answers 409 and the list leaves it out.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polaris.emulator import validation
from polaris.emulator.core import (
    BENCHMARK,
    BENCHMARK_V2,
    COMPETITION_DATASET,
    DATASET,
    DATASET_V2,
    ApiError,
    HubCore,
    HubState,
    _body_owner,
    _split_artifact_id,
    route_if,
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


def normalise_benchmark_v2(core: HubCore, body: dict[str, Any], who: HubIdentity) -> dict[str, Any]:
    """Check a V2 benchmark body against its V2 dataset; fill the counts. The index sets are checked once stored."""
    from polaris.evaluate import Metric

    d_owner, d_slug = _split_artifact_id(body["datasetArtifactId"], "datasetArtifactId")
    dataset = core._visible(core.db.get_artifact(DATASET_V2, d_owner, d_slug), who)
    if dataset is None:
        v1 = core._visible(core.db.get_artifact(DATASET, d_owner, d_slug), who)
        hint = " (it is a V1 dataset: V2 benchmarks need a V2 dataset)" if v1 is not None else ""
        raise ApiError(404, f"V2 dataset '{d_owner}/{d_slug}' not found{hint} (upload it first, or check access)")
    targets = [body["targetCols"]] if isinstance(body["targetCols"], str) else list(body["targetCols"])
    inputs = [body["inputCols"]] if isinstance(body["inputCols"], str) else list(body["inputCols"])
    if not targets:
        raise ApiError(422, "targetCols must name at least one column")
    columns = set((dataset.body.get("annotations") or {}).keys())
    missing = [c for c in targets + inputs if columns and c not in columns]
    if missing:
        raise ApiError(422, f"columns {missing} are not in the dataset '{d_owner}/{d_slug}'")
    split = {name: dict(body["split"][name]) for name in ("training", "test")}
    n_rows = dataset.body.get("nRows")
    total = split["training"]["datapoints"] + split["test"]["datapoints"]
    if isinstance(n_rows, int) and total > n_rows:
        raise ApiError(422, f"the index sets hold {total} indices, the dataset has {n_rows} rows")
    metrics = [Metric.model_validate(m) for m in body["metrics"]]
    n_test = split["test"]["datapoints"]
    out = dict(body)
    out.update(
        datasetArtifactId=f"{d_owner}/{d_slug}",
        targetCols=targets,
        inputCols=inputs,
        split=split,
        metrics=[m.to_wire() for m in metrics],
        nTrainDatapoints=split["training"]["datapoints"],
        nTestSets=1,
        nTestDatapoints={"test": n_test},
        testSetLabels=["test"],
        testSetSizes={"test": n_test},
        taskType="single_task" if len(targets) == 1 else "multi_task",
        version=2,
    )
    out.setdefault("targetTypes", {})
    out.setdefault("nClasses", {})
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

    async def list_benchmarks_v2(self, request: Request) -> Response:
        return await self.list_kind(request, BENCHMARK_V2)

    async def get_benchmark_v2(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        art = await self.published(self.find(BENCHMARK_V2, owner, slug, who, "V2 benchmark"))
        return JSONResponse(self.present_benchmark_v2(art, who))

    async def put_benchmark_v2(self, request: Request) -> Response:
        who, owner, slug, body = await self._prepare_put(request)
        body = self._validated(validation.check_benchmark_v2, body)
        body = normalise_benchmark_v2(self, body, who)
        return self._store(BENCHMARK_V2, owner, slug, body, who)


def routes(state: HubState) -> list[Route]:
    h = BenchmarkRoutes(state)
    return [
        Route("/api/v1/benchmark", h.list_benchmarks, methods=["GET"]),
        Route("/api/v1/benchmark/{owner}/{name}", h.get_benchmark, methods=["GET"]),
        Route("/api/v1/benchmark/{owner}/{name}", h.put_benchmark, methods=["PUT"]),
        route_if(state.modern, state, "/api/v2/benchmark", h.list_benchmarks_v2, ["GET"]),
        route_if(state.modern, state, "/api/v2/benchmark/{owner}/{name}", h.get_benchmark_v2, ["GET"]),
        route_if(state.modern, state, "/api/v2/benchmark/{owner}/{name}", h.put_benchmark_v2, ["PUT"]),
    ]
