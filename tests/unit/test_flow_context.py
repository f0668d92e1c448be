"""The one offline fallback (``FlowContext.fetch``) on a real cache folder: which failures fall back, which never do,
and that an entry records (and gives back) the generation that answered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from polaris.errors import ArtifactNotFoundError, HubConnectionError, HubServerError, NotCachedError
from polaris.hub.cache import CacheKey, DownloadCache
from polaris.hub.flows.context import GENERATION_FILE, FlowContext
from polaris.hub.settings import PolarisHubSettings
from polaris.hub.wire.generations import Generation

ANSWER = {"artifactId": "org-a/thing", "md5Sum": "0" * 32, "name": "thing"}


def _context(tmp_path: Path, *, offline: bool = False) -> FlowContext:
    cache = DownloadCache(tmp_path / "cache")
    settings = PolarisHubSettings(hub_url="http://127.0.0.1:9/", offline=offline)
    return FlowContext(wire=None, storage_token=lambda r, s: {}, settings=settings, cache=cache)  # type: ignore[arg-type]


def _never(*_: Any) -> Generation:
    raise AssertionError("the generation was recorded; nothing should be inferred")


def _raises(error: Exception) -> Any:
    def ask() -> Any:
        raise error

    return ask


def test_the_hub_answering_is_used_and_a_remembered_entry_records_its_generation(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    fetched = ctx.fetch("model", "org-a", "thing", lambda: (Generation.V2, dict(ANSWER)), infer=_never)
    assert fetched.generation is Generation.V2 and not fetched.from_cache and fetched.hub_down is None
    ctx.remember("model", "org-a/thing", Generation.V2, ANSWER)
    [info] = ctx.cache.entries()
    assert (info.path / GENERATION_FILE).read_text() == "2"


@pytest.mark.parametrize("error", [HubConnectionError("no route"), HubServerError("503", status_code=503)])
def test_unreachable_falls_back_to_the_verified_copy(tmp_path: Path, error: Exception) -> None:
    ctx = _context(tmp_path)
    ctx.remember("model", "org-a/thing", Generation.V2, ANSWER)
    fetched = ctx.fetch("model", "org-a", "thing", _raises(error), infer=_never)
    assert fetched.from_cache and fetched.data == ANSWER and fetched.generation is Generation.V2
    assert fetched.hub_down is error


def test_a_refusal_is_never_masked_by_the_cache(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    ctx.remember("model", "org-a/thing", Generation.V2, ANSWER)
    with pytest.raises(ArtifactNotFoundError):
        ctx.fetch("model", "org-a", "thing", _raises(ArtifactNotFoundError("gone", status_code=404)), infer=_never)


def test_unreachable_and_not_cached_raises_the_hubs_error(tmp_path: Path) -> None:
    error = HubConnectionError("no route")
    with pytest.raises(HubConnectionError) as caught:
        _context(tmp_path).fetch("model", "org-a", "thing", _raises(error), infer=_never)
    assert caught.value is error


def test_offline_never_asks_and_names_what_is_missing(tmp_path: Path) -> None:
    ctx = _context(tmp_path, offline=True)
    with pytest.raises(NotCachedError) as caught:
        ctx.fetch("benchmark", "org-a", "thing", _raises(AssertionError("asked the Hub")), infer=_never)
    assert caught.value.kind == "benchmark" and caught.value.artifact == "org-a/thing"
    ctx.remember("benchmark", "org-a/thing", Generation.V1, ANSWER)
    fetched = ctx.fetch("benchmark", "org-a", "thing", _raises(AssertionError("asked the Hub")), infer=_never)
    assert fetched.from_cache and fetched.generation is Generation.V1


def test_a_part_of_a_cached_artifact_comes_from_the_cache_too(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    ctx.remember("benchmark", "org-a/thing", Generation.V1, ANSWER)
    parent = ctx.fetch("benchmark", "org-a", "thing", _raises(HubConnectionError("down")), infer=_never)
    with pytest.raises(HubConnectionError):  # the dataset is not cached: the Hub's error, without asking again
        ctx.fetch(
            "dataset", "org-a", "data", _raises(AssertionError("asked the Hub again")), infer=_never, parent=parent
        )


def test_entries_without_a_recorded_generation_are_inferred(tmp_path: Path) -> None:
    ctx = _context(tmp_path)

    def fill(tmp: Path) -> None:
        tmp.mkdir(parents=True)
        (tmp / "metadata.json").write_text('{"artifactId": "org-a/thing", "splitContent": {}}')

    ctx.cache.fetch(CacheKey("benchmark", "org-a/thing", "1" * 32), fill)
    fetched = ctx.fetch(
        "benchmark", "org-a", "thing", _raises(HubConnectionError("down")), infer=lambda data: Generation.V2
    )
    assert fetched.generation is Generation.V2
