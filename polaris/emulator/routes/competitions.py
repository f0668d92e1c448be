"""Competitions: hidden test labels on the Hub, predictions scored with ``polaris.evaluate``.

0.10 protocol (``/v2/competition*``; a V1 competition dataset whose parquet masks the test targets):

- ``GET /api/v2/competition`` — list competitions
- ``GET|PUT /api/v2/competition/dataset/{owner}/{name}`` — a competition dataset (test targets masked)
- ``GET|PUT /api/v2/competition/{owner}/{name}`` — one competition
- ``POST /api/v2/competition/{owner}/{name}/evaluate`` — score predictions against the hidden labels

0.11+ protocol (the competition is itself a Zarr-backed dataset with task fields; no list, no upload):

- ``GET /api/v1/competition/{owner}/{name}`` — one competition; its Zarr archive is read with a read token on
  ``urn:polaris:competition:<owner>:<slug>`` (paths ``root`` + ``manifest``) or, 0.13, from ``root``
- ``POST /api/v1/competition-prediction`` — score predictions (``competitionArtifactId`` in the body)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polaris.emulator import validation
from polaris.emulator.core import (
    COMPETITION,
    COMPETITION_DATASET,
    COMPETITION_PREDICTION,
    COMPETITION_RESULT,
    COMPETITION_V1,
    COMPUTED_KEYS,
    ApiError,
    HubCore,
    HubState,
    _body_owner,
    _clean_json,
    _iso,
    _split_artifact_id,
    read_json,
    route_if,
)
from polaris.emulator.db import Artifact
from polaris.emulator.routes.benchmarks import normalise_benchmark
from polaris.emulator.tokens import HubIdentity


class CompetitionRoutes(HubCore):
    async def list_competitions(self, request: Request) -> Response:
        # every generation: the 0.10 competitions and the 0.11-style (Zarr) ones that GET /v1/competition serves
        return await self.list_kind(request, COMPETITION, COMPETITION_V1)

    async def get_competition_dataset(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        out = self.present(self.find(COMPETITION_DATASET, owner, slug, who, "competition dataset"))
        out.setdefault("maskedMd5Sum", out.get("md5Sum"))
        return JSONResponse(out)

    async def put_competition_dataset(self, request: Request) -> Response:
        who, owner, slug, body = await self._prepare_put(request)
        body = self._validated(lambda b: validation.check_dataset_v1(b, competition=True), body)
        if any(bool((a or {}).get("isPointer")) for a in (body.get("annotations") or {}).values()):
            raise ApiError(422, "competition datasets cannot have pointer columns (Zarr)")
        body.setdefault("maskedMd5Sum", body["md5Sum"])
        return self._store(COMPETITION_DATASET, owner, slug, body, who)

    def present_competition(self, art: Artifact, who: HubIdentity | None) -> dict[str, Any]:
        out = self.present_benchmark(art, who, competition=True)
        out["owner"] = art.owner  # 0.10.0's get->evaluate path needs the owner as a slug string
        for key in ("createdAt", "updatedAt"):
            out.pop(key, None)
        return out

    async def get_competition(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        return JSONResponse(self.present_competition(self.find(COMPETITION, owner, slug, who, "competition"), who))

    async def put_competition(self, request: Request) -> Response:
        who, owner, slug, body = await self._prepare_put(request)
        body = self._validated(lambda b: validation.check_benchmark(b, competition=True), body)
        body = normalise_benchmark(self, body, who, competition=True)
        existed = self.db.get_artifact(COMPETITION, owner, slug) is not None
        stored = {k: v for k, v in body.items() if k not in COMPUTED_KEYS}
        stored.setdefault("name", slug)
        art = self.db.put_artifact(
            COMPETITION, owner, slug, body.get("access") or "private", stored, created_by=who.user
        )
        out = self.present_competition(art, who)
        return JSONResponse(out, status_code=200 if existed else 201)

    async def evaluate(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=True)
        assert who is not None
        body = self._validated(validation.check_predictions, await read_json(request))
        comp = self.find(COMPETITION, owner, slug, who, "competition")
        hidden = comp.hidden or {}
        labels = hidden.get("labels")
        if not labels:
            raise ApiError(422, f"competition '{owner}/{slug}' has no hidden labels on this Hub; it cannot be scored")
        end = comp.body.get("endTime")
        if isinstance(end, str):
            try:
                if dt.datetime.fromisoformat(end.replace("Z", "+00:00")) < dt.datetime.now(dt.UTC):
                    raise ApiError(422, f"competition '{owner}/{slug}' ended at {end}")
            except ValueError:
                pass
        records = await asyncio.to_thread(self._score, comp, labels, hidden.get("groups"), body["predictions"])
        result_id = uuid.uuid4().hex[:16]
        stored = {
            "name": f"{slug}-{result_id}",
            "results": records,
            "competitionArtifactId": f"{owner}/{slug}",
            "id": result_id,
        }
        art = self.db.put_artifact(COMPETITION_RESULT, who.user, result_id, "private", stored, created_by=who.user)
        return JSONResponse(
            {
                "id": result_id,
                "results": records,
                "competitionArtifactId": f"{owner}/{slug}",
                "mainMetric": comp.body.get("mainMetric"),
                "createdAt": _iso(art.created_at),
            }
        )

    # ---- 0.11+ competitions
    def present_competition_v1(self, art: Artifact) -> dict[str, Any]:
        out = self.present(art)
        out["datasetArtifactId"] = f"{art.owner}/{art.slug}"  # the competition is its own dataset
        out.pop("dataset", None)
        return out

    async def get_competition_v1(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        return JSONResponse(self.present_competition_v1(self.find(COMPETITION_V1, owner, slug, who, "competition")))

    async def create_competition_prediction(self, request: Request) -> Response:
        who = self.identity(request, required=True)
        assert who is not None
        body = self._validated(validation.check_prediction_v1, await read_json(request))
        owner = _body_owner(body) or who.user
        if owner not in who.owners:
            raise ApiError(403, f"you ({who.user}) cannot submit predictions as '{owner}'")
        c_owner, c_slug = _split_artifact_id(body["competitionArtifactId"], "competitionArtifactId")
        comp = self.find(COMPETITION_V1, c_owner, c_slug, who, "competition")
        labels = (comp.hidden or {}).get("labels")
        if not labels:
            raise ApiError(
                422, f"competition '{c_owner}/{c_slug}' has no hidden labels on this Hub; it cannot be scored"
            )
        now = dt.datetime.now(dt.UTC)
        start, end = _when(comp.body.get("startTime")), _when(comp.body.get("endTime"))
        if start is not None and now < start:
            raise ApiError(422, f"competition '{c_owner}/{c_slug}' opens at {comp.body['startTime']}")
        if end is not None and now > end:
            raise ApiError(422, f"competition '{c_owner}/{c_slug}' ended at {comp.body['endTime']}")
        groups = (comp.hidden or {}).get("groups")
        records = await asyncio.to_thread(self._score, comp, labels, groups, body["predictions"])
        prediction_id = uuid.uuid4().hex[:16]
        stored = {k: v for k, v in body.items() if k not in COMPUTED_KEYS and k != "predictions"}
        if "code_url" in stored:
            stored["githubUrl"] = stored.get("githubUrl") or stored.pop("code_url")
        stored.update(results=records, competitionArtifactId=f"{c_owner}/{c_slug}", id=prediction_id)
        stored.setdefault("name", f"{c_slug}-{prediction_id}")
        art = self.db.put_artifact(COMPETITION_PREDICTION, owner, prediction_id, "private", stored, created_by=who.user)
        return JSONResponse(
            {
                "id": prediction_id,
                "name": stored["name"],
                "results": records,
                "competitionArtifactId": f"{c_owner}/{c_slug}",
                "mainMetric": comp.body.get("mainMetric"),
                "createdAt": _iso(art.created_at),
            },
            status_code=201,
        )

    @staticmethod
    def _score(comp: Artifact, labels: dict[str, Any], groups: Any, predictions: Any) -> list[dict[str, Any]]:
        import numpy as np

        from polaris.evaluate import normalize_predictions, score

        targets = comp.body["targetCols"]
        tests = comp.body["split"][1]
        sizes = {k: len(v) for k, v in tests.items()}
        try:
            y_pred = normalize_predictions(predictions, targets, sorted(tests), sizes)
            y_true = {t: {c: np.asarray(v, dtype=float) for c, v in per.items()} for t, per in labels.items()}
            types = comp.body.get("targetTypes") if isinstance(comp.body.get("targetTypes"), dict) else None
            records = score(
                comp.body["metrics"], y_true, y_pred=y_pred, y_prob=y_pred, groups=groups, target_types=types
            )
        except (ValueError, TypeError, NotImplementedError) as exc:
            raise ApiError(422, f"predictions cannot be scored: {exc}") from None
        return _clean_json(records)  # type: ignore[no-any-return]


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def routes(state: HubState) -> list[Route]:
    h = CompetitionRoutes(state)
    old, new = state.legacy, state.modern
    return [
        route_if(old, state, "/api/v2/competition", h.list_competitions, ["GET"]),
        route_if(old, state, "/api/v2/competition/dataset/{owner}/{name}", h.get_competition_dataset, ["GET"]),
        route_if(old, state, "/api/v2/competition/dataset/{owner}/{name}", h.put_competition_dataset, ["PUT"]),
        route_if(old, state, "/api/v2/competition/{owner}/{name}", h.get_competition, ["GET"]),
        route_if(old, state, "/api/v2/competition/{owner}/{name}", h.put_competition, ["PUT"]),
        route_if(old, state, "/api/v2/competition/{owner}/{name}/evaluate", h.evaluate, ["POST"]),
        route_if(new, state, "/api/v1/competition/{owner}/{name}", h.get_competition_v1, ["GET"]),
        route_if(new, state, "/api/v1/competition-prediction", h.create_competition_prediction, ["POST"]),
    ]
