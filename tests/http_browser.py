"""A tiny HTTP "browser" for the identity provider's pages: sign in, allow, land on the redirect URI.

Shared by the login tests and the cassette recordings (no JavaScript on those pages, so httpx is enough).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx


class _Forms(HTMLParser):
    """Collects every form: action, method, inputs (name -> value) and submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(
                {"action": a.get("action", ""), "method": a.get("method", "get").lower(), "fields": {}, "buttons": []}
            )
        elif self.forms and tag == "input" and a.get("name"):
            if a.get("type", "text").lower() == "submit":
                self.forms[-1]["buttons"].append((a["name"], a.get("value", "")))
            else:
                self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif self.forms and tag == "button" and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value", "")))


def _forms(html: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class Browser:
    """Follows the login pages like a person would: sign in, allow, land on the redirect URI."""

    MAX_STEPS = 12

    def __init__(self, username: str, password: str, *, decision: str = "allow") -> None:
        self.username = username
        self.password = password
        self.decision = decision
        self.landed: httpx.Response | None = None
        self.redirect: str | None = None
        self.pages_seen: list[str] = []

    def run(self, url: str, *, tamper_state: bool = False) -> None:
        with httpx.Client(timeout=10, follow_redirects=False) as http:
            response = http.get(url)
            for _ in range(self.MAX_STEPS):
                if response.status_code in (301, 302, 303, 307, 308):
                    target = urljoin(str(response.url), response.headers["location"])
                    parts = urlsplit(target)
                    if not parts.path.startswith("/oauth/"):
                        # Leaving the identity provider: this is the redirect URI with ?code&state.
                        if tamper_state:
                            target = re.sub(r"state=[^&]+", "state=forged", target)
                        self.redirect = target
                        self.landed = http.get(target)
                        return
                    response = http.get(target)
                    continue
                assert response.status_code == 200, (response.status_code, response.text[:500])
                forms = _forms(response.text)
                assert forms, response.text[:500]
                form = forms[0]
                data = dict(form["fields"])
                if "password" in data:
                    self.pages_seen.append("login")
                    data["username"], data["password"] = self.username, self.password
                else:
                    self.pages_seen.append("consent")
                    buttons = dict(form["buttons"])
                    assert buttons, "consent page without buttons"
                    name = next(iter(buttons))
                    chosen = [v for n, v in form["buttons"] if v == self.decision]
                    data[name] = chosen[0] if chosen else self.decision
                action = urljoin(str(response.url), form["action"] or str(response.url))
                response = http.post(action, data=data) if form["method"] == "post" else http.get(action, params=data)
        raise AssertionError(f"login did not finish within {self.MAX_STEPS} steps: {self.pages_seen}")


class ScriptedUI:
    """A LoginUI whose 'user' is the Browser above."""

    def __init__(self, browser: Browser, *, tamper_state: bool = False) -> None:
        self.browser = browser
        self.tamper_state = tamper_state
        self.urls: list[str] = []

    def open_url(self, url: str) -> None:
        self.urls.append(url)
        self.browser.run(url, tamper_state=self.tamper_state)

    def ask_code(self) -> str:
        # The person reads the code off the Hub's callback page.
        assert self.browser.landed is not None and self.browser.redirect is not None
        code = parse_qs(urlsplit(self.browser.redirect).query)["code"][0]
        assert code in self.browser.landed.text
        return code
