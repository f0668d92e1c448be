"""Fixtures of the e2e tests: ``client``, a logged-in client of the session's local Hub (demo-user)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from artifact_helpers import hub_client  # tests/ is on sys.path (conftest)

from polaris.hub.client import PolarisHubClient


@pytest.fixture
def client(local_hub: Any) -> Iterator[PolarisHubClient]:
    with hub_client(local_hub) as c:
        yield c
