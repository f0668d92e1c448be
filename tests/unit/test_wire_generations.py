"""Generation negotiation: preference and absence memory, the V2-then-V1 paging rule, the model-upload fallback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from polaris.errors import ArtifactNotFoundError, PolarisHubError
from polaris.hub.wire import Page, Wire
from polaris.hub.wire._listing import merge_v2_then_v1
from polaris.hub.wire.generations import Generations


def _not_found() -> PolarisHubError:
    return ArtifactNotFoundError("missing", status_code=404)


def test_the_generation_that_answered_is_tried_first_next_time() -> None:
    gens = Generations()
    calls: list[str] = []

    def newer() -> str:
        calls.append("newer")
        raise _not_found()

    def older() -> str:
        calls.append("older")
        return "ok"

    assert gens.call("get-x", [("new", newer), ("old", older)]) == ("old", "ok")
    assert calls == ["newer", "older"]
    calls.clear()
    assert gens.call("get-x", [("new", newer), ("old", older)]) == ("old", "ok")
    assert calls == ["older"]  # one request: the fallback cost one extra request once
    assert gens.preferred("get-x") == "old"


def test_a_missing_artifact_in_the_preferred_generation_still_tries_the_other() -> None:
    gens = Generations()
    gens.prefer("get-x", "old")

    def old() -> str:
        raise _not_found()

    assert gens.call("get-x", [("new", lambda: "new!"), ("old", old)]) == ("new", "new!")
    assert gens.preferred("get-x") == "new"


def test_other_errors_are_not_fallbacks_and_absence_is_remembered() -> None:
    gens = Generations()

    def forbidden() -> str:
        raise PolarisHubError("no", status_code=403)

    with pytest.raises(PolarisHubError) as err:
        gens.call("op", [("a", forbidden), ("b", lambda: "b")])
    assert err.value.status_code == 403
    calls: list[str] = []

    def gone() -> str:
        calls.append("a")
        raise _not_found()

    with pytest.raises(ArtifactNotFoundError):
        gens.call("list", [("a", gone)], absent_on_miss=True)
    assert gens.is_absent("list@a")
    with pytest.raises(PolarisHubError, match="no endpoint"):
        gens.call("list", [("a", gone)], absent_on_miss=True)
    assert calls == ["a"]


class _Pages:
    """A V2 and a V1 listing of known items that record the (limit, offset) they are asked."""

    def __init__(self, v2: list[str], v1: list[str]) -> None:
        self.items = {"v2": v2, "v1": v1}
        self.asked: list[tuple[str, int, int]] = []

    def fetch(self, which: str, limit: int, offset: int) -> Page:
        self.asked.append((which, limit, offset))
        items = self.items[which][offset : offset + limit]
        return Page(items=items, total=len(self.items[which]), limit=limit, offset=offset)


@pytest.mark.parametrize("n_v2, n_v1", [(0, 4), (1, 3), (3, 0), (3, 5), (5, 5)])
def test_merged_pages_are_slices_of_v2_then_v1(n_v2: int, n_v1: int) -> None:
    pages = _Pages([f"v2-{i}" for i in range(n_v2)], [f"v1-{i}" for i in range(n_v1)])
    full = pages.items["v2"] + pages.items["v1"]
    for limit in range(1, len(full) + 2):
        for offset in range(len(full) + 2):
            page = merge_v2_then_v1(
                lambda lim, off: pages.fetch("v2", lim, off),
                lambda lim, off: pages.fetch("v1", lim, off),
                limit=limit,
                offset=offset,
            )
            assert page.items == full[offset : offset + limit], (limit, offset)


def test_merged_paging_asks_what_polaris_lib_asks() -> None:
    pages = _Pages(["a"], [f"v1-{i}" for i in range(200)])
    merge_v2_then_v1(
        lambda lim, off: pages.fetch("v2", lim, off), lambda lim, off: pages.fetch("v1", lim, off), limit=100, offset=0
    )
    assert pages.asked == [("v2", 100, 0), ("v1", 99, 0)]  # facts 0.11-0.13, section 3
    pages.asked.clear()
    full_v2 = _Pages([f"v2-{i}" for i in range(5)], ["x"])
    page = merge_v2_then_v1(
        lambda lim, off: full_v2.fetch("v2", lim, off),
        lambda lim, off: full_v2.fetch("v1", lim, off),
        limit=2,
        offset=1,
    )
    assert page.items == ["v2-1", "v2-2"] and full_v2.asked == [("v2", 2, 1)]  # a full V2 page: V1 is not asked


# ------------------------------------------------------------------------------------------- model upload fallback
class _OldModelHub(BaseHTTPRequestHandler):
    """A 0.11.9-style Hub: ``POST /v2/model`` exists, ``PUT /v2/model/{owner}/{slug}`` does not (405)."""

    seen: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        return

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length", "0"))
        data: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
        return data

    def _send(self, status: int, payload: dict[str, Any] | None) -> None:
        raw = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_PUT(self) -> None:
        self._body()
        self.seen.append(f"PUT {self.path}")
        self._send(405, {"message": "method not allowed"})

    def do_POST(self) -> None:
        body = self._body()
        self.seen.append(f"POST {self.path} parent={'parentArtifactId' in body}")
        owner = body["owner"]
        answer = {**body, "owner": {"slug": owner}, "artifactId": f"{owner}/{body['slug']}", "artifactVersion": 1}
        self._send(201, answer)


@pytest.fixture
def old_hub() -> Iterator[str]:
    _OldModelHub.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OldModelHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api"
    finally:
        server.shutdown()
        server.server_close()


def test_model_upload_falls_back_to_post_once(old_hub: str) -> None:
    from polaris.artifacts import Model

    body = {"access": "private", **Model(name="my_model", owner="demo-user").to_wire(), "parentArtifactId": None}
    with httpx.Client(base_url=old_hub) as http:
        wire = Wire(http, old_hub)
        stored, _ = wire.models.put_model("demo-user", "my-model", body)
        assert stored["artifactId"] == "demo-user/my-model"
        wire.models.put_model("demo-user", "my-model", body)
    assert _OldModelHub.seen == [
        "PUT /api/v2/model/demo-user/my-model",
        "POST /api/v2/model parent=False",  # 0.11.9 knows no versions: parentArtifactId is not sent there
        "POST /api/v2/model parent=False",
    ]
