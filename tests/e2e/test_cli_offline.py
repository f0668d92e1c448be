"""Offline mode (``--offline`` / ``POLARIS_OFFLINE=1``): no socket is opened at all, verified cached artifacts are
served, and what is not cached is named. A guard replaces the socket layer so any network use is recorded."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from cli_schemas import parse  # tests/ is on sys.path (conftest)
from typer.testing import CliRunner

from polaris.cli import app

runner = CliRunner()

FREESOLV = "polaris-demo/freesolv"
BENCHMARK = "polaris-demo/freesolv-hydration-free-energy"
NOT_CACHED = "polaris-demo/freesolv-zarr"


class SocketGuard:
    """Refuses (and records) every IP socket, name lookup and connection inside its ``with`` block."""

    def __enter__(self) -> SocketGuard:
        self._patch = monkeypatch = pytest.MonkeyPatch()
        self.attempts: list[str] = []
        original_init = socket.socket.__init__

        def guarded_init(sock: socket.socket, family: Any = -1, *args: Any, **kwargs: Any) -> None:
            if family in (socket.AF_INET, socket.AF_INET6, -1):
                self.attempts.append(f"socket({family})")
                raise OSError("network blocked by the test's socket guard")
            original_init(sock, family, *args, **kwargs)

        def refuse(what: str) -> Any:
            def blocked(*args: Any, **kwargs: Any) -> Any:
                self.attempts.append(f"{what}{args[:2]}")
                raise OSError(f"{what} blocked by the test's socket guard")

            return blocked

        monkeypatch.setattr(socket.socket, "__init__", guarded_init)
        monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
        monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
        return self

    def __exit__(self, *exc: object) -> None:
        self._patch.undo()


@pytest.fixture
def online_env(local_hub: Any) -> Iterator[dict[str, str]]:
    env = {**local_hub.env(), "POLARIS_USERNAME": "demo-user", "POLARIS_PASSWORD": local_hub.users["demo-user"]}
    for args in (["login"], ["datasets", "get", FREESOLV], ["benchmarks", "get", BENCHMARK]):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
    yield env


def test_guard_catches_network_use(online_env: dict[str, str]) -> None:
    with SocketGuard() as guard:
        result = runner.invoke(app, ["datasets", "get", NOT_CACHED], env=online_env)
    assert result.exit_code == 1
    assert guard.attempts, "the guard saw no network use, so it would not catch any"


def test_offline_serves_cached_artifacts_without_any_socket(online_env: dict[str, str]) -> None:
    with SocketGuard() as guard:
        got = runner.invoke(app, ["--offline", "datasets", "get", FREESOLV, "--json"], env=online_env)
        offline_env = {**online_env, "POLARIS_OFFLINE": "1"}
        by_env = runner.invoke(app, ["benchmarks", "get", BENCHMARK, "--json"], env=offline_env)
        who = runner.invoke(app, ["--offline", "whoami", "--json"], env=online_env)
        cached = runner.invoke(app, ["--offline", "cache", "ls", "--json"], env=online_env)
    assert guard.attempts == []
    assert got.exit_code == 0, got.output
    assert parse("dataset", got.stdout)["rows"] == 642
    assert "Offline mode: using the verified cached copy of polaris-demo/freesolv" in got.stderr
    assert "cannot be reached" not in got.stderr
    assert by_env.exit_code == 0, by_env.output
    assert parse("benchmark", by_env.stdout)["dataset"] == FREESOLV
    assert who.exit_code == 0 and parse("whoami", who.stdout)["identity"] == "demo-user"
    assert cached.exit_code == 0 and FREESOLV in [r["artifact"] for r in parse("cache", cached.stdout)]


def test_offline_names_what_is_not_cached(online_env: dict[str, str]) -> None:
    with SocketGuard() as guard:
        missing = runner.invoke(app, ["--offline", "datasets", "get", NOT_CACHED], env=online_env)
        listing = runner.invoke(app, ["datasets", "list"], env={**online_env, "POLARIS_OFFLINE": "true"})
        login = runner.invoke(app, ["--offline", "login", "--overwrite"], env=online_env)
    assert guard.attempts == []
    assert missing.exit_code == 1
    text = " ".join(missing.output.split())
    assert f"the dataset {NOT_CACHED} is not in the local cache" in text and "polaris cache ls" in text
    assert listing.exit_code == 1 and "Offline mode is on" in listing.output
    assert login.exit_code == 1 and "Offline mode is on" in login.output


def test_offline_in_the_library(online_env: dict[str, str], local_hub: Any) -> None:
    from polaris.errors import NotCachedError, OfflineError
    from polaris.hub.client import PolarisHubClient

    settings = local_hub.settings(offline=True)
    with SocketGuard() as guard, PolarisHubClient(settings) as client:
        assert client.offline
        dataset = client.get_dataset(FREESOLV)
        assert dataset.n_rows == 642
        with pytest.raises(NotCachedError) as caught:
            client.get_dataset(NOT_CACHED)
        assert caught.value.artifact == NOT_CACHED and caught.value.kind == "dataset"
        with pytest.raises(OfflineError):
            client.list_datasets()
    assert guard.attempts == []


def test_offline_without_a_login_opens_no_socket_either(online_env: dict[str, str]) -> None:
    bare = {k: v for k, v in online_env.items() if k not in ("POLARIS_USERNAME", "POLARIS_PASSWORD")}
    assert runner.invoke(app, ["logout"], env=bare).exit_code == 0
    with SocketGuard() as guard:
        got = runner.invoke(app, ["--offline", "datasets", "get", FREESOLV, "--json"], env=bare)
        missing = runner.invoke(app, ["--offline", "datasets", "get", NOT_CACHED], env=bare)
        who = runner.invoke(app, ["--offline", "whoami"], env=bare)
    assert guard.attempts == []
    assert got.exit_code == 0, got.output
    assert parse("dataset", got.stdout)["artifact"] == FREESOLV
    assert missing.exit_code == 1 and "not in the local cache" in " ".join(missing.output.split())
    assert who.exit_code == 1 and "Offline mode is on" in who.output
