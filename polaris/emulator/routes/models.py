"""Models (0.11.9+): metadata only, no stored objects.

- ``GET /api/v2/model`` — list models (0.12+; 0.13 sends no token)
- ``POST /api/v2/model`` — create or replace a model, owner and name from the body (0.11.9-0.11.10)
- ``GET|PUT /api/v2/model/{owner}/{name}`` — one model (PUT: 0.12+, with ``parentArtifactId`` for a new version)

0.13 uploads carry no ``access`` and read models back without a token, so a model stored without ``access`` is
public here [inferred]; 0.11/0.12 send ``access`` and get what they asked for.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polaris.emulator import validation
from polaris.emulator.core import MODEL, ApiError, HubCore, HubState, _body_owner, _segment, read_json, route_if
from polaris.types import slugify


class ModelRoutes(HubCore):
    async def list_models(self, request: Request) -> Response:
        return await self.list_kind(request, MODEL)

    async def get_model(self, request: Request) -> Response:
        owner, slug = self._path(request)
        who = self.identity(request, required=False)
        return JSONResponse(self.present(self.find(MODEL, owner, slug, who, "model")))

    async def create_model(self, request: Request) -> Response:
        who = self.identity(request, required=True)
        assert who is not None
        body = self._validated(validation.check_model, await read_json(request))
        owner = _body_owner(body)
        if owner is None:
            raise ApiError(422, "invalid field 'owner': is required (POST /v2/model names the owner in the body)")
        owner = _segment(slugify(owner), "owner")
        self._check_write(who, owner)
        return self._store(MODEL, owner, _segment(str(body["name"]), "name"), body, who, default_access="public")

    async def put_model(self, request: Request) -> Response:
        who, owner, slug, body = await self._prepare_put(request)
        body = self._validated(validation.check_model, body)
        return self._store(MODEL, owner, slug, body, who, default_access="public")


def routes(state: HubState) -> list[Route]:
    h = ModelRoutes(state)
    on = state.modern
    return [
        route_if(on, state, "/api/v2/model", h.list_models, ["GET"]),
        route_if(on, state, "/api/v2/model", h.create_model, ["POST"]),
        route_if(on, state, "/api/v2/model/{owner}/{name}", h.get_model, ["GET"]),
        route_if(on, state, "/api/v2/model/{owner}/{name}", h.put_model, ["PUT"]),
    ]
