"""POST /v2/result: polaris-lib never read the answer's body, so a Hub that sends none must still be a success.

A Hub answering 201 with an empty body cannot be caused with the local Hub (it always answers JSON), so this
one case uses httpx's MockTransport standing in for such a Hub.
"""

from __future__ import annotations

import json

import httpx
import pytest

from polaris.errors import InvalidRequestError
from polaris.hub.wire import Wire

BODY = {
    "access": "private",
    "name": "my-results",
    "results": [{"testSet": "test", "targetLabel": "y", "scores": {"r2": 0.5}}],
    "benchmarkArtifactId": "org-a/bench-one",
}


def _wire(status: int, content: bytes, headers: dict[str, str]) -> tuple[Wire, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=content, headers=headers)

    http = httpx.Client(base_url="http://hub.test/api", transport=httpx.MockTransport(handler))
    return Wire(http, "http://hub.test/api"), seen


def test_empty_2xx_answer_is_a_success_with_its_link() -> None:
    wire, seen = _wire(201, b"", {"Content-Location": "/benchmarks/org-a/bench-one/results/r1"})
    data, location = wire.results.create_result_v2(BODY)
    assert data == {} and location == "/benchmarks/org-a/bench-one/results/r1"
    assert len(seen) == 1 and json.loads(seen[0].content)["benchmarkArtifactId"] == "org-a/bench-one"


def test_json_answer_is_returned() -> None:
    stored = {**BODY, "owner": {"slug": "me-user"}, "slug": "my-results", "artifactId": "me-user/my-results"}
    wire, _ = _wire(201, json.dumps(stored).encode(), {"Content-Type": "application/json"})
    data, location = wire.results.create_result_v2(BODY)
    assert data["owner"] == {"slug": "me-user"} and location is None


def test_errors_still_raise() -> None:
    wire, seen = _wire(422, b'{"message": "results: empty"}', {"Content-Type": "application/json"})
    with pytest.raises(InvalidRequestError, match="results: empty"):
        wire.results.create_result_v2(BODY)
    assert len(seen) == 1  # a POST is never retried
