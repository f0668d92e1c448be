"""Benchmarks on the wire: V1 (``/v1/benchmark``) and V2 (``/v2/benchmark``, Roaring index sets), listings of both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polaris.errors import PolarisHubError
from polaris.hub.wire._listing import merged_listing, summary_from_item
from polaris.hub.wire.core import Page, WireCore, owner_slug
from polaris.hub.wire.generations import Generation, first_answer

__all__ = ["BenchmarksWire"]

LIST_BENCHMARKS_V2 = "list-benchmarks"


class BenchmarksWire:
    """``/v1/benchmark`` and ``/v2/benchmark`` operations, sent through one :class:`~polaris.hub.wire.core.WireCore`."""

    def __init__(self, core: WireCore) -> None:
        self.core = core

    def list_benchmarks_v1(self, *, limit: int, offset: int) -> Page:
        """``GET /v1/benchmark``: ``owner/name`` of each V1 benchmark.

        Raises: see :meth:`WireCore.call_detailed`.
        """
        from polaris_hub_api.api.benchmarks import list_benchmarks
        from polaris_hub_api.models.benchmark_list import BenchmarkList

        result = self.core.call_detailed(
            "GET", "/v1/benchmark", list_benchmarks.sync_detailed, read=True, limit=limit, offset=offset
        )
        parsed = result.parsed
        if not isinstance(parsed, BenchmarkList):
            raise PolarisHubError("GET /v1/benchmark: the Hub's answer is not a benchmark list")
        items = [f"{owner_slug(item.owner)}/{item.name}" for item in parsed.data]
        entries = tuple(summary_from_item("benchmark", item, version=1) for item in parsed.data)
        return Page(items=items, total=parsed.metadata.total, limit=limit, offset=offset, entries=entries)

    def list_benchmarks_v2(self, *, limit: int, offset: int) -> Page:
        """``GET /v2/benchmark`` (0.11+): ``artifactId`` of each V2 benchmark.

        Raises: see :meth:`WireCore.call_detailed`.
        """
        from polaris_hub_api.api.benchmarks import list_benchmarks_v2
        from polaris_hub_api.models.benchmark_v2_list import BenchmarkV2List

        result = self.core.call_detailed(
            "GET", "/v2/benchmark", list_benchmarks_v2.sync_detailed, read=True, limit=limit, offset=offset
        )
        parsed = result.parsed
        if not isinstance(parsed, BenchmarkV2List):
            raise PolarisHubError("GET /v2/benchmark: the Hub's answer is not a benchmark list")
        entries = tuple(summary_from_item("benchmark", item, version=2) for item in parsed.data)
        return Page(
            items=[e.artifact_id for e in entries],
            total=parsed.metadata.total,
            limit=limit,
            offset=offset,
            entries=entries,
        )

    def list_benchmarks(self, *, limit: int, offset: int) -> Page:
        """V2 benchmarks first, then V1 (0.11+ paging rule); V1 only on a Hub without the V2 listing.

        Raises: see :meth:`WireCore.call_detailed`.
        """

        def v2(lim: int, off: int) -> Page:
            return self.list_benchmarks_v2(limit=lim, offset=off)

        def v1(lim: int, off: int) -> Page:
            return self.list_benchmarks_v1(limit=lim, offset=off)

        return merged_listing(self.core.generations, LIST_BENCHMARKS_V2, v2, v1, limit=limit, offset=offset)

    def get_benchmark_v1(self, owner: str, name: str) -> dict[str, Any]:
        """``GET /v1/benchmark/{owner}/{name}``. Raises: see :meth:`WireCore.call_detailed`."""
        from polaris_hub_api.api.benchmarks import get_benchmark

        path = f"/v1/benchmark/{owner}/{name}"
        return self.core.json_call("GET", path, get_benchmark.sync_detailed, read=True, owner=owner, name=name)[0]

    def get_benchmark_v2(self, owner: str, name: str) -> dict[str, Any]:
        """``GET /v2/benchmark/{owner}/{name}`` (0.11+). Raises: see :meth:`WireCore.call_detailed`."""
        from polaris_hub_api.api.benchmarks import get_benchmark_v2

        path = f"/v2/benchmark/{owner}/{name}"
        return self.core.json_call("GET", path, get_benchmark_v2.sync_detailed, read=True, owner=owner, name=name)[0]

    def get_benchmark(self, owner: str, name: str) -> tuple[Generation, dict[str, Any]]:
        """V1, then V2 on 404 (the generation that answered is tried first next time); returns which, and the answer.

        Raises: see :meth:`WireCore.call_detailed` (404 from both -> ArtifactNotFoundError).
        """
        return first_answer(
            self.core.generations,
            "get-benchmark",
            [
                (Generation.V1, lambda: self.get_benchmark_v1(owner, name)),
                (Generation.V2, lambda: self.get_benchmark_v2(owner, name)),
            ],
        )

    def put_benchmark_v1(self, owner: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /v1/benchmark/{owner}/{name}``. Raises: see :meth:`WireCore.call_detailed`."""
        from polaris_hub_api.api.benchmarks import put_benchmark
        from polaris_hub_api.models import BenchmarkUpload

        path = f"/v1/benchmark/{owner}/{name}"
        return self.core.json_call(
            "PUT", path, put_benchmark.sync_detailed, body_model=BenchmarkUpload, body=body, owner=owner, name=name
        )[0]

    def put_benchmark_v2(self, owner: str, slug: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /v2/benchmark/{owner}/{slug}`` (slug in the path). Raises: see :meth:`WireCore.call_detailed`."""
        from polaris_hub_api.api.benchmarks import put_benchmark_v2
        from polaris_hub_api.models import BenchmarkV2Upload

        path = f"/v2/benchmark/{owner}/{slug}"
        return self.core.json_call(
            "PUT",
            path,
            put_benchmark_v2.sync_detailed,
            body_model=BenchmarkV2Upload,
            body=body,
            owner=owner,
            name=slug,
        )[0]
