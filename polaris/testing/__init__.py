"""Test helpers around the local Polaris Hub: :class:`LocalHub` starts ``python -m polaris.emulator`` in a subprocess.

Use it directly::

    from polaris.testing import LocalHub

    with LocalHub(seed="demo") as hub:
        settings = hub.settings(username="demo-user", password="demo-password")
        ...

or through the pytest fixtures of :mod:`polaris.testing.plugin` (``local_hub``, ``local_hub_factory``, ``hub_client``).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["LocalHub", "LocalHubError"]

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
READY_PREFIX = "Polaris Hub emulator ready at "
END_OF_BANNER = "Press Ctrl+C to stop"
CONTROL_TIMEOUT_SECONDS = 10.0


class LocalHubError(RuntimeError):
    """The local Hub did not start (the message carries its output)."""


class LocalHub:
    """A local Polaris Hub in a subprocess.

    Args:
        seed: ``"demo"`` loads demo users, an organization, datasets, a benchmark and a competition.
        users: extra ``{name: password}`` accounts.
        orgs: ``{org: [member, ...]}``.
        token_ttl: lifetime of issued tokens (seconds); small values let tests expire tokens.
        data_dir: keep state there (survives a restart with the same ``data_dir``).
        enable_faults: allow :meth:`inject_fault`.
        protocol: which endpoint generations to serve: ``"all"`` (default), ``"0.10"`` (only what polaris-lib 0.10
            calls; the 0.11+ endpoints answer 404) or ``"0.13"`` (only what 0.11-0.13 call; ``/v2/competition*``
            answers 404). Lets a client test its fallback between generations.
        extra_args: more command-line arguments for ``polaris.emulator start``.

    Raises (on :meth:`start`):
        LocalHubError: the process exited or did not print its ready line within ``READY_TIMEOUT_SECONDS``.
    """

    def __init__(
        self,
        *,
        seed: str | None = None,
        users: dict[str, str] | None = None,
        orgs: dict[str, list[str]] | None = None,
        token_ttl: int | None = None,
        data_dir: str | Path | None = None,
        enable_faults: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        extra_args: list[str] | None = None,
        protocol: str | None = None,
    ) -> None:
        self.args = ["start", "--host", host, "--port", str(port)]
        if seed:
            self.args += ["--seed", seed]
        for name, password in (users or {}).items():
            self.args += ["--user", f"{name}:{password}"]
        for org, members in (orgs or {}).items():
            self.args += ["--org", f"{org}:{','.join(members)}"]
        if token_ttl is not None:
            self.args += ["--token-ttl", str(token_ttl)]
        if data_dir is not None:
            self.args += ["--data-dir", str(data_dir)]
        if enable_faults:
            self.args.append("--enable-faults")
        if protocol is not None:
            self.args += ["--protocol", protocol]
        self.args += list(extra_args or [])
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.url = ""
        self.authorize_url = ""
        self.token_fetch_url = ""
        self.user_info_url = ""
        self.client_id = ""
        self.s3_endpoint = ""
        self.s3_direct_endpoint = ""
        self.users: dict[str, str] = {}
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalHub:
        if self.process is not None:
            return self
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "polaris.emulator", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        ready = False
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            if line.startswith(READY_PREFIX):
                ready = True
                self.url = line[len(READY_PREFIX) :].strip()
                continue
            if ready:
                if line.startswith(END_OF_BANNER):
                    break
                self._take(line)
        if not ready or not self.client_id:
            self.stop()
            raise LocalHubError("the local Hub did not start:\n" + "\n".join(self.output[-50:]))
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.rstrip("\n")
            self.output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def _take(self, line: str) -> None:
        """Parse one line of the banner printed after the ready line."""
        key, sep, value = line.partition("=")
        if sep and key.startswith("POLARIS_"):
            attr = {
                "POLARIS_AUTHORIZE_URL": "authorize_url",
                "POLARIS_TOKEN_FETCH_URL": "token_fetch_url",
                "POLARIS_USER_INFO_URL": "user_info_url",
                "POLARIS_CLIENT_ID": "client_id",
            }.get(key)
            if attr:
                setattr(self, attr, value)
        elif line.startswith("S3 endpoint "):
            self.s3_endpoint = line.split()[2]
        elif line.startswith("S3 direct endpoint "):
            self.s3_direct_endpoint = line.split()[3]
        elif line.startswith("user "):
            parts = line.split()
            if len(parts) == 4 and parts[2] == "password":
                self.users[parts[1]] = parts[3]

    def stop(self) -> None:
        """Terminate the process (SIGTERM), wait, and kill it if it does not exit in time."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT_SECONDS)

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ settings
    @property
    def api_url(self) -> str:
        return self.url + "api"

    @property
    def hub_token_url(self) -> str:
        return self.url + "api/auth/token"

    @property
    def callback_url(self) -> str:
        return self.url + "oauth2/callback"

    def env(self) -> dict[str, str]:
        """``POLARIS_*`` environment variables that point a client at this Hub."""
        return {
            "POLARIS_HUB_URL": self.url,
            "POLARIS_AUTHORIZE_URL": self.authorize_url,
            "POLARIS_TOKEN_FETCH_URL": self.token_fetch_url,
            "POLARIS_USER_INFO_URL": self.user_info_url,
            "POLARIS_CLIENT_ID": self.client_id,
        }

    def settings(self, **overrides: Any) -> Any:
        """A ``polaris.hub.settings.PolarisHubSettings`` for this Hub (``overrides`` win, e.g. username/password)."""
        from polaris.hub.settings import PolarisHubSettings

        values: dict[str, Any] = {
            "hub_url": self.url,
            "authorize_url": self.authorize_url,
            "token_fetch_url": self.token_fetch_url,
            "user_info_url": self.user_info_url,
            "client_id": self.client_id,
        }
        values.update(overrides)
        return PolarisHubSettings(**values)

    # ------------------------------------------------------------------ faults
    def _control(self, method: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + "__emulator__/faults", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=CONTROL_TIMEOUT_SECONDS) as response:
            return json.loads(response.read())

    def inject_fault(
        self, path: str, *, status: int = 503, count: int = 1, method: str = "*", retry_after: int | None = None
    ) -> None:
        """Make the next ``count`` requests whose path starts with ``path`` answer ``status`` (needs enable_faults).

        Raises:
            urllib.error.HTTPError: faults are not enabled on this Hub, or the values are invalid.
        """
        self._control(
            "POST", {"method": method, "path": path, "status": status, "count": count, "retry_after": retry_after}
        )

    def clear_faults(self) -> None:
        """Remove all pending faults."""
        try:
            self._control("DELETE")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise

    def __repr__(self) -> str:
        return f"LocalHub(url={self.url!r}, running={self.returncode is None and self.process is not None})"
