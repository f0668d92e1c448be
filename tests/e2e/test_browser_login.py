"""The PKCE login with the loopback redirect, driven end to end in headless Chromium.

Debian's ``chromium`` (``/usr/bin/chromium``) is driven by Playwright; no browser is ever downloaded
(``scripts/ensure-browser.sh`` installs the Debian package; ``make test`` runs it first). A person's steps:
the client shows the authorization URL, the browser opens it, signs in on the local Hub's login page,
allows access on the consent page and lands on the client's one-shot loopback server, which catches the
code; the client checks the state, exchanges the code and is logged in.

In CI (``CI=true``) a missing Chromium is a failure, never a skip.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from polaris.hub.auth import ConsoleLoginUI, LoginResult
from polaris.hub.client import PolarisHubClient

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",  # loopback only, whatever proxy the environment names
]
#: Playwright's wait for one page action or navigation (milliseconds).
PAGE_TIMEOUT_MS = 20_000
#: Wait for the client to hand out the authorization URL.
URL_WAIT_SECONDS = 30.0
#: Wait for the login (code exchange + Hub token exchange) to finish once the browser is back.
LOGIN_FINISH_SECONDS = 30.0
#: Wait for a CLI subprocess to exit.
PROCESS_WAIT_SECONDS = 30.0
DEMO_USER = "demo-user"
DEMO_ORG = "polaris-demo"
CALLBACK_PATH = "/callback"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _require_chromium() -> None:
    """Skip (outside CI) or fail (in CI) when the browser or Playwright is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the machine
        message = f"playwright is not installed ({exc}); run `make install`"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)  # outside CI only; in CI the test fails instead
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):  # pragma: no cover - depends on the machine
        message = f"{CHROMIUM} is missing; run scripts/ensure-browser.sh (installs Debian's chromium with apt)"
        if _in_ci():
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)  # outside CI only; in CI the test fails instead


@contextmanager
def _chromium_page(profile_dir: Path) -> Iterator[Any]:
    """A page of headless Debian Chromium with a fresh profile; the browser is closed on exit."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=PAGE_TIMEOUT_MS,
        )
        try:
            context.set_default_timeout(PAGE_TIMEOUT_MS)
            context.set_default_navigation_timeout(PAGE_TIMEOUT_MS)
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


def _log_in_with_the_browser(page: Any, url: str, *, user: str, password: str) -> list[str]:
    """What a person does with the link: sign in, allow, land on the redirect URI. Returns the steps seen."""
    from playwright.sync_api import expect

    seen: list[str] = []
    page.goto(url, wait_until="load")
    # The identity provider sends an anonymous visitor to its sign-in page.
    expect(page.locator("#sign-in")).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    seen.append("login")
    assert urlsplit(page.url).netloc == urlsplit(url).netloc, page.url  # still on the identity provider
    page.fill("#username", user)
    page.fill("#password", password)
    with page.expect_navigation(wait_until="load"):
        page.click("#sign-in")
    # Consent: who is signed in, what is asked, Allow / Deny.
    expect(page.locator("#allow")).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    seen.append("consent")
    expect(page.locator("#user")).to_have_text(user, timeout=PAGE_TIMEOUT_MS)
    assert page.locator("#deny").is_visible()
    with page.expect_navigation(
        url=re.compile(r"^http://127\.0\.0\.1:\d+" + re.escape(CALLBACK_PATH)), wait_until="load"
    ):
        page.click("#allow")
    seen.append("callback")
    return seen


class HandOffUI:
    """A ``LoginUI`` that hands the authorization URL to the test (the person reading the terminal)."""

    def __init__(self) -> None:
        self.urls: queue.Queue[str] = queue.Queue()

    def open_url(self, url: str) -> None:
        self.urls.put(url)

    def ask_code(self) -> str:
        raise AssertionError("with a loopback callback the client catches the code itself; it must not ask")


class LoginThread(threading.Thread):
    """Runs ``client.login`` in the background, keeping its result or error."""

    def __init__(self, client: PolarisHubClient, ui: HandOffUI) -> None:
        super().__init__(name="browser-login", daemon=True)
        self.client = client
        self.ui = ui
        self.result: LoginResult | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.client.login(auto_open_browser=True, ui=self.ui)
        except BaseException as exc:
            self.error = exc


def _private_dataset_body(name: str) -> dict[str, Any]:
    """A minimal private V1 dataset of ``polaris-demo`` (the Hub only stores metadata here)."""
    return {
        "name": name,
        "owner": DEMO_ORG,
        "access": "private",
        "license": "MIT",
        "md5Sum": "c" * 32,
        "annotations": {},
        "polarisVersion": "0.10.0",
        "tableContent": {"size": 5, "fileType": "parquet", "md5Sum": "5d41402abc4b2a76b9719d911017c592"},
        "zarrContent": [],
    }


def _store_table(hub: Any, key: str, data: bytes) -> None:
    """Put an object straight into moto: the Hub publishes a dataset once its declared table is stored."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=hub.s3_direct_endpoint,
        aws_access_key_id="t",
        aws_secret_access_key="t",
        region_name="us-east-1",
    )
    s3.put_object(Bucket="polaris-hub", Key=key, Body=data)


def _abort_login(redirect_uri: str) -> None:
    """Send the loopback catcher an error callback so a waiting ``login`` ends (used when a test fails midway)."""
    try:
        with httpx.Client(timeout=5, trust_env=False) as http:
            http.get(redirect_uri, params={"error": "access_denied", "error_description": "test aborted"})
    except httpx.HTTPError:
        pass


# ---------------------------------------------------------------------------------------------- in-process client
def test_pkce_login_in_headless_chromium(local_hub_factory: Any, tmp_path: Path) -> None:
    _require_chromium()
    # An own Hub: the test writes a private dataset, which must not leak into other tests' listings.
    local_hub = local_hub_factory(seed="demo")
    settings = local_hub.settings(callback_url=f"http://127.0.0.1:0{CALLBACK_PATH}")
    assert settings.catches_callback_locally

    ui = HandOffUI()
    with PolarisHubClient(settings, cache_auth_token=False) as client:
        assert not client.is_logged_in
        worker = LoginThread(client, ui)
        worker.start()
        redirect_uri = ""
        try:
            try:
                url = ui.urls.get(timeout=URL_WAIT_SECONDS)
            except queue.Empty:
                raise AssertionError(
                    f"the client never showed an authorization URL (error: {worker.error!r})"
                ) from None
            query = parse_qs(urlsplit(url).query)
            assert url.startswith(local_hub.authorize_url)
            assert query["response_type"] == ["code"]
            assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
            assert len(query["state"][0]) >= 16
            redirect_uri = query["redirect_uri"][0]
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+" + re.escape(CALLBACK_PATH), redirect_uri), redirect_uri
            assert not redirect_uri.startswith("http://127.0.0.1:0/")  # the real port of the catcher

            with _chromium_page(tmp_path / "chromium-profile") as page:
                seen = _log_in_with_the_browser(page, url, user=DEMO_USER, password=local_hub.users[DEMO_USER])
                assert seen == ["login", "consent", "callback"]
                landed = urlsplit(page.url)
                assert f"http://{landed.netloc}{landed.path}" == redirect_uri
                landed_query = parse_qs(landed.query)
                assert landed_query["state"] == query["state"] and landed_query["code"][0]
                assert "Logged in to the Polaris Hub" in page.locator("h1").inner_text()
            worker.join(LOGIN_FINISH_SECONDS)
            assert not worker.is_alive(), "the client did not finish the login after the browser came back"
        finally:
            if worker.is_alive() and redirect_uri:
                _abort_login(redirect_uri)  # a failed test must not leave the catcher waiting for minutes
            worker.join(LOGIN_FINISH_SECONDS)
        if worker.error is not None:
            raise worker.error
        assert worker.result is not None
        assert worker.result.method == "authorization_code" and not worker.result.already_logged_in
        assert DEMO_USER in worker.result.identity

        assert client.is_logged_in
        assert DEMO_USER in client.whoami()
        assert "polaris-demo/freesolv" in client.list_datasets()
        assert "polaris-demo/freesolv-hydration-free-energy" in client.list_benchmarks()
        # A write needs a Hub token of a member of the owner: the browser's login is the only one the client has.
        slug = "browser-login-check"
        created = client.put(f"v1/dataset/{DEMO_ORG}/{slug}", json=_private_dataset_body("browser_login_check"))
        assert created.status_code == 201, created.text
        _store_table(local_hub, f"dataset/{DEMO_ORG}/{slug}/table.parquet", b"hello")  # what tableContent declares
        assert client.get(f"v1/dataset/{DEMO_ORG}/{slug}").json()["md5Sum"] == "c" * 32
        assert f"{DEMO_ORG}/{slug}" in client.list_datasets()
        with httpx.Client(base_url=local_hub.url, timeout=10, trust_env=False) as anonymous:
            assert anonymous.get(f"api/v1/dataset/{DEMO_ORG}/{slug}").status_code == 404  # private
            refused = anonymous.put(f"api/v1/dataset/{DEMO_ORG}/{slug}", json=_private_dataset_body("x"))
            assert refused.status_code == 401
        # The one-shot catcher is gone once the code was caught (the port may since serve someone else).
        with httpx.Client(timeout=5, trust_env=False) as http:
            try:
                late = http.get(redirect_uri, params={"code": "late", "state": query["state"][0]})
            except httpx.TransportError:
                late = None
            assert late is None or "Logged in to the Polaris Hub" not in late.text


# ------------------------------------------------------------------------------------- the CLI, as a user runs it
def _read_lines(stream: Any, lines: queue.Queue[str | None]) -> None:
    for raw in stream:
        lines.put(raw.rstrip("\n"))
    lines.put(None)


def _wait_for_url(lines: queue.Queue[str | None], seen: list[str], authorize_url: str) -> str:
    deadline = time.monotonic() + URL_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if line.strip().startswith(authorize_url):
            return line.strip()
    raise AssertionError("`polaris login` printed no authorization URL:\n" + "\n".join(seen))


def test_polaris_login_prints_the_url_and_catches_the_code(local_hub: Any, tmp_path: Path) -> None:
    """`polaris login` in a subprocess: the URL it prints on stderr, opened in Chromium, logs the CLI in."""
    _require_chromium()
    opened = tmp_path / "opened-url.txt"
    fake_browser = tmp_path / "fake-browser.sh"
    fake_browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{opened}"\n')
    fake_browser.chmod(0o755)
    env = dict(os.environ)
    env.update(local_hub.env())
    env["POLARIS_CALLBACK_URL"] = f"http://127.0.0.1:0{CALLBACK_PATH}"
    env["BROWSER"] = str(fake_browser)  # what webbrowser.open runs: records the URL instead of a desktop browser
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "80"  # the URL is longer: it must still print on one line
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    polaris = [sys.executable, "-m", "polaris.cli"]

    process = subprocess.Popen(
        [*polaris, "login"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        url = _wait_for_url(lines, seen, local_hub.authorize_url)
        assert any("Open this link in a browser" in line for line in seen), seen
        with _chromium_page(tmp_path / "chromium-profile") as page:
            _log_in_with_the_browser(page, url, user=DEMO_USER, password=local_hub.users[DEMO_USER])
        returncode = process.wait(timeout=PROCESS_WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=PROCESS_WAIT_SECONDS)
        reader.join(PROCESS_WAIT_SECONDS)
    while True:
        try:
            line = lines.get_nowait()
        except queue.Empty:
            break
        if line is not None:
            seen.append(line)
    output = "\n".join(seen)
    assert returncode == 0, output
    assert "Logged in" in output and DEMO_USER in output
    # auto_open_browser: webbrowser.open was given the very URL that was printed.
    assert opened.read_text() == url

    # The tokens were cached: a new process is logged in without any browser.
    env.pop("POLARIS_CALLBACK_URL")
    who = subprocess.run(
        [*polaris, "whoami"], env=env, capture_output=True, text=True, timeout=PROCESS_WAIT_SECONDS, check=False
    )
    assert who.returncode == 0, who.stdout + who.stderr
    assert DEMO_USER in who.stdout


def test_console_ui_prints_the_whole_url(capsys: pytest.CaptureFixture[str]) -> None:
    """The terminal UI prints the link unwrapped and unstyled, even when longer than the terminal."""
    url = "http://127.0.0.1:9/oauth/authorize?response_type=code&client_id=x&state=" + "s" * 150
    ConsoleLoginUI(auto_open_browser=False).open_url(url)
    err = capsys.readouterr().err
    assert url in err.splitlines()
