"""Packaging: ``python -m build`` makes an sdist and a wheel, and the wheel works in a clean venv outside the repo.

``python -m build`` (no ``--wheel``/``--sdist``) builds the sdist first and the wheel *from the sdist*, so a
file missing from the sdist also breaks the wheel. The wheel is then installed with its ``emulator`` extra
into a fresh ``python -m venv`` in a temporary folder (dependencies from the package index pip is configured
with); every check runs from a temporary working directory with a cleaned environment, so nothing can be
imported from the source tree by accident.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
DIST_NAME = "polaris_hub_client"
#: Budgets of the individual steps (seconds).
BUILD_TIMEOUT = 300
VENV_TIMEOUT = 120
INSTALL_TIMEOUT = 600
COMMAND_TIMEOUT = 120
#: Files every wheel must carry (besides the Python modules).
WHEEL_DATA_FILES = (
    "polaris_hub_api/__init__.py",
    "polaris_hub_api/py.typed",
    "polaris_hub_api/client.py",
    "polaris/emulator/hub.yaml",
    "polaris/emulator/pages/login.html",
    "polaris/emulator/pages/consent.html",
    "polaris/emulator/seed_data/freesolv.csv",
    "polaris/cli/__init__.py",
    "polaris/testing/plugin.py",
)
#: Files (relative to the sdist's top folder) the sdist must carry to rebuild the package and run its tests.
SDIST_FILES = (
    "pyproject.toml",
    "README.md",
    "openapi/hub.yaml",
    "generated/polaris_hub_api/__init__.py",
    "generated/polaris_hub_api/py.typed",
    "polaris/__init__.py",
    "polaris/emulator/seed_data/freesolv.csv",
    "tests/conftest.py",
    "scripts/regen.sh",
    "scripts/ensure-browser.sh",
)


@dataclass
class Installed:
    wheel: Path
    sdist: Path
    venv: Path
    python: Path
    polaris: Path
    site_packages: Path
    workdir: Path
    env: dict[str, str]

    def run(self, *args: str | Path, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run a command from the clean working directory with the clean environment; fail on a non-zero exit."""
        done = subprocess.run(
            [str(a) for a in args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"{args} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        return done


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, (
        f"{args} exited {done.returncode}\nstdout:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done


def _clean_env(home: Path) -> dict[str, str]:
    """The environment minus anything pointing at the source tree or its venv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "POLARIS_", "PYTEST_"))}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    env["POLARIS_CACHE_DIR"] = str(home / "polaris-cache")
    env["PYTHONNOUSERSITE"] = "1"
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "120"
    return env


def _outside_repo(path: Path) -> bool:
    return not path.resolve().is_relative_to(REPO)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("packaging")
    assert _outside_repo(root), f"the temporary folder {root} is inside the repository"
    env = _clean_env(root)
    dist = root / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], cwd=root, env=env, timeout=BUILD_TIMEOUT)
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in dist.iterdir())

    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=root, env=env, timeout=VENV_TIMEOUT)
    python = venv / "bin" / "python"
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-input", f"{wheels[0]}[emulator]"],
        cwd=root,
        env=env,
        timeout=INSTALL_TIMEOUT,
    )
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=root,
        env=env,
        timeout=COMMAND_TIMEOUT,
    ).stdout.strip()
    workdir = root / "work"
    workdir.mkdir()
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env["PATH"]])
    env["VIRTUAL_ENV"] = str(venv)
    try:
        yield Installed(wheels[0], sdists[0], venv, python, venv / "bin" / "polaris", Path(purelib), workdir, env)
    finally:
        shutil.rmtree(root, ignore_errors=True)  # the venv weighs hundreds of MB; pytest would keep three


# ---------------------------------------------------------------------------------------------- the archives
def test_wheel_layout(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        dist_info = f"{DIST_NAME}-0.1.0.dist-info"
        metadata = Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    assert installed.wheel.name.startswith(f"{DIST_NAME}-") and installed.wheel.name.endswith("-py3-none-any.whl")
    missing = [name for name in WHEEL_DATA_FILES if name not in names]
    assert not missing, f"the wheel lacks {missing}"
    # The generated client is a top-level package, not generated/polaris_hub_api.
    tops = {name.split("/")[0] for name in names}
    assert tops == {"polaris", "polaris_hub_api", dist_info}, tops
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    assert not any(name.startswith(("tests/", "openapi/", "generated/")) for name in names)
    # The spec copy is the spec.
    with zipfile.ZipFile(installed.wheel) as wheel:
        assert wheel.read("polaris/emulator/hub.yaml") == (REPO / "openapi" / "hub.yaml").read_bytes()

    assert metadata["Name"] == "polaris-hub-client"
    assert metadata["Requires-Python"] == ">=3.11"
    requires = metadata.get_all("Requires-Dist") or []
    assert any(r.startswith("httpx") for r in requires)
    assert any(r.startswith("uvicorn") and "extra == 'emulator'" in r for r in requires), requires
    assert "polaris = polaris.cli:main" in entry_points
    assert "[pytest11]" in entry_points and "polaris = polaris.testing.plugin" in entry_points


def test_sdist_layout(installed: Installed) -> None:
    with tarfile.open(installed.sdist) as sdist:
        names = set(sdist.getnames())
    top = installed.sdist.name.removesuffix(".tar.gz")
    missing = [name for name in SDIST_FILES if f"{top}/{name}" not in names]
    assert not missing, f"the sdist lacks {missing}"
    generated = [n for n in names if n.startswith(f"{top}/generated/polaris_hub_api/") and n.endswith(".py")]
    assert len(generated) > 10, generated
    assert not any("__pycache__" in n or n.endswith(".pyc") or "/.venv/" in n or "/.git/" in n for n in names)


# ---------------------------------------------------------------------------------------------- the clean venv
def test_imports_come_from_the_venv(installed: Installed) -> None:
    assert _outside_repo(installed.workdir) and _outside_repo(installed.venv)
    script = """
import json, sys
from importlib import metadata, resources
import polaris, polaris_hub_api, polaris.hub.client, polaris.emulator.server
from polaris_hub_api.api.datasets import list_datasets_v1
heavy = [m for m in ("pandas", "numpy", "pyarrow", "zarr", "obstore", "sklearn", "scipy") if m in sys.modules]
print(json.dumps({
    "polaris": polaris.__file__,
    "polaris_hub_api": polaris_hub_api.__file__,
    "client": polaris.hub.client.__file__,
    "py_typed": resources.files("polaris_hub_api").joinpath("py.typed").is_file(),
    "spec": str(polaris.emulator.server.SPEC_PATH),
    "spec_exists": polaris.emulator.server.SPEC_PATH.is_file(),
    "version": metadata.version("polaris-hub-client"),
    "heavy": heavy,
    "sys_path": sys.path,
}))
"""
    done = installed.run(installed.python, "-c", script)
    info = json.loads(done.stdout)
    site = str(installed.site_packages)
    for key in ("polaris", "polaris_hub_api", "client"):
        assert info[key].startswith(site + os.sep), f"{key} imported from {info[key]}, not from {site}"
    assert not any(str(REPO) in entry for entry in info["sys_path"]), info["sys_path"]
    assert info["py_typed"]
    # The emulator validates against the copy of the spec inside the installed package.
    assert info["spec"] == str(installed.site_packages / "polaris" / "emulator" / "hub.yaml") and info["spec_exists"]
    assert info["version"] == "0.1.0"
    assert info["heavy"] == [], f"import polaris.hub.client pulled in {info['heavy']}"


def test_polaris_cli_from_the_venv(installed: Installed) -> None:
    assert installed.polaris.is_file()
    top = installed.run(installed.polaris, "--help").stdout
    for command in ("login", "logout", "whoami", "emulator"):
        assert command in top, top
    start = installed.run(installed.polaris, "emulator", "start", "--help").stdout
    assert "--seed" in start and "--port" in start, start
    module = installed.run(installed.python, "-m", "polaris.cli", "--help").stdout
    assert "login" in module
    check = installed.run(installed.python, "-m", "pip", "check")
    assert "No broken requirements" in check.stdout


def test_installed_emulator_serves_the_installed_client(installed: Installed) -> None:
    """The installed package alone: start a seeded local Hub, log in with a password, list and download metadata."""
    script = """
import json
from polaris.hub.client import PolarisHubClient
from polaris.testing import LocalHub

with LocalHub(seed="demo") as hub:
    settings = hub.settings(username="demo-user", password=hub.users["demo-user"])
    with PolarisHubClient(settings, cache_auth_token=False) as client:
        result = client.login()
        print(json.dumps({
            "identity": result.identity,
            "whoami": client.whoami(),
            "datasets": client.list_datasets(),
            "benchmarks": client.list_benchmarks(),
            "banner": hub.output[:1],
        }))
"""
    done = installed.run(installed.python, "-c", script, timeout=COMMAND_TIMEOUT)
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["identity"] == "demo-user" and info["whoami"] == "demo-user"
    assert "polaris-demo/freesolv" in info["datasets"]
    assert "polaris-demo/freesolv-hydration-free-energy" in info["benchmarks"]
    assert info["banner"][0].startswith("Polaris Hub emulator ready at http://127.0.0.1:")
