"""Property-based contract test: schemathesis generates requests from openapi/hub.yaml for every /api operation (those
of polaris-lib 0.10 and those 0.11-0.13 added, ``MAX_EXAMPLES`` each) and sends them to a running local Hub
(anonymously and with a demo user's Hub token). No 5xx; every response matches the spec (status code documented,
content type, body schema)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from polaris.testing import LocalHub

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "hub.yaml"
MAX_EXAMPLES = 20
HTTP_TIMEOUT = 30.0
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
NEW_OPERATIONS = [
    "GET /v2/dataset",
    "GET /v2/benchmark",
    "GET /v2/benchmark/{owner}/{name}",
    "PUT /v2/benchmark/{owner}/{name}",
    "GET /v1/competition/{owner}/{name}",
    "POST /v1/competition-prediction",
    "GET /v2/model",
    "POST /v2/model",
    "GET /v2/model/{owner}/{name}",
    "PUT /v2/model/{owner}/{name}",
]


def _schema(hub: LocalHub) -> Any:
    data = yaml.safe_load(SPEC.read_text())
    data["servers"] = [{"url": hub.api_url}]
    # the user-info operation lives on the identity provider's origin; it is tested over HTTP elsewhere
    data["paths"].pop("/oauth/userinfo", None)
    schema = schemathesis.openapi.from_dict(data)
    schema.config.update(base_url=hub.api_url)
    return schema


def _operations(hub: LocalHub) -> list[Any]:
    ops = []
    for result in _schema(hub).get_all_operations():
        ops.append(result.ok())
    return ops


@pytest.fixture(scope="module")
def hub_token(_polaris_session_hub: LocalHub) -> str:
    r = httpx.post(
        _polaris_session_hub.url + "api/auth/token",
        timeout=HTTP_TIMEOUT,
        data={"grant_type": "password", "username": "demo-user", "password": "demo-password"},
    )
    return str(r.json()["access_token"])


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("authenticated", [False, True], ids=["anonymous", "demo-user"])
def test_every_api_operation_conforms(_polaris_session_hub: LocalHub, hub_token: str, authenticated: bool) -> None:
    hub = _polaris_session_hub
    headers = {"Authorization": f"Bearer {hub_token}"} if authenticated else {}
    operations = _operations(hub)
    assert len(operations) >= 25  # every /api operation of the spec, 0.10 and 0.11-0.13
    tested: list[str] = []
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=HTTP_TIMEOUT)

        check()
        tested.append(operation.label)
    assert any("evaluate" in label for label in tested)
    for new in NEW_OPERATIONS:  # the operations polaris-lib 0.11-0.13 added were exercised too
        assert new in tested, (new, tested)
    # the demo content is intact after all of that
    demo = httpx.get(hub.url + "api/v1/dataset/polaris-demo/freesolv", timeout=HTTP_TIMEOUT)
    assert demo.status_code == 200 and demo.json()["nRows"] == 642
