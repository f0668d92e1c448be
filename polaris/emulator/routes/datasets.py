"""Datasets (V1 tables and V2 Zarr archives).

- ``GET /api/v1/dataset`` — list V1 datasets
- ``GET /api/v2/dataset`` — list V2 datasets (0.11+; clients list V2 first, then V1)
- ``GET|PUT /api/v1/dataset/{owner}/{name}`` — one V1 dataset
- ``GET|PUT /api/v2/dataset/{owner}/{name}`` — one V2 dataset

GETs answer 409 ``Upload incomplete`` and lists leave a dataset out while its stored objects are missing or differ
from the declared content (:mod:`polaris.emulator.publish`). Public datasets' answers carry ``root`` (and
``extension``) URLs readable without credentials (0.13).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polaris.emulator import validation
from polaris.emulator.core import DATASET, DATASET_V2, HubCore, HubState, route_if


class DatasetRoutes(HubCore):
    async def list_datasets(self, request: Request) -> Response:
        return await self.list_kind(request, DATASET)

    async def list_datasets_v2(self, request: Request) -> Response:
        return await self.list_kind(request, DATASET_V2)

    async def get_dataset(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        art = await self.published(self.find(DATASET, owner, slug, who, "dataset"))
        return JSONResponse(self.present(art))

    async def get_dataset_v2(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        art = await self.published(self.find(DATASET_V2, owner, slug, who, "dataset"))
        return JSONResponse(self.present(art))

    async def put_dataset(self, request: Request) -> Response:
        who, owner, slug, body = await self._prepare_put(request)
        body = self._validated(validation.check_dataset_v1, body)
        return self._store(DATASET, owner, slug, body, who)

    async def put_dataset_v2(self, request: Request) -> Response:
        who, owner, slug, body = await self._prepare_put(request)
        body = self._validated(validation.check_dataset_v2, body)
        body.setdefault("zarrManifestMd5Sum", body["zarrManifestFileContent"]["md5Sum"])
        return self._store(DATASET_V2, owner, slug, body, who)


def routes(state: HubState) -> list[Route]:
    h = DatasetRoutes(state)
    return [
        Route("/api/v1/dataset", h.list_datasets, methods=["GET"]),
        route_if(state.modern, state, "/api/v2/dataset", h.list_datasets_v2, ["GET"]),
        Route("/api/v1/dataset/{owner}/{name}", h.get_dataset, methods=["GET"]),
        Route("/api/v1/dataset/{owner}/{name}", h.put_dataset, methods=["PUT"]),
        Route("/api/v2/dataset/{owner}/{name}", h.get_dataset_v2, methods=["GET"]),
        Route("/api/v2/dataset/{owner}/{name}", h.put_dataset_v2, methods=["PUT"]),
    ]
