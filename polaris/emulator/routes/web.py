"""Web pages of the Hub (what the links printed by clients open).

- ``GET /`` — home: the artifacts the signed-in user can see
- ``GET /datasets/{owner}/{name}``, ``/benchmarks/{owner}/{name}`` (and ``/v1/benchmark/{owner}/{name}``),
  ``/competitions/{owner}/{name}``, ``/competition/datasets/{owner}/{name}``, ``/models/{owner}/{name}`` — one
  artifact
- ``GET /benchmarks/{owner}/{name}/results/{id}`` — uploaded results
- ``GET /v2/competition/{owner}/{name}/{id}`` — an evaluation of competition predictions (participant only)
- ``GET /favicon.ico`` — 404
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from polaris.emulator import pages
from polaris.emulator.core import (
    BENCHMARK,
    BENCHMARK_V2,
    COMPETITION,
    COMPETITION_DATASET,
    COMPETITION_RESULT,
    COMPETITION_V1,
    DATASET,
    DATASET_V2,
    MAX_LIMIT,
    MODEL,
    RESULT,
    HubCore,
    HubState,
)
from polaris.emulator.routes.idp import IdpPages
from polaris.emulator.tokens import HubIdentity
from polaris.types import slugify


class WebPages:
    def __init__(self, state: HubState, api: HubCore, idp_pages: IdpPages) -> None:
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
        return self._page(request, (BENCHMARK, BENCHMARK_V2), p["owner"], p["name"])

    async def competition(self, request: Request) -> Response:
        p = request.path_params
        return self._page(request, (COMPETITION, COMPETITION_V1), p["owner"], p["name"])

    async def model(self, request: Request) -> Response:
        p = request.path_params
        return self._page(request, (MODEL,), p["owner"], p["name"])

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
            (BENCHMARK_V2, "benchmarks"),
            (COMPETITION, "competitions"),
            (COMPETITION_V1, "competitions"),
            (MODEL, "models"),
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


def routes(state: HubState, idp: IdpPages) -> list[Route]:
    web = WebPages(state, HubCore(state), idp)
    return [
        Route("/", web.home, methods=["GET"]),
        Route("/datasets/{owner}/{name}", web.dataset, methods=["GET"]),
        Route("/benchmarks/{owner}/{name}", web.benchmark, methods=["GET"]),
        Route("/v1/benchmark/{owner}/{name}", web.benchmark, methods=["GET"]),
        Route("/benchmarks/{owner}/{name}/results/{id}", web.result, methods=["GET"]),
        Route("/competitions/{owner}/{name}", web.competition, methods=["GET"]),
        Route("/models/{owner}/{name}", web.model, methods=["GET"]),
        Route("/competition/datasets/{owner}/{name}", web.competition_dataset, methods=["GET"]),
        Route("/v2/competition/{owner}/{name}/{id}", web.competition_result, methods=["GET"]),
        Route("/favicon.ico", lambda request: PlainTextResponse("", status_code=404), methods=["GET"]),
    ]
