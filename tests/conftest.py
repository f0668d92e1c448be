"""Suite-wide fixtures. The `local_hub` fixtures come from the `polaris.testing` pytest plugin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the token cache and data cache at a fresh folder, and keep real settings out of tests."""
    cache = tmp_path_factory.mktemp("polaris-cache")
    monkeypatch.setenv("POLARIS_CACHE_DIR", str(cache))
    for var in ("POLARIS_HUB_URL", "POLARIS_USERNAME", "POLARIS_PASSWORD", "POLARIS_API_URL"):
        monkeypatch.delenv(var, raising=False)
    yield cache
