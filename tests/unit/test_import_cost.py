"""Importing the client (and starting the CLI) must not pull in the heavy scientific stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "pyarrow", "zarr", "obstore", "numpy", "sklearn", "scipy")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import polaris.hub.client",
        "from polaris.hub.client import PolarisHubClient; PolarisHubClient.__init__",
        "import polaris.cli",
        "import polaris",
    ],
)
def test_no_heavy_imports(code: str) -> None:
    loaded = _loaded_after(code)
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_cli_module_does_not_import_the_client() -> None:
    loaded = _loaded_after("import polaris.cli")
    assert "authlib" not in loaded and "pydantic_settings" not in loaded


def test_client_really_is_an_httpx_client_without_warnings() -> None:
    code = (
        "import warnings; warnings.simplefilter('error')\n"
        "import httpx\n"
        "from polaris.hub.client import PolarisHubClient\n"
        "assert issubclass(PolarisHubClient, httpx.Client)\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
