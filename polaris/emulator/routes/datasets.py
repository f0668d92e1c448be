"""Datasets (V1 tables and V2 Zarr archives).

- ``GET /api/v1/dataset`` — list V1 datasets
- ``GET|PUT /api/v1/dataset/{owner}/{name}`` — one V1 dataset
- ``GET|PUT /api/v2/dataset/{owner}/{name}`` — one V2 dataset
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polaris.emulator import validation
from polaris.emulator.core import DATASET, DATASET_V2, HubCore, HubState


class DatasetRoutes(HubCore):
    async def list_datasets(self, request: Request) -> Response:
        return await self.list_kind(request, DATASET)

    async def get_dataset(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        return JSONResponse(self.present(self.find(DATASET, owner, slug, who, "dataset")))

    async def get_dataset_v2(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        return JSONResponse(self.present(self.find(DATASET_V2, owner, slug, who, "dataset")))

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


def routes(state: HubState) -> list[Route]:
    h = DatasetRoutes(state)
    return [
        Route("/api/v1/dataset", h.list_datasets, methods=["GET"]),
        Route("/api/v1/dataset/{owner}/{name}", h.get_dataset, methods=["GET"]),
        Route("/api/v1/dataset/{owner}/{name}", h.put_dataset, methods=["PUT"]),
        Route("/api/v2/dataset/{owner}/{name}", h.get_dataset_v2, methods=["GET"]),
        Route("/api/v2/dataset/{owner}/{name}", h.put_dataset_v2, methods=["PUT"]),
    ]
