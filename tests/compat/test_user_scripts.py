"""Polaris users' scripts, written as the polaris-lib tutorials and polaris-recipes notebooks write them, each run
unchanged in a fresh process against the local Hub (logged in through ``POLARIS_USERNAME``/``POLARIS_PASSWORD``).

Each script asserts what it relies on and ends by printing ``OK <name>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from polaris.testing import LocalHub

SCRIPTS = sorted((Path(__file__).parent / "scripts").glob("s*.py"))
#: a script runs in its own interpreter (pandas, zarr, sklearn imports) on a loaded machine: 10-40 s when the
#: machine is quiet
SCRIPT_TIMEOUT = 240


def test_the_suite_has_its_scripts() -> None:
    assert len(SCRIPTS) >= 8, [p.name for p in SCRIPTS]


@pytest.mark.slow
@pytest.mark.timeout(SCRIPT_TIMEOUT + 60)  # above the subprocess timeout, so a hung script reports its output
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_user_script_runs_unchanged(script: Path, local_hub: LocalHub, tmp_path: Path) -> None:
    env = {
        **os.environ,
        **local_hub.env(),
        "POLARIS_USERNAME": "demo-user",
        "POLARIS_PASSWORD": local_hub.users["demo-user"],
        "POLARIS_CACHE_DIR": str(tmp_path / "cache"),
        "POLARIS_PROGRESS": "0",
    }
    try:
        out = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # the child is killed by subprocess.run
        pytest.fail(f"{script.name} ran over {SCRIPT_TIMEOUT} s:\n{exc.stdout!r}\n{exc.stderr!r}")
    assert out.returncode == 0, f"{script.name} failed:\n{out.stdout}\n{out.stderr}"
    assert out.stdout.strip().splitlines()[-1] == f"OK {script.stem}", out.stdout
