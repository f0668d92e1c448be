"""Many schemathesis examples per operation against a local Hub of its own: no request the spec allows gets a 5xx.

The quick conformance run (``test_emulator_schemathesis.py``) checks status codes and bodies on a few examples per
operation; this one sends ``MAX_EXAMPLES`` generated requests to every ``/api`` operation of ``openapi/hub.yaml``
(half of them with a demo user's Hub token, chosen by hypothesis) and counts the answers by status class. It
fails on any 5xx, printing the counts and the first offending requests as ``curl`` commands.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from polaris.testing import LocalHub

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "hub.yaml"
MAX_EXAMPLES = 200
HTTP_TIMEOUT = 30.0
SHOWN_FAILURES = 10


@pytest.fixture(scope="module")
def hub() -> Iterator[LocalHub]:
    """A Hub of its own: thousands of generated writes must not disturb the session's hub."""
    with LocalHub(seed="demo") as started:
        yield started


def _operations(hub: LocalHub) -> list[Any]:
    data = yaml.safe_load(SPEC.read_text())
    data["servers"] = [{"url": hub.api_url}]
    data["paths"].pop("/oauth/userinfo", None)  # on the identity provider's origin; tested over HTTP elsewhere
    schema = schemathesis.openapi.from_dict(data)
    schema.config.update(base_url=hub.api_url)
    return [result.ok() for result in schema.get_all_operations()]


def _exercise(operation: Any, token: str, server_errors: list[str]) -> collections.Counter[str]:
    """``MAX_EXAMPLES`` generated requests to one operation; returns the answers counted by status class."""
    tally: collections.Counter[str] = collections.Counter()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), authenticated=st.booleans())
    def check(case: Any, authenticated: bool) -> None:
        headers = {"Authorization": f"Bearer {token}"} if authenticated else {}
        response = case.call(headers=headers, timeout=HTTP_TIMEOUT)
        tally["examples"] += 1
        tally[f"{response.status_code // 100}xx"] += 1
        if response.status_code >= 500:
            server_errors.append(f"{response.status_code} {case.as_curl_command(headers=headers)}")

    check()
    return tally


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_no_server_error_in_many_examples_per_operation(hub: LocalHub) -> None:
    token = httpx.post(
        hub.hub_token_url,
        data={"grant_type": "password", "username": "demo-user", "password": hub.users["demo-user"]},
        timeout=HTTP_TIMEOUT,
    ).json()["access_token"]
    operations = _operations(hub)
    assert len(operations) >= 15
    counts: dict[str, collections.Counter[str]] = {}
    server_errors: list[str] = []
    started = time.monotonic()
    for operation in operations:
        counts[operation.label] = _exercise(operation, token, server_errors)
    seconds = time.monotonic() - started
    total = sum(c["examples"] for c in counts.values())
    lines = [f"{label:<70} {dict(sorted(c.items()))}" for label, c in counts.items()]
    print(
        f"\nschemathesis: {len(counts)} operations, {total} requests in {seconds:.0f}s, "
        f"min {min(c['examples'] for c in counts.values())} examples per operation, "
        f"{sum(c['5xx'] for c in counts.values())} 5xx\n" + "\n".join(lines)
    )
    assert not server_errors, f"{len(server_errors)} 5xx answers:\n" + "\n".join(server_errors[:SHOWN_FAILURES])
    thin = {label: c["examples"] for label, c in counts.items() if c["examples"] < MAX_EXAMPLES}
    assert not thin, f"operations that got fewer than {MAX_EXAMPLES} examples: {thin}"
    # the Hub still serves its demo content after all of that
    demo = httpx.get(hub.url + "api/v1/dataset/polaris-demo/freesolv", timeout=HTTP_TIMEOUT)
    assert demo.status_code == 200
