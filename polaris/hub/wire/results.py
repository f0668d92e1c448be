"""Results on the wire: ``POST /v2/result`` (V1 and V2 benchmarks alike)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polaris.errors import PolarisHubError
from polaris.hub.wire.core import WireCore

__all__ = ["ResultsWire"]


class ResultsWire:
    """``/v2/result``, sent through one :class:`~polaris.hub.wire.core.WireCore`."""

    def __init__(self, core: WireCore) -> None:
        self.core = core

    def create_result_v2(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        """``POST /v2/result``; returns the stored result and its ``Content-Location`` (relative to hub_url).

        Raises: see :meth:`WireCore.call_detailed`.
        """
        from polaris_hub_api.api.results import create_result
        from polaris_hub_api.models import ResultUpload

        try:
            data, headers = self.core.json_call(
                "POST", "/v2/result", create_result.sync_detailed, body_model=ResultUpload, body=body
            )
        except PolarisHubError as exc:
            # polaris-lib never read this answer's body, so a Hub may send none: success is the 2xx status.
            last = self.core.last_response()
            if exc.status_code is None or not 200 <= exc.status_code < 300 or last is None:
                raise
            return {}, last.headers.get("content-location")
        return data, headers.get("content-location")
