"""What runs around every route: injected faults, the body size limit, OpenAPI request validation, error handlers.

Requests under ``/api`` are validated against ``openapi/hub.yaml`` before a handler sees them (an unknown path
answers 404, a wrong method 405, a body or parameter the spec refuses 400). Errors are always JSON, never a 500 page.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polaris.emulator.core import (
    MAX_BODY_BYTES,
    ApiError,
    Fault,
    HubState,
    api_error_response,
    oauth_error_response,
)

log = logging.getLogger(__name__)


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
