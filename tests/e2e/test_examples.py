"""The examples in examples/ run as a user would run them (and `make demo` really works)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _env(hub: Any, cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        **hub.env(),
        "POLARIS_USERNAME": "demo-user",
        "POLARIS_PASSWORD": hub.users["demo-user"],
        "POLARIS_CACHE_DIR": str(cache),
    }


@pytest.mark.timeout(300)
def test_make_demo_runs_every_step() -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "run_demo.py")], capture_output=True, text=True, timeout=280, check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    for n in range(1, 9):
        assert f"Step {n}:" in out
    assert "All steps worked" in out
    assert "identical to what was uploaded: True" in out


@pytest.mark.timeout(120)
def test_power_user_example(local_hub: Any, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "power_user_generated_api.py")],
        env=_env(local_hub, tmp_path),
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "polaris-demo/freesolv-hydration-free-energy" in proc.stdout


@pytest.mark.timeout(120)
def test_zarr_pointer_example(local_hub: Any, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "upload_dataset_with_zarr_pointers.py"), "demo-user"],
        env=_env(local_hub, tmp_path),
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "downloaded and verified: 6 rows" in proc.stdout
    assert "shape (12, 3)" in proc.stdout


@pytest.mark.timeout(200)
def test_pytest_plugin_example(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLARIS_")}
    env["POLARIS_CACHE_DIR"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES / "pytest_plugin")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "1 passed" in proc.stdout
