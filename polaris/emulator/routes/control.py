"""Test-control endpoints of the emulator (not part of the Hub API).

- ``GET /__emulator__/health`` — liveness
- ``POST|DELETE /__emulator__/faults`` — inject / clear faults (only with ``--enable-faults``)
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from polaris.emulator.core import ApiError, Fault, HubState, api_error_response, read_json


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


def routes(state: HubState) -> list[Route]:
    control = Control(state)
    return [
        Route("/__emulator__/health", control.health, methods=["GET"]),
        Route("/__emulator__/faults", control.faults, methods=["POST", "DELETE"]),
    ]
