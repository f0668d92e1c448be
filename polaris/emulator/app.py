"""The local Hub's HTTP surface: the REST API under ``/api``, the token endpoint, the identity provider and web pages.

Access rules (as the real Hub): GETs accept anonymous callers and show public artifacts plus, with a Hub token, those
of the caller and their organizations; writes need a token (401) whose user is, or is a member of, the owner (403);
a private artifact of someone else answers 404. Errors of the REST API are ``{"message", "detail"}``; the token
endpoint answers RFC 6749 ``{"error", "error_description"}``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.datastructures import MultiDict
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polaris.emulator import pages, validation
from polaris.emulator.db import Artifact, Database, User
from polaris.emulator.oauth import IdentityProvider, StarletteOAuth2Request
from polaris.emulator.objects import BUCKET, ObjectStore
from polaris.emulator.tokens import HubIdentity, TokenError, TokenSigner
from polaris.types import slugify

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
SESSION_COOKIE = "polaris_emulator_session"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TT_ACCESS = "urn:ietf:params:oauth:token-type:access_token"
TT_JWT = "urn:ietf:params:oauth:token-type:jwt"

DATASET = "dataset"
DATASET_V2 = "dataset_v2"
BENCHMARK = "benchmark"
RESULT = "result"
COMPETITION = "competition"
COMPETITION_DATASET = "competition_dataset"
COMPETITION_RESULT = "competition_result"
URN_TYPE = {
    DATASET: "dataset",
    DATASET_V2: "dataset",
    BENCHMARK: "benchmark",
    RESULT: "result",
    COMPETITION: "competition",
    COMPETITION_DATASET: "competitionDataset",
    COMPETITION_RESULT: "competitionResult",
}
COMPUTED_KEYS = ("slug", "artifactId", "urn", "owner", "access", "table", "zarr_root_path")


class ApiError(Exception):
    def __init__(self, status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def api_error_response(
    status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> Response:
    body: dict[str, Any] = {"message": message}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, headers=headers)


def oauth_error_response(error: str, description: str, status: int = 400) -> Response:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@dataclass
class Fault:
    method: str
    path: str
    status: int
    count: int
    retry_after: int | None = None


@dataclass
class HubState:
    db: Database
    store: ObjectStore
    signer: TokenSigner
    idp: IdentityProvider
    hub_url: str
    token_ttl: int
    enable_faults: bool = False
    openapi: Any = None
    faults: list[Fault] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api_url(self) -> str:
        return self.hub_url + "api"


# --------------------------------------------------------------------------- helpers
def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def _clean_json(value: Any) -> Any:
    """NaN/inf -> None, recursively (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    return value


def _segment(value: str, what: str) -> str:
    slug = slugify(value)
    if not validation._NAME.match(value) or not slug or len(slug) > 64:
        raise ApiError(400, f"invalid {what} {value!r}: use letters, digits, '_' or '-'")
    return slug


def _body_owner(body: dict[str, Any]) -> str | None:
    owner = body.get("owner")
    if isinstance(owner, dict):
        owner = owner.get("slug")
    return owner if isinstance(owner, str) else None


def _split_artifact_id(value: Any, what: str) -> tuple[str, str]:
    if not isinstance(value, str) or value.count("/") != 1:
        raise ApiError(422, f"{what} must be 'owner/name'")
    owner, name = value.split("/")
    if not owner or not name:
        raise ApiError(422, f"{what} must be 'owner/name'")
    return slugify(owner), slugify(name)


async def read_body(request: Request) -> bytes:
    cached = request.scope.get("polaris.body")
    if cached is not None:
        return bytes(cached)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request) -> Any:
    raw = await read_body(request)
    ctype = request.headers.get("content-type", "")
    if "json" not in ctype:
        raise ApiError(415 if raw else 400, "the body must be JSON (Content-Type: application/json)")
    try:
        return json.loads(raw, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not JSON")))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from None


# --------------------------------------------------------------------------- the API
class HubApi:
    def __init__(self, state: HubState) -> None:
        self.state = state
        self.db = state.db

    # ---- identity
    def identity(self, request: Request, *, required: bool) -> HubIdentity | None:
        header = request.headers.get("authorization")
        if not header:
            if required:
                raise ApiError(401, "authentication required: send a Hub token as 'Authorization: Bearer <token>'")
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "the Authorization header must be 'Bearer <Hub token>'")
        try:
            return self.state.signer.hub_identity(token.strip())
        except TokenError as exc:
            raise ApiError(401, f"the Hub token is not valid or has expired ({exc}); log in again") from None

    def _visible(self, art: Artifact | None, who: HubIdentity | None) -> Artifact | None:
        if art is None:
            return None
        if art.access == "public" or (who is not None and art.owner in who.owners):
            return art
        return None

    def find(self, kind: str, owner: str, slug: str, who: HubIdentity | None, what: str) -> Artifact:
        art = self._visible(self.db.get_artifact(kind, owner, slug), who)
        if art is None:
            raise ApiError(404, f"{what} '{owner}/{slug}' not found (or you do not have access to it)")
        return art

    def _check_write(self, who: HubIdentity, owner: str) -> None:
        if owner not in who.owners:
            raise ApiError(
                403,
                f"you ({who.user}) cannot create or change artifacts of '{owner}': "
                "it is neither you nor one of your organizations (log in again if you joined it recently)",
            )

    # ---- presentation
    def owner_object(self, slug: str) -> dict[str, Any]:
        return self.db.owner_info(slug) or {"slug": slug, "externalId": None, "type": None}

    def present(self, art: Artifact) -> dict[str, Any]:
        out = {k: v for k, v in art.body.items() if k not in COMPUTED_KEYS and k != "zarrRootPath"}
        out["name"] = out.get("name") or art.slug
        out["owner"] = self.owner_object(art.owner)
        out["slug"] = art.slug
        out["artifactId"] = f"{art.owner}/{art.slug}"
        out["urn"] = f"urn:polaris:{URN_TYPE[art.kind]}:{art.owner}:{art.slug}"
        out["access"] = art.access
        out["createdAt"] = _iso(art.created_at)
        out["updatedAt"] = _iso(art.updated_at)
        if art.kind == DATASET_V2 and "zarrManifestMd5Sum" not in out:
            out["zarrManifestMd5Sum"] = (out.get("zarrManifestFileContent") or {}).get("md5Sum")
        return _clean_json(out)  # type: ignore[no-any-return]

    def dataset_ref(self, kind: str, artifact_id: str | None, who: HubIdentity | None) -> dict[str, Any]:
        owner, slug = _split_artifact_id(artifact_id or "unknown/unknown", "datasetArtifactId")
        art = self._visible(self.db.get_artifact(kind, owner, slug), who)
        if art is not None:
            return self.present(art)
        return {"owner": self.owner_object(owner), "name": slug, "artifactId": f"{owner}/{slug}"}

    def present_benchmark(self, art: Artifact, who: HubIdentity | None, *, competition: bool = False) -> dict[str, Any]:
        out = self.present(art)
        kind = COMPETITION_DATASET if competition else DATASET
        out["dataset"] = self.dataset_ref(kind, art.body.get("datasetArtifactId"), who)
        return out

    # ---- lists
    def page(self, request: Request) -> tuple[int, int]:
        try:
            limit = int(request.query_params.get("limit", DEFAULT_LIMIT))
            offset = int(request.query_params.get("offset", 0))
        except ValueError:
            raise ApiError(400, "limit and offset must be integers") from None
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise ApiError(400, f"limit must be within 1..{MAX_LIMIT} and offset >= 0")
        return limit, offset

    async def list_kind(self, request: Request, kind: str) -> Response:
        who = self.identity(request, required=False)
        limit, offset = self.page(request)
        owners = who.owners if who else []
        arts, total = self.db.list_artifacts((kind,), owners, limit, offset)
        present = (lambda a: self.present_benchmark(a, who)) if kind == BENCHMARK else self.present
        data = [present(a) for a in arts]
        return JSONResponse({"data": data, "metadata": {"total": total, "limit": limit, "offset": offset}})

    async def list_datasets(self, request: Request) -> Response:
        return await self.list_kind(request, DATASET)

    async def list_benchmarks(self, request: Request) -> Response:
        return await self.list_kind(request, BENCHMARK)

    async def list_competitions(self, request: Request) -> Response:
        return await self.list_kind(request, COMPETITION)

    # ---- datasets
    def _path(self, request: Request) -> tuple[str, str]:
        return _segment(request.path_params["owner"], "owner"), _segment(request.path_params["name"], "name")

    async def get_dataset(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        return JSONResponse(self.present(self.find(DATASET, owner, slug, who, "dataset")))

    async def get_dataset_v2(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        return JSONResponse(self.present(self.find(DATASET_V2, owner, slug, who, "dataset")))

    async def get_competition_dataset(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        out = self.present(self.find(COMPETITION_DATASET, owner, slug, who, "competition dataset"))
        out.setdefault("maskedMd5Sum", out.get("md5Sum"))
        return JSONResponse(out)

    async def _prepare_put(self, request: Request) -> tuple[HubIdentity, str, str, Any]:
        owner, slug = self._path(request)
        who = self.identity(request, required=True)
        assert who is not None
        body = await read_json(request)
        self._check_write(who, owner)
        if isinstance(body, dict):
            body_owner = _body_owner(body)
            if body_owner is not None and slugify(body_owner) != owner:
                raise ApiError(422, f"the body's owner '{body_owner}' differs from the owner '{owner}' in the path")
            name = body.get("name")
            if isinstance(name, str) and validation.is_name(name) is None and slugify(name) != slug:
                raise ApiError(422, f"the body's name '{name}' does not match '{slug}' in the path")
        return who, owner, slug, body

    def _store(self, kind: str, owner: str, slug: str, body: dict[str, Any], who: HubIdentity, **kw: Any) -> Response:
        existed = self.db.get_artifact(kind, owner, slug) is not None
        stored = {k: v for k, v in body.items() if k not in COMPUTED_KEYS}
        stored.setdefault("name", slug)
        art = self.db.put_artifact(
            kind, owner, slug, body.get("access") or "private", stored, created_by=who.user, **kw
        )
        if kind in (BENCHMARK, COMPETITION):
            out = self.present_benchmark(art, who, competition=kind == COMPETITION)
        else:
            out = self.present(art)
        if kind == COMPETITION_DATASET:
            out.setdefault("maskedMd5Sum", out.get("md5Sum"))
        return JSONResponse(out, status_code=200 if existed else 201)

    def _check_dataset_namespace(self, kind: str, owner: str, slug: str) -> None:
        other = DATASET_V2 if kind == DATASET else DATASET
        if self.db.get_artifact(other, owner, slug) is not None:
            version = "V2" if other == DATASET_V2 else "V1"
            raise ApiError(409, f"'{owner}/{slug}' already exists as a {version} dataset; choose another name")

    async def put_dataset(self, request: Request) -> Response:
        who, owner, slug, body = await self._prepare_put(request)
        body = self._validated(validation.check_dataset_v1, body)
        self._check_dataset_namespace(DATASET, owner, slug)
        return self._store(DATASET, owner, slug, body, who)

    async def put_dataset_v2(self, request: Request) -> Response:
        who, owner, slug, body = await self._prepare_put(request)
        body = self._validated(validation.check_dataset_v2, body)
        body.setdefault("zarrManifestMd5Sum", body["zarrManifestFileContent"]["md5Sum"])
        self._check_dataset_namespace(DATASET_V2, owner, slug)
        return self._store(DATASET_V2, owner, slug, body, who)

    async def put_competition_dataset(self, request: Request) -> Response:
        who, owner, slug, body = await self._prepare_put(request)
        body = self._validated(lambda b: validation.check_dataset_v1(b, competition=True), body)
        if any(bool((a or {}).get("isPointer")) for a in (body.get("annotations") or {}).values()):
            raise ApiError(422, "competition datasets cannot have pointer columns (Zarr)")
        body.setdefault("maskedMd5Sum", body["md5Sum"])
        return self._store(COMPETITION_DATASET, owner, slug, body, who)

    @staticmethod
    def _validated(check: Any, body: Any) -> dict[str, Any]:
        try:
            return check(body)  # type: ignore[no-any-return]
        except validation.BodyError as exc:
            raise ApiError(exc.status, str(exc), detail=exc.problems) from None

    # ---- benchmarks and competitions
    def _normalise_benchmark(self, body: dict[str, Any], who: HubIdentity, *, competition: bool) -> dict[str, Any]:
        from polaris.evaluate import Metric

        dataset_id = body.get("datasetArtifactId")
        if not dataset_id and isinstance(body.get("dataset"), dict):
            ds = body["dataset"]
            ds_owner = _body_owner(ds) or ""
            dataset_id = f"{ds_owner}/{ds.get('slug') or ds.get('name') or ''}"
        d_owner, d_slug = _split_artifact_id(dataset_id, "datasetArtifactId")
        kind = COMPETITION_DATASET if competition else DATASET
        dataset = self._visible(self.db.get_artifact(kind, d_owner, d_slug), who)
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

    async def get_benchmark(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        return JSONResponse(self.present_benchmark(self.find(BENCHMARK, owner, slug, who, "benchmark"), who))

    async def put_benchmark(self, request: Request) -> Response:
        who, owner, slug, body = await self._prepare_put(request)
        body = self._validated(validation.check_benchmark, body)
        body = self._normalise_benchmark(body, who, competition=False)
        return self._store(BENCHMARK, owner, slug, body, who)

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
        body = self._normalise_benchmark(body, who, competition=True)
        existed = self.db.get_artifact(COMPETITION, owner, slug) is not None
        stored = {k: v for k, v in body.items() if k not in COMPUTED_KEYS}
        stored.setdefault("name", slug)
        art = self.db.put_artifact(
            COMPETITION, owner, slug, body.get("access") or "private", stored, created_by=who.user
        )
        out = self.present_competition(art, who)
        return JSONResponse(out, status_code=200 if existed else 201)

    # ---- results
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
        bench = self.find(BENCHMARK, b_owner, b_slug, who, "benchmark")
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
        stored.update(results=records, benchmarkArtifactId=f"{b_owner}/{b_slug}", id=result_id)
        art = self.db.put_artifact(
            RESULT, owner, result_id, body.get("access") or "private", stored, created_by=who.user
        )
        out = self.present(art)
        out["slug"] = slugify(str(body["name"]))
        location = f"/benchmarks/{b_owner}/{b_slug}/results/{result_id}"
        return JSONResponse(out, status_code=201, headers={"Content-Location": location})

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
            records = score(comp.body["metrics"], y_true, y_pred=y_pred, y_prob=y_pred, groups=groups)
        except (ValueError, TypeError, NotImplementedError) as exc:
            raise ApiError(422, f"predictions cannot be scored: {exc}") from None
        return _clean_json(records)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- token endpoint
class TokenEndpoint:
    def __init__(self, state: HubState) -> None:
        self.state = state

    async def endpoint(self, request: Request) -> Response:
        try:
            form = await self._form(request)
            return JSONResponse(self.handle(form), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
        except OAuthError as exc:
            return oauth_error_response(exc.error, exc.description, exc.status)

    @staticmethod
    async def _form(request: Request) -> dict[str, str]:
        if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
        try:
            raw = await read_body(request)
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except ApiError as exc:
            raise OAuthError("invalid_request", exc.message) from None
        except (UnicodeDecodeError, ValueError):
            raise OAuthError("invalid_request", "the form body is not valid UTF-8 form encoding") from None
        form: dict[str, str] = {}
        for key, value in pairs:
            if key in form:
                raise OAuthError("invalid_request", f"parameter '{key}' given more than once")
            form[key] = value
        return form

    def handle(self, form: dict[str, str]) -> dict[str, Any]:
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request", "missing 'grant_type'")
        if grant == "password":
            user = self._password(form)
            return self._hub_token(user)
        if grant != TOKEN_EXCHANGE:
            raise OAuthError("unsupported_grant_type", f"grant_type '{grant}' is not supported here")
        requested = form.get("requested_token_type")
        if requested and requested != TT_JWT:
            raise OAuthError("invalid_request", f"requested_token_type must be '{TT_JWT}'")
        subject = form.get("subject_token")
        subject_type = form.get("subject_token_type")
        if not subject or not subject_type:
            raise OAuthError("invalid_request", "missing 'subject_token' or 'subject_token_type'")
        if subject_type == TT_ACCESS:
            row = self.state.db.idp_token_by_access(subject)
            idp_user = None if row is None else self.state.db.get_user(row["user"])
            if idp_user is None:
                raise OAuthError("invalid_grant", "the subject token is not a valid, unexpired identity-provider token")
            return self._hub_token(idp_user)
        if subject_type == TT_JWT:
            return self._storage_token(subject, form)
        raise OAuthError("invalid_request", f"unsupported subject_token_type '{subject_type}'")

    def _password(self, form: dict[str, str]) -> User:
        username, password = form.get("username"), form.get("password")
        if not username or not password:
            raise OAuthError("invalid_request", "the password grant needs 'username' and 'password'")
        user = self.state.db.authenticate(username, password)
        if user is None:
            raise OAuthError("invalid_grant", "wrong username or password")
        return user

    def _hub_token(self, user: User) -> dict[str, Any]:
        orgs = self.state.db.user_orgs(user.slug)
        return {
            "access_token": self.state.signer.issue_hub_token(user.slug, orgs),
            "token_type": "Bearer",
            "issued_token_type": TT_JWT,
            "expires_in": self.state.token_ttl,
        }

    def _storage_token(self, subject: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            who = self.state.signer.hub_identity(subject)
        except TokenError as exc:
            raise OAuthError("invalid_grant", f"the subject token is not a valid Hub token ({exc})") from None
        resource, scope = form.get("resource"), form.get("scope")
        if not resource:
            raise OAuthError("invalid_request", "a storage token needs 'resource' (an artifact URN)")
        if scope not in ("read", "write"):
            raise OAuthError("invalid_scope", "scope must be 'read' or 'write'")
        parts = resource.split(":")
        if len(parts) != 5 or parts[:2] != ["urn", "polaris"]:
            raise OAuthError("invalid_target", "resource must be urn:polaris:<type>:<owner>:<slug>")
        urn_type, owner, slug = parts[2], slugify(parts[3]), slugify(parts[4])
        kinds = {
            "dataset": (DATASET, DATASET_V2, COMPETITION_DATASET),
            "competitionDataset": (COMPETITION_DATASET,),
            "competition_dataset": (COMPETITION_DATASET,),
        }.get(urn_type)
        if kinds is None:
            raise OAuthError("invalid_target", f"artifacts of type '{urn_type}' have no stored objects")
        art = None
        for kind in kinds:
            candidate = self.state.db.get_artifact(kind, owner, slug)
            if candidate is not None and (candidate.access == "public" or owner in who.owners):
                art = candidate
                break
        if art is None:
            raise OAuthError("invalid_target", f"no artifact {resource} that you can access")
        if scope == "write" and art.owner not in who.owners:
            raise OAuthError("access_denied", f"you may read but not write {resource}", status=403)
        paths = storage_paths(art)
        prefix = storage_prefix(art)
        token = self.state.signer.issue_storage_token(who.user, resource, scope, [prefix])
        return {
            "access_token": token,
            "token_type": "Storage",
            "issued_token_type": TT_JWT,
            "expires_in": self.state.token_ttl,
            "extra_data": {
                "key": f"polaris-{who.user}",
                "secret": secrets.token_urlsafe(24),
                "endpoint": self.state.store.public_endpoint,
                "paths": paths,
            },
        }


def storage_prefix(art: Artifact) -> str:
    top = "competition-dataset" if art.kind == COMPETITION_DATASET else "dataset"
    return f"{top}/{art.owner}/{art.slug}"


def storage_paths(art: Artifact) -> dict[str, str]:
    base = f"polarisfs://{BUCKET}/{storage_prefix(art)}"
    if art.kind == DATASET_V2:
        return {"root": f"{base}/data.zarr", "manifest": f"{base}/zarr_manifest.parquet"}
    paths = {"root": f"{base}/table.parquet"}
    annotations = art.body.get("annotations") or {}
    if any(isinstance(a, dict) and a.get("isPointer") for a in annotations.values()):
        paths["extension"] = f"{base}/data.zarr"
    return paths


# --------------------------------------------------------------------------- identity provider pages
AUTHORIZE_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                    "code_challenge_method")  # fmt: skip


class IdpPages:
    def __init__(self, state: HubState) -> None:
        self.state = state
        self.idp = state.idp
        self._csrf_key = state.db.secret("csrf")

    def _oauth_request(self, request: Request, values: MultiDict) -> StarletteOAuth2Request:
        headers = {k: v for k, v in request.headers.items()}
        return StarletteOAuth2Request(request.method, str(request.url), headers, values)

    def _session_user(self, request: Request) -> User | None:
        sid = request.cookies.get(SESSION_COOKIE)
        slug = self.state.sessions.get(sid or "")
        return None if slug is None else self.state.db.get_user(slug)

    def _error_page(self, error: Any) -> Response:
        description = getattr(error, "description", "") or str(error)
        return HTMLResponse(
            pages.render(
                "error.html",
                title="Authorization failed",
                error=getattr(error, "error", "error"),
                description=description,
            ),
            status_code=400,
        )

    async def authorize(self, request: Request) -> Response:
        from authlib.oauth2 import OAuth2Error

        if request.method == "POST":
            return await self._decide(request)
        values = MultiDict(request.query_params.multi_items())
        try:
            self.idp.get_consent_grant(self._oauth_request(request, values))
        except OAuth2Error as error:
            return self._error_page(error)
        user = self._session_user(request)
        query = urlencode(list(values.multi_items()))
        if user is None:
            return HTMLResponse(pages.render("login.html", title="Sign in", next=query, message=""))
        csrf = self._csrf(request)
        hidden = "".join(
            f'<input type="hidden" name="{pages.esc(k)}" value="{pages.esc(v)}">' for k, v in values.multi_items()
        )
        return HTMLResponse(
            pages.render(
                "consent.html",
                title="Authorize",
                user=user.slug,
                client=values.get("client_id", ""),
                scope=values.get("scope") or "profile email",
                csrf=csrf,
                hidden_fields=hidden,
                raw=("hidden_fields",),
            )
        )

    def _csrf(self, request: Request) -> str:
        """A form token bound to the session (HMAC of the session id)."""
        sid = request.cookies.get(SESSION_COOKIE, "")
        return hmac.new(self._csrf_key, sid.encode(), hashlib.sha256).hexdigest()

    async def login(self, request: Request) -> Response:
        form = await request.form()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        nxt = str(form.get("next", ""))
        user = self.state.db.authenticate(username, password)
        if user is None:
            return HTMLResponse(
                pages.render("login.html", title="Sign in", next=nxt, message="Wrong username or password."),
                status_code=401,
            )
        sid = secrets.token_urlsafe(24)
        self.state.sessions[sid] = user.slug
        response = RedirectResponse(f"/oauth/authorize?{nxt}", status_code=303)
        response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax", path="/")
        return response

    async def _decide(self, request: Request) -> Response:
        from authlib.oauth2 import OAuth2Error

        form = await request.form()
        user = self._session_user(request)
        if user is None:
            return HTMLResponse(
                pages.render("error.html", title="Not signed in", error="login_required", description="Sign in first."),
                status_code=401,
            )
        if not secrets.compare_digest(str(form.get("csrf", "")), self._csrf(request)):
            return HTMLResponse(
                pages.render(
                    "error.html", title="Forbidden", error="csrf", description="The form expired; start again."
                ),
                status_code=403,
            )
        values = MultiDict([(k, str(v)) for k, v in form.multi_items() if k in AUTHORIZE_PARAMS])
        oreq = self._oauth_request(request, values)
        try:
            grant = self.idp.get_consent_grant(oreq)
        except OAuth2Error as error:
            return self._error_page(error)
        grant_user = user if form.get("decision") == "allow" else None
        status, body, headers = self.idp.create_authorization_response(oreq, grant_user=grant_user, grant=grant)
        if status in (301, 302, 303):
            location = dict(headers)["Location"]
            return RedirectResponse(location, status_code=302)
        return JSONResponse(body, status_code=status, headers=dict(headers))

    async def token(self, request: Request) -> Response:
        if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return oauth_error_response("invalid_request", "the body must be application/x-www-form-urlencoded")
        try:
            raw = await read_body(request)
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
        except (ApiError, UnicodeDecodeError, ValueError):
            return oauth_error_response("invalid_request", "the body is not a valid form")
        oreq = self._oauth_request(request, MultiDict(pairs))
        status, body, headers = self.idp.create_token_response(oreq)
        return JSONResponse(body, status_code=status, headers=dict(headers))

    async def userinfo(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        info = self.idp.userinfo(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if info is None:
            return JSONResponse(
                {"error": "invalid_token", "error_description": "missing, unknown or expired access token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return JSONResponse(info)

    async def callback(self, request: Request) -> Response:
        code = request.query_params.get("code", "")
        error = request.query_params.get("error", "")
        return HTMLResponse(
            pages.render(
                "callback.html",
                title="Polaris login",
                code=code,
                state=request.query_params.get("state", ""),
                error=error,
            ),
            status_code=200 if code else 400,
        )


# --------------------------------------------------------------------------- artifact web pages
class WebPages:
    def __init__(self, state: HubState, api: HubApi, idp_pages: IdpPages) -> None:
        self.state = state
        self.api = api
        self.idp_pages = idp_pages

    def _viewer(self, request: Request) -> HubIdentity | None:
        user = self.idp_pages._session_user(request)
        return None if user is None else HubIdentity(user.slug, tuple(self.state.db.user_orgs(user.slug)))

    def _page(self, request: Request, kinds: tuple[str, ...], owner: str, name: str, extra: str = "") -> Response:
        who = self._viewer(request)
        slug = slugify(owner), slugify(name)
        for kind in kinds:
            art = self.api._visible(self.state.db.get_artifact(kind, *slug), who)
            if art is not None:
                data = self.api.present(art)
                return HTMLResponse(
                    pages.render(
                        "artifact.html",
                        title=f"{owner}/{name}",
                        kind=kind.replace("_", " "),
                        artifact=f"{art.owner}/{art.slug}",
                        description=str(data.get("description", "")),
                        access=art.access,
                        extra=extra,
                        body=json.dumps(data, indent=2, sort_keys=True),
                    )
                )
        return HTMLResponse(
            pages.render(
                "error.html",
                title="Not found",
                error="not_found",
                description=f"No artifact {owner}/{name} you can see.",
            ),
            status_code=404,
        )

    async def dataset(self, request: Request) -> Response:
        p = request.path_params
        return self._page(request, (DATASET, DATASET_V2), p["owner"], p["name"])

    async def benchmark(self, request: Request) -> Response:
        p = request.path_params
        return self._page(request, (BENCHMARK,), p["owner"], p["name"])

    async def competition(self, request: Request) -> Response:
        p = request.path_params
        return self._page(request, (COMPETITION,), p["owner"], p["name"])

    async def competition_dataset(self, request: Request) -> Response:
        p = request.path_params
        return self._page(request, (COMPETITION_DATASET,), p["owner"], p["name"])

    async def result(self, request: Request) -> Response:
        p = request.path_params
        who = self._viewer(request)
        for owner in self.state.db.list_users():
            art = self.api._visible(self.state.db.get_artifact(RESULT, owner, p["id"]), who)
            if art is not None:
                data = self.api.present(art)
                return HTMLResponse(
                    pages.render(
                        "artifact.html",
                        title=f"Results {p['id']}",
                        kind="result",
                        artifact=f"{art.owner}/{data.get('name')}",
                        access=art.access,
                        description=str(data.get("description", "")),
                        extra="",
                        body=json.dumps(data, indent=2, sort_keys=True),
                    )
                )
        return HTMLResponse(
            pages.render(
                "error.html", title="Not found", error="not_found", description="No such results you can see."
            ),
            status_code=404,
        )

    async def competition_result(self, request: Request) -> Response:
        p = request.path_params
        who = self._viewer(request)
        for owner in self.state.db.list_users():
            art = self.state.db.get_artifact(COMPETITION_RESULT, owner, p["id"])
            if art is not None and (who is not None and art.owner == who.user):
                data = self.api.present(art)
                return HTMLResponse(
                    pages.render(
                        "artifact.html",
                        title=f"Evaluation {p['id']}",
                        kind="evaluation",
                        artifact=f"{p['owner']}/{p['name']}",
                        access=art.access,
                        description="",
                        extra="",
                        body=json.dumps(data, indent=2, sort_keys=True),
                    )
                )
        return HTMLResponse(
            pages.render(
                "error.html",
                title="Not found",
                error="not_found",
                description="Sign in as the participant to see this evaluation.",
            ),
            status_code=404,
        )

    async def home(self, request: Request) -> Response:
        who = self._viewer(request)
        owners = who.owners if who else []
        rows = []
        for kind, prefix in (
            (DATASET, "datasets"),
            (DATASET_V2, "datasets"),
            (BENCHMARK, "benchmarks"),
            (COMPETITION, "competitions"),
        ):
            arts, _ = self.state.db.list_artifacts((kind,), owners, MAX_LIMIT, 0)
            for a in arts:
                ref = f"{pages.esc(a.owner)}/{pages.esc(a.slug)}"
                rows.append(
                    f'<li>{pages.esc(kind.replace("_", " "))}: <a href="/{prefix}/{ref}">{ref}</a> ({a.access})</li>'
                )
        return HTMLResponse(
            pages.render(
                "home.html",
                title="Polaris Hub emulator",
                items="".join(rows),
                user=who.user if who else "not signed in",
                raw=("items",),
            )
        )


# --------------------------------------------------------------------------- middleware
class GuardMiddleware:
    """Faults (tests), body size limit and OpenAPI request validation for ``/api``; JSON errors, never a 500 page."""

    def __init__(self, app: ASGIApp, state: HubState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        fault = self._take_fault(method, path)
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
            await api_error_response(fault.status, "injected fault (emulator test mode)", headers=headers)(
                scope, receive, send
            )
            return
        token_path = path == "/api/auth/token"
        try:
            body = await self._read_body(scope, receive)
        except ApiError as exc:
            response = (
                oauth_error_response("invalid_request", exc.message, exc.status)
                if token_path
                else api_error_response(exc.status, exc.message)
            )
            await response(scope, receive, send)
            return
        scope["polaris.body"] = body
        if path.startswith("/api/") or path == "/api":
            problem = self._validate(scope, body)
            if problem is not None:
                status, message, detail = problem
                response = (
                    oauth_error_response("invalid_request", message, 400)
                    if token_path
                    else api_error_response(status, message, detail)
                )
                await response(scope, receive, send)
                return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        if not self.state.enable_faults or path.startswith("/__emulator__"):
            return None
        with self.state.lock:
            for fault in self.state.faults:
                if fault.count > 0 and fault.method in (method, "*") and path.startswith(fault.path):
                    fault.count -= 1
                    if fault.count == 0:
                        self.state.faults.remove(fault)
                    return fault
        return None

    @staticmethod
    async def _read_body(scope: Scope, receive: Receive) -> bytes:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    if int(value) > MAX_BODY_BYTES:
                        raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
                except ValueError:
                    raise ApiError(400, "invalid Content-Length") from None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _validate(self, scope: Scope, body: bytes) -> tuple[int, str, Any] | None:
        openapi = self.state.openapi
        if openapi is None:
            return None
        from openapi_core.contrib.starlette import StarletteOpenAPIRequest
        from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound, ServerNotFound
        from openapi_core.validation.request.exceptions import SecurityValidationError

        request = Request(scope)
        try:
            openapi.validate_request(StarletteOpenAPIRequest(request, body))
        except (PathNotFound, ServerNotFound):
            return 404, f"no API endpoint at {scope['path']}", None
        except OperationNotFound:
            return 405, f"{scope['method']} is not allowed on {scope['path']}", None
        except SecurityValidationError:
            return None  # the handler answers 401 with its own message
        except Exception as exc:  # openapi-core's validation errors carry the details as causes
            details = _openapi_details(exc)
            return 400, f"the request does not match the API: {details[0] if details else exc}", details
        return None


def _openapi_details(exc: BaseException) -> list[str]:
    details: list[str] = []
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack and len(details) < 20:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        schema_errors = getattr(current, "schema_errors", None)
        if schema_errors:
            for err in schema_errors:
                location = "/".join(str(p) for p in getattr(err, "absolute_path", []))
                details.append(f"{location or '(body)'}: {getattr(err, 'message', err)}")
        elif current is not exc or current.__cause__ is None:
            details.append(str(current))
        if current.__cause__ is not None:
            stack.append(current.__cause__)
    return [d for d in details if d]


def install_exception_handlers(app: Starlette, state: HubState) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if request.url.path == "/api/auth/token":
            return oauth_error_response("invalid_request", exc.message, 400)
        return api_error_response(exc.status, exc.message, exc.detail, exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        return api_error_response(status, str(getattr(exc, "detail", "")) or "error")

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return api_error_response(500, "internal error in the emulator (this is a bug)")

    from starlette.exceptions import HTTPException

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, server_error)


# --------------------------------------------------------------------------- test-control endpoints
class Control:
    def __init__(self, state: HubState) -> None:
        self.state = state

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def faults(self, request: Request) -> Response:
        if not self.state.enable_faults:
            return api_error_response(404, "faults are disabled (start with --enable-faults)")
        if request.method == "DELETE":
            with self.state.lock:
                self.state.faults.clear()
            return JSONResponse({"faults": []})
        body = await read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "expected {method, path, status, count, retry_after}")
        try:
            fault = Fault(
                method=str(body.get("method", "*")).upper(),
                path=str(body["path"]),
                status=int(body.get("status", 503)),
                count=int(body.get("count", 1)),
                retry_after=None if body.get("retry_after") is None else int(body["retry_after"]),
            )
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, "expected {method, path, status, count, retry_after}") from None
        if not 400 <= fault.status <= 599 or fault.count < 1:
            raise ApiError(400, "status must be 4xx/5xx and count >= 1")
        with self.state.lock:
            self.state.faults.append(fault)
        return JSONResponse({"faults": [f.__dict__ for f in self.state.faults]}, status_code=201)


# --------------------------------------------------------------------------- assembly
def load_openapi(spec_path: Any, api_url: str) -> Any:
    """openapi-core object for the spec, with the server set to this emulator's ``/api``."""
    import yaml
    from openapi_core import OpenAPI

    spec = yaml.safe_load(spec_path.read_text())
    spec["servers"] = [{"url": api_url}]
    for item in spec.get("paths", {}).values():
        item.pop("servers", None)
    return OpenAPI.from_dict(spec)


def create_app(state: HubState) -> Starlette:
    api = HubApi(state)
    token = TokenEndpoint(state)
    idp = IdpPages(state)
    web = WebPages(state, api, idp)
    control = Control(state)
    routes = [
        Route("/api/v1/dataset", api.list_datasets, methods=["GET"]),
        Route("/api/v1/dataset/{owner}/{name}", api.get_dataset, methods=["GET"]),
        Route("/api/v1/dataset/{owner}/{name}", api.put_dataset, methods=["PUT"]),
        Route("/api/v2/dataset/{owner}/{name}", api.get_dataset_v2, methods=["GET"]),
        Route("/api/v2/dataset/{owner}/{name}", api.put_dataset_v2, methods=["PUT"]),
        Route("/api/v1/benchmark", api.list_benchmarks, methods=["GET"]),
        Route("/api/v1/benchmark/{owner}/{name}", api.get_benchmark, methods=["GET"]),
        Route("/api/v1/benchmark/{owner}/{name}", api.put_benchmark, methods=["PUT"]),
        Route("/api/v2/result", api.post_result, methods=["POST"]),
        Route("/api/v2/competition", api.list_competitions, methods=["GET"]),
        Route("/api/v2/competition/dataset/{owner}/{name}", api.get_competition_dataset, methods=["GET"]),
        Route("/api/v2/competition/dataset/{owner}/{name}", api.put_competition_dataset, methods=["PUT"]),
        Route("/api/v2/competition/{owner}/{name}", api.get_competition, methods=["GET"]),
        Route("/api/v2/competition/{owner}/{name}", api.put_competition, methods=["PUT"]),
        Route("/api/v2/competition/{owner}/{name}/evaluate", api.evaluate, methods=["POST"]),
        Route("/api/auth/token", token.endpoint, methods=["POST"]),
        Route("/oauth/authorize", idp.authorize, methods=["GET", "POST"]),
        Route("/oauth/login", idp.login, methods=["POST"]),
        Route("/oauth/token", idp.token, methods=["POST"]),
        Route("/oauth/userinfo", idp.userinfo, methods=["GET"]),
        Route("/oauth2/callback", idp.callback, methods=["GET"]),
        Route("/", web.home, methods=["GET"]),
        Route("/datasets/{owner}/{name}", web.dataset, methods=["GET"]),
        Route("/benchmarks/{owner}/{name}", web.benchmark, methods=["GET"]),
        Route("/v1/benchmark/{owner}/{name}", web.benchmark, methods=["GET"]),
        Route("/benchmarks/{owner}/{name}/results/{id}", web.result, methods=["GET"]),
        Route("/competitions/{owner}/{name}", web.competition, methods=["GET"]),
        Route("/competition/datasets/{owner}/{name}", web.competition_dataset, methods=["GET"]),
        Route("/v2/competition/{owner}/{name}/{id}", web.competition_result, methods=["GET"]),
        Route("/__emulator__/health", control.health, methods=["GET"]),
        Route("/__emulator__/faults", control.faults, methods=["POST", "DELETE"]),
        Route("/favicon.ico", lambda request: PlainTextResponse("", status_code=404), methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    install_exception_handlers(app, state)
    app.add_middleware(GuardMiddleware, state=state)
    app.state.hub = state
    return app
