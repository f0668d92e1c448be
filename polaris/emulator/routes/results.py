"""Benchmark results.

- ``POST /api/v2/result`` — upload the results of a benchmark evaluation (V1 or, 0.11+, V2 benchmark)

0.12+ bodies may lack ``slug``/``artifactId``/``urn`` (derived from ``name``), send the URLs as ``code_url`` and
``report_url`` (stored as ``githubUrl``/``paperUrl``) and name a ``modelArtifactId``; 0.13 sends no ``access``
(the results are then private).
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polaris.emulator import validation
from polaris.emulator.core import (
    BENCHMARK,
    BENCHMARK_V2,
    COMPUTED_KEYS,
    RESULT,
    ApiError,
    HubCore,
    HubState,
    _body_owner,
    _split_artifact_id,
    read_json,
)
from polaris.types import slugify


class ResultRoutes(HubCore):
    async def post_result(self, request: Request) -> Response:
        who = self.identity(request, required=True)
        assert who is not None
        body = self._validated(validation.check_result, await read_json(request))
        owner = slugify(_body_owner(body) or who.user)
        if owner != who.user:
            raise ApiError(403, f"results are owned by their uploader ({who.user}), not by '{owner}'")
        if body.get("benchmarkArtifactId"):
            b_owner, b_slug = _split_artifact_id(body["benchmarkArtifactId"], "benchmarkArtifactId")
        else:
            b_owner = slugify(_body_owner({"owner": body["benchmarkOwner"]}) or "")
            b_slug = slugify(str(body["benchmarkName"]))
        bench = self._visible(self.db.get_artifact(BENCHMARK, b_owner, b_slug), who)
        if bench is None and self.state.modern:
            bench = self._visible(self.db.get_artifact(BENCHMARK_V2, b_owner, b_slug), who)
        if bench is None:
            raise ApiError(404, f"benchmark '{b_owner}/{b_slug}' not found (or you do not have access to it)")
        names = {m.get("name") or m.get("label") for m in bench.body.get("metrics", []) if isinstance(m, dict)}
        tests = set(bench.body.get("testSetLabels") or [])
        targets = set(bench.body.get("targetCols") or [])
        records = []
        for rec in body["results"]:
            test = rec.get("testSet", rec.get("test_set"))
            target = rec.get("targetLabel", rec.get("target_label"))
            unknown = set(rec["scores"]) - names
            if (tests and test not in tests) or (targets and target not in targets) or unknown:
                raise ApiError(
                    422,
                    f"result record ({test}, {target}) does not fit benchmark '{b_owner}/{b_slug}'"
                    + (f": unknown metrics {sorted(unknown)}" if unknown else ""),
                )
            records.append({"testSet": test, "targetLabel": target, "scores": rec["scores"]})
        result_id = uuid.uuid4().hex[:16]
        stored = {
            k: v for k, v in body.items() if k not in COMPUTED_KEYS and k not in ("benchmarkName", "benchmarkOwner")
        }
        for alias, key in (("code_url", "githubUrl"), ("report_url", "paperUrl")):
            if alias in stored:
                value = stored.pop(alias)
                stored[key] = stored.get(key) or value
        stored.update(results=records, benchmarkArtifactId=f"{b_owner}/{b_slug}", id=result_id)
        art = self.db.put_artifact(
            RESULT, owner, result_id, body.get("access") or "private", stored, created_by=who.user
        )
        out = self.present(art)
        name_slug = slugify(str(body["name"]))
        out.update(slug=name_slug, artifactId=f"{owner}/{name_slug}", urn=f"urn:polaris:result:{owner}:{name_slug}")
        location = f"/benchmarks/{b_owner}/{b_slug}/results/{result_id}"
        return JSONResponse(out, status_code=201, headers={"Content-Location": location})


def routes(state: HubState) -> list[Route]:
    h = ResultRoutes(state)
    return [Route("/api/v2/result", h.post_result, methods=["POST"])]
