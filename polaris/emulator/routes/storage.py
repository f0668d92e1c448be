"""Anonymous reads of public artifacts' objects over plain HTTP (what polaris-lib 0.13 does with ``root`` URLs).

- ``HEAD /storage/public/{key}`` — ``Content-Length``, ``Content-Type``, ``ETag``, ``Accept-Ranges: bytes``
- ``GET /storage/public/{key}`` — the object (``Range: bytes=a-b`` gives 206 with ``Content-Range``)

``key`` is the bucket key, ``<dataset|benchmark|competition>/<owner>/<slug>/<file>``. Only the objects of a
public artifact whose upload is complete are served, and only under its storage paths (``root``, ``extension``,
``manifest``, the index sets). Everything else answers 404, whether it is missing, private or incomplete, so
nothing about private artifacts leaks; fsspec reads a 404 Zarr key as a missing chunk.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from polaris.emulator import publish
from polaris.emulator.core import (
    BENCHMARK_V2,
    COMPETITION_V1,
    DATASET,
    DATASET_V2,
    PUBLIC_STORAGE_PATH,
    HubState,
    api_error_response,
    storage_keys,
)
from polaris.emulator.db import Artifact
from polaris.emulator.objects import BUCKET

KINDS_BY_TOP = {"dataset": (DATASET, DATASET_V2), "benchmark": (BENCHMARK_V2,), "competition": (COMPETITION_V1,)}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class PublicObjects:
    def __init__(self, state: HubState) -> None:
        self.state = state

    def _artifact(self, key: str) -> Artifact | None:
        """The public, complete artifact that exposes ``key`` under one of its storage paths (blocking)."""
        parts = key.split("/")
        if len(parts) < 4 or any(p in ("", ".", "..") for p in parts):
            return None
        top, owner, slug = parts[:3]
        for kind in KINDS_BY_TOP.get(top, ()):
            art = self.state.db.get_artifact(kind, owner, slug)
            if art is None or art.access != "public":
                continue
            exposed = storage_keys(art).values()
            if not any(key == k or key.startswith(k + "/") for k in exposed):
                continue
            return art if publish.is_published(self.state, art)[0] else None
        return None

    def _fetch(self, method: str, key: str, byte_range: str | None) -> dict[str, Any] | None:
        client = self.state.store.client
        if self._artifact(key) is None:
            return None
        try:
            if method == "HEAD":
                return dict(client.head_object(Bucket=BUCKET, Key=key))
            kwargs = {"Range": byte_range} if byte_range else {}
            answer = dict(client.get_object(Bucket=BUCKET, Key=key, **kwargs))
            answer["Data"] = answer["Body"].read()
            return answer
        except client.exceptions.NoSuchKey:
            return None
        except client.exceptions.ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 416:
                return {"Unsatisfiable": True}
            if status == 404:
                return None
            raise

    async def serve(self, request: Request) -> Response:
        key: str = request.path_params["key"]
        byte_range = request.headers.get("range")
        if byte_range is not None and not _RANGE.match(byte_range.strip()):
            byte_range = None  # not a single byte range: answer the whole object, as S3 does
        answer = await asyncio.to_thread(self._fetch, request.method, key, byte_range)
        if answer is None:
            return api_error_response(404, f"no public object at {key}")
        if answer.get("Unsatisfiable"):
            return Response(status_code=416, headers={"Content-Range": "bytes */*"})
        headers = {
            "Content-Type": str(answer.get("ContentType") or "application/octet-stream"),
            "ETag": str(answer.get("ETag", "")),
            "Accept-Ranges": "bytes",
        }
        if request.method == "HEAD":
            headers["Content-Length"] = str(answer["ContentLength"])
            return Response(status_code=200, headers=headers)
        data: bytes = answer["Data"]
        if answer.get("ContentRange"):
            headers["Content-Range"] = str(answer["ContentRange"])
            return Response(data, status_code=206, headers=headers)
        return Response(data, status_code=200, headers=headers)


def routes(state: HubState) -> list[Route]:
    objects = PublicObjects(state)
    path = f"/{PUBLIC_STORAGE_PATH}/{{key:path}}"
    if not state.modern:
        return []  # a 0.10-era Hub hands out no direct URLs: Starlette's 404
    return [Route(path, objects.serve, methods=["GET", "HEAD"])]
