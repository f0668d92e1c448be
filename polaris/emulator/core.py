"""Shared by every route module: the Hub state, artifact kinds, API errors, request reading, access, presentation.

Access rules (as the real Hub): GETs accept anonymous callers and show public artifacts plus, with a Hub token, those
of the caller and their organizations; writes need a token (401) whose user is, or is a member of, the owner (403);
a private artifact of someone else answers 404. Errors of the REST API are ``{"message", "detail"}``; the token
endpoint answers RFC 6749 ``{"error", "error_description"}``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polaris.emulator import validation
from polaris.emulator.db import Artifact, Database
from polaris.emulator.oauth import IdentityProvider
from polaris.emulator.objects import BUCKET, ObjectStore
from polaris.emulator.tokens import HubIdentity, TokenError, TokenSigner
from polaris.types import slugify

MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
LIST_SCAN_LIMIT = 1_000_000  # lists that filter out incomplete uploads read every visible row first

DATASET = "dataset"
DATASET_V2 = "dataset_v2"
BENCHMARK = "benchmark"
RESULT = "result"
COMPETITION = "competition"
COMPETITION_DATASET = "competition_dataset"
COMPETITION_RESULT = "competition_result"
# 0.11+ kinds
BENCHMARK_V2 = "benchmark_v2"  # GET/PUT /v2/benchmark: a V2 dataset + two Roaring-bitmap index sets in storage
COMPETITION_V1 = "competition_v1"  # GET /v1/competition: a Zarr-backed dataset with task fields and hidden labels
MODEL = "model"  # /v2/model: metadata only
COMPETITION_PREDICTION = "competition_prediction"  # POST /v1/competition-prediction, scored
URN_TYPE = {
    DATASET: "dataset",
    DATASET_V2: "dataset",
    BENCHMARK: "benchmark",
    RESULT: "result",
    COMPETITION: "competition",
    COMPETITION_DATASET: "competitionDataset",
    COMPETITION_RESULT: "competitionResult",
    BENCHMARK_V2: "benchmark",
    COMPETITION_V1: "competition",
    MODEL: "model",
    COMPETITION_PREDICTION: "competition-prediction",
}
# kinds that carry 0.12 versions (artifactVersion, parentArtifactId; a new version gets a new slug)
VERSIONED_KINDS = (DATASET, DATASET_V2, BENCHMARK, BENCHMARK_V2, MODEL)
# web pages (``Content-Location`` of upload answers, relative to hub_url)
WEB_PREFIX = {
    DATASET: "datasets",
    DATASET_V2: "datasets",
    BENCHMARK: "benchmarks",
    BENCHMARK_V2: "benchmarks",
    MODEL: "models",
    COMPETITION: "competitions",
    COMPETITION_V1: "competitions",
    COMPETITION_DATASET: "competition/datasets",
}
PROTOCOLS = ("0.10", "0.13", "all")
PUBLIC_STORAGE_PATH = "storage/public"
_VERSION_SUFFIX = re.compile(r"-v[0-9]+$")
_SHARED_NAMESPACE = {DATASET: DATASET_V2, DATASET_V2: DATASET, BENCHMARK: BENCHMARK_V2, BENCHMARK_V2: BENCHMARK}
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
    protocol: str = "all"
    """Which endpoint generations are served: ``0.10`` (only what polaris-lib 0.10 calls), ``0.13`` (only what
    0.11-0.13 call: no ``/v2/competition*``), or ``all``."""
    published: set[tuple[str, str, str, float]] = field(default_factory=set)
    """Artifacts whose stored objects were found complete, keyed by (kind, owner, slug, updated_at)."""
    faults: list[Fault] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api_url(self) -> str:
        return self.hub_url + "api"

    @property
    def legacy(self) -> bool:
        """The endpoints only polaris-lib 0.10 calls (``/v2/competition*``) are served."""
        return self.protocol in ("0.10", "all")

    @property
    def modern(self) -> bool:
        """The endpoints and answer fields polaris-lib 0.11-0.13 added are served."""
        return self.protocol in ("0.13", "all")

    def public_url(self, key: str) -> str:
        """Anonymous http(s) URL of a stored object (served by :mod:`polaris.emulator.routes.storage`)."""
        return f"{self.hub_url}{PUBLIC_STORAGE_PATH}/{key}"


def route_if(enabled: bool, state: HubState, path: str, endpoint: Any, methods: list[str]) -> Route:
    """The route, or (its protocol generation switched off with ``--protocol``) a 404 like an older/newer Hub's."""
    if enabled:
        return Route(path, endpoint, methods=methods)

    async def not_served(request: Request) -> Response:
        raise ApiError(
            404, f"no API endpoint at {request.url.path} (this local Hub serves the {state.protocol} protocol only)"
        )

    return Route(path, not_served, methods=methods)


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


# --------------------------------------------------------------------------- access and presentation
class HubCore:
    """Identity, access checks, presentation and the shared parts of PUT handling; route classes derive from it."""

    def __init__(self, state: HubState) -> None:
        self.state = state
        self.db = state.db

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
        if art.kind in (DATASET_V2, COMPETITION_V1) and "zarrManifestMd5Sum" not in out:
            out["zarrManifestMd5Sum"] = (out.get("zarrManifestFileContent") or {}).get("md5Sum")
        if art.kind in VERSIONED_KINDS:
            out["artifactVersion"] = int(out.get("artifactVersion") or 1)
            out.setdefault("parentArtifactId", None)
        if self.state.modern and art.access == "public":
            keys = storage_keys(art)
            for name in ("root", "extension"):
                if name in keys and art.kind in (DATASET, DATASET_V2, COMPETITION_V1):
                    out[name] = self.state.public_url(keys[name])
        return _clean_json(out)  # type: ignore[no-any-return]

    def dataset_ref(self, kind: str, artifact_id: str | None, who: HubIdentity | None) -> dict[str, Any]:
        owner, slug = _split_artifact_id(artifact_id or "unknown/unknown", "datasetArtifactId")
        art = self._visible(self.db.get_artifact(kind, owner, slug), who)
        if art is not None:
            return self.present(art)
        return {"owner": self.owner_object(owner), "name": slug, "artifactId": f"{owner}/{slug}"}

    def present_benchmark(self, art: Artifact, who: HubIdentity | None, *, competition: bool = False) -> dict[str, Any]:
        if art.kind == BENCHMARK_V2:
            return self.present_benchmark_v2(art, who)
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

    async def published(self, art: Artifact) -> Artifact:
        """The artifact, if its upload is complete; else 409 ``Upload incomplete`` (see :mod:`.publish`)."""
        from polaris.emulator import publish

        ok, result = await asyncio.to_thread(publish.is_published, self.state, art)
        if not ok and result is not None:
            raise ApiError(409, result.message(), detail=result.detail())
        return art

    async def list_kind(self, request: Request, kind: str, *more_kinds: str) -> Response:
        from polaris.emulator import publish

        who = self.identity(request, required=False)
        limit, offset = self.page(request)
        owners = who.owners if who else []
        kinds = (kind, *more_kinds)
        if kind in publish.CHECKED_KINDS:  # incomplete uploads are not listed: filter, then page
            every, _ = self.db.list_artifacts(kinds, owners, LIST_SCAN_LIMIT, 0)
            flags = await asyncio.to_thread(lambda: [publish.is_published(self.state, a)[0] for a in every])
            complete = [a for a, ok in zip(every, flags, strict=True) if ok]
            arts, total = complete[offset : offset + limit], len(complete)
        else:
            arts, total = self.db.list_artifacts(kinds, owners, limit, offset)
        present = (lambda a: self.present_benchmark(a, who)) if kind in (BENCHMARK, BENCHMARK_V2) else self.present
        data = [present(a) for a in arts]
        return JSONResponse({"data": data, "metadata": {"total": total, "limit": limit, "offset": offset}})

    def _path(self, request: Request) -> tuple[str, str]:
        return _segment(request.path_params["owner"], "owner"), _segment(request.path_params["name"], "name")

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

    def _store(
        self,
        kind: str,
        owner: str,
        slug: str,
        body: dict[str, Any],
        who: HubIdentity,
        *,
        default_access: str = "private",
        **kw: Any,
    ) -> Response:
        if kind in VERSIONED_KINDS:
            slug, body = self._version(kind, owner, slug, body, who)
        if kind in _SHARED_NAMESPACE:
            self._check_dataset_namespace(kind, owner, slug)
        previous = self.db.get_artifact(kind, owner, slug)
        existed = previous is not None
        # Without `access` (0.13 sends none): a replacement keeps its access, a new version its parent's, and a new
        # artifact gets `default_access` -- nothing private is ever made public by omission.
        access = body.get("access") or (previous.access if previous else None) or body.pop("_parentAccess", None)
        body.pop("_parentAccess", None)
        stored = {k: v for k, v in body.items() if k not in COMPUTED_KEYS}
        stored.setdefault("name", slug)
        if previous is not None and self.state.store.durable:
            kw["keep_previous"] = not self._complete_now(previous)
        art = self.db.put_artifact(kind, owner, slug, access or default_access, stored, created_by=who.user, **kw)
        headers = {"Content-Location": f"/{WEB_PREFIX[kind]}/{owner}/{slug}"} if kind in WEB_PREFIX else None
        if kind == BENCHMARK_V2:
            return JSONResponse(
                self.present_benchmark_v2(art, who), status_code=200 if existed else 201, headers=headers
            )
        if kind in (BENCHMARK, COMPETITION):
            out = self.present_benchmark(art, who, competition=kind == COMPETITION)
        else:
            out = self.present(art)
        if kind == COMPETITION_DATASET:
            out.setdefault("maskedMd5Sum", out.get("md5Sum"))
        return JSONResponse(out, status_code=200 if existed else 201, headers=headers)

    def _complete_now(self, art: Artifact) -> bool:
        """Is the row a replacement overwrites a complete version (one the start-up repair may roll back to)?"""
        from polaris.emulator import publish

        return publish.is_published(self.state, art)[0]

    def _version(
        self, kind: str, owner: str, slug: str, body: dict[str, Any], who: HubIdentity
    ) -> tuple[str, dict[str, Any]]:
        """Number the version (the client's ``artifactVersion`` is ignored) and pick the slug it is stored under.

        Without ``parentArtifactId`` the artifact is a first version (or a replacement that keeps its numbering).
        With it, the upload is a new version of that parent, stored as a new artifact ``<base-slug>-v<N>`` (N =
        the parent's version + 1, base = the first version's slug); the parent stays as it is.
        """
        body = dict(body)
        body.pop("artifactVersion", None)
        parent_id = body.get("parentArtifactId")
        if not parent_id:
            existing = self.db.get_artifact(kind, owner, slug)
            body["artifactVersion"] = int((existing.body.get("artifactVersion") if existing else None) or 1)
            body["parentArtifactId"] = existing.body.get("parentArtifactId") if existing else None
            return slug, body
        p_owner, p_slug = _split_artifact_id(parent_id, "parentArtifactId")
        if p_owner != owner:
            raise ApiError(422, f"a new version of '{p_owner}/{p_slug}' must belong to '{p_owner}', not '{owner}'")
        parent = self._visible(self.db.get_artifact(kind, p_owner, p_slug), who)
        if parent is None:
            raise ApiError(404, f"parent artifact '{p_owner}/{p_slug}' not found (or you do not have access to it)")
        number = int(parent.body.get("artifactVersion") or 1) + 1
        base = _VERSION_SUFFIX.sub("", parent.slug) if parent.body.get("parentArtifactId") else parent.slug
        new_slug = f"{base}-v{number}"
        if len(new_slug) > 64:
            raise ApiError(422, f"the slug of version {number} ('{new_slug}') would be longer than 64 characters")
        existing = self.db.get_artifact(kind, owner, new_slug)
        if existing is not None and existing.body.get("parentArtifactId") != f"{p_owner}/{p_slug}":
            raise ApiError(
                409, f"'{owner}/{new_slug}' already exists and is not version {number} of '{p_owner}/{p_slug}'"
            )
        body.update(artifactVersion=number, parentArtifactId=f"{p_owner}/{p_slug}", _parentAccess=parent.access)
        return new_slug, body

    # ---- V2 benchmarks (here because uploads answer them through _store)

    def present_benchmark_v2(self, art: Artifact, who: HubIdentity | None) -> dict[str, Any]:
        """A V2 benchmark: ``split`` values are the index sets' URLs when public (0.13 reads them), else the
        ``{datapoints, md5Checksum}`` objects; ``splitContent`` always has the objects."""
        out = self.present(art)
        out["dataset"] = self.dataset_ref(DATASET_V2, art.body.get("datasetArtifactId"), who)
        content = art.body.get("split") or {}
        out["splitContent"] = content
        keys = storage_keys(art)
        if self.state.modern and art.access == "public":
            out["split"] = {name: self.state.public_url(keys[name]) for name in ("training", "test")}
        else:
            out["split"] = content
        out["version"] = 2
        return out

    def _check_dataset_namespace(self, kind: str, owner: str, slug: str) -> None:
        """V1 and V2 datasets (and benchmarks) share slugs: clients find one by trying V1, then V2."""
        other = _SHARED_NAMESPACE[kind]
        if self.db.get_artifact(other, owner, slug) is not None:
            version = "V2" if other in (DATASET_V2, BENCHMARK_V2) else "V1"
            what = "dataset" if other in (DATASET, DATASET_V2) else "benchmark"
            raise ApiError(409, f"'{owner}/{slug}' already exists as a {version} {what}; choose another name")

    @staticmethod
    def _validated(check: Any, body: Any) -> dict[str, Any]:
        try:
            return check(body)  # type: ignore[no-any-return]
        except validation.BodyError as exc:
            raise ApiError(exc.status, str(exc), detail=exc.problems) from None


# --------------------------------------------------------------------------- storage layout
STORAGE_TOP = {
    DATASET: "dataset",
    DATASET_V2: "dataset",
    COMPETITION_DATASET: "competition-dataset",
    BENCHMARK_V2: "benchmark",
    COMPETITION_V1: "competition",
}
"""Kinds with stored objects and the first segment of their keys: ``<top>/<owner>/<slug>/...``."""
TABLE_FILE = "table.parquet"
ZARR_DIR = "data.zarr"
MANIFEST_FILE = "zarr_manifest.parquet"
INDEX_SET_SUFFIX = ".roaring"


def storage_prefix(art: Artifact) -> str:
    return f"{STORAGE_TOP.get(art.kind, 'dataset')}/{art.owner}/{art.slug}"


def storage_keys(art: Artifact) -> dict[str, str]:
    """Bucket keys of an artifact's objects by storage-path name (Zarr roots are key prefixes)."""
    base = storage_prefix(art)
    if art.kind in (DATASET_V2, COMPETITION_V1):
        return {"root": f"{base}/{ZARR_DIR}", "manifest": f"{base}/{MANIFEST_FILE}"}
    if art.kind == BENCHMARK_V2:
        return {name: f"{base}/{name}{INDEX_SET_SUFFIX}" for name in ("training", "test")}
    keys = {"root": f"{base}/{TABLE_FILE}"}
    annotations = art.body.get("annotations") or {}
    if any(isinstance(a, dict) and a.get("isPointer") for a in annotations.values()):
        keys["extension"] = f"{base}/{ZARR_DIR}"
    return keys


def storage_paths(art: Artifact) -> dict[str, str]:
    """What storage tokens hand out: ``polarisfs://<bucket>/<key>`` per storage-path name."""
    return {name: f"polarisfs://{BUCKET}/{key}" for name, key in storage_keys(art).items()}
