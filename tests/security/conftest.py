"""Helpers for the attack tests: a cache folder shared with another local user, and that user's actions.

Running as root (as here and in CI), "another user" is real: shell commands run in a subprocess started with
another uid (``subprocess.run(user=...)``, i.e. ``setuid`` in the child). Without root, the same files are created by
us and the check is made to believe they belong to someone else (``current_uid`` patched), which exercises the same
refusal paths.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from attack_helpers import IS_ROOT, OTHER_UID, SharedCache

from polaris.hub import _fs_safety


@pytest.fixture
def shared_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[SharedCache]:
    # Not under pytest's tmp folder: that one is 0700, so another user could not even reach it.
    root = Path(tempfile.mkdtemp(prefix="polaris-shared-", dir="/tmp"))
    os.chmod(root, 0o1777)
    monkeypatch.setenv("POLARIS_CACHE_DIR", str(root))

    def run(script: str) -> None:
        if IS_ROOT:
            subprocess.run(
                ["/bin/sh", "-c", "umask 022; " + script],
                cwd=root, user=OTHER_UID, group=OTHER_UID, check=True, timeout=30,
            )  # fmt: skip
        else:
            subprocess.run(["/bin/sh", "-c", "umask 022; " + script], cwd=root, check=True, timeout=30)

    if not IS_ROOT:
        real_uid = os.geteuid()
        other = real_uid + 1

        def fake_uid() -> int:
            return other

        # Our own files now look foreign; the shared root is then "someone else's" too, which is refused as well.
        monkeypatch.setattr(_fs_safety, "current_uid", fake_uid)
    try:
        yield SharedCache(root=root, as_other_user=run, real_other_user=IS_ROOT)
    finally:
        shutil.rmtree(root, ignore_errors=True)
