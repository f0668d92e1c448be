"""The local Hub's HTTP application: the route modules of :mod:`polaris.emulator.routes` behind the middleware.

Find a route by its URL in :mod:`polaris.emulator.routes` (its docstring maps URLs to modules); shared state, access
rules and presentation live in :mod:`polaris.emulator.core`; faults, size limits, spec validation and error handlers
in :mod:`polaris.emulator.middleware`. Database and object storage stay in ``db.py``, ``objects.py``, ``disk_store.py``,
``s3gate.py``.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from polaris.emulator.core import ApiError, HubState, OAuthError
from polaris.emulator.middleware import GuardMiddleware, install_exception_handlers
from polaris.emulator.routes import (
    benchmarks,
    competitions,
    control,
    datasets,
    discovery,
    idp,
    models,
    results,
    revoke,
    storage,
    token,
    web,
)

__all__ = ["ApiError", "HubState", "OAuthError", "create_app", "load_openapi"]


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
    idp_pages = idp.IdpPages(state)
    routes = [
        *datasets.routes(state),
        *benchmarks.routes(state),
        *results.routes(state),
        *competitions.routes(state),
        *models.routes(state),
        *storage.routes(state),
        *token.routes(state),
        *idp.routes(state, idp_pages),
        *revoke.routes(state),
        *discovery.routes(state),
        *web.routes(state, idp_pages),
        *control.routes(state),
    ]
    app = Starlette(routes=routes)
    install_exception_handlers(app, state)
    app.add_middleware(GuardMiddleware, state=state)
    app.state.hub = state
    return app
