"""The built-in identity provider (the local stand-in for Clerk): OAuth2 authorization code + PKCE.

- ``GET|POST /oauth/authorize`` — sign-in page, consent page and the consent decision
- ``POST /oauth/login`` — the sign-in form
- ``POST /oauth/token`` — the identity provider's token endpoint (code and refresh grants)
- ``GET /oauth/userinfo`` — who the identity-provider token belongs to
- ``GET /oauth2/callback`` — the Hub page that shows the authorization code to paste
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MultiDict
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from polaris.emulator import pages
from polaris.emulator.core import ApiError, HubState, oauth_error_response, read_body
from polaris.emulator.db import User
from polaris.emulator.oauth import StarletteOAuth2Request

SESSION_COOKIE = "polaris_emulator_session"
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


def routes(state: HubState, idp: IdpPages) -> list[Route]:
    return [
        Route("/oauth/authorize", idp.authorize, methods=["GET", "POST"]),
        Route("/oauth/login", idp.login, methods=["POST"]),
        Route("/oauth/token", idp.token, methods=["POST"]),
        Route("/oauth/userinfo", idp.userinfo, methods=["GET"]),
        Route("/oauth2/callback", idp.callback, methods=["GET"]),
    ]
