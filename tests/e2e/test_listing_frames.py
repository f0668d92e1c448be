"""Listings as DataFrames (``polaris.hub.listing`` and ``list_*(as_frame=True)``) against the local Hub."""

from __future__ import annotations

from typing import Any

from polaris.hub.listing import COLUMNS, benchmarks_frame, competitions_frame, datasets_frame, models_frame


def test_datasets_frame_has_owner_name_version_access_size(hub_client: Any) -> None:
    frame = datasets_frame(hub_client)
    assert tuple(frame.columns) == COLUMNS
    row = frame.set_index("artifact").loc["polaris-demo/freesolv"]
    assert (row["owner"], row["name"], row["kind"], row["version"], row["access"]) == (
        "polaris-demo",
        "freesolv",
        "dataset",
        1,
        "public",
    )
    metadata = hub_client._wire.datasets.get_dataset_v1("polaris-demo", "freesolv")
    assert row["size_bytes"] == metadata["tableContent"]["size"] > 0
    quick = datasets_frame(hub_client, details=False, owner="POLARIS-DEMO", contains="free")
    assert set(quick["owner"]) == {"polaris-demo"} and quick["size_bytes"].isna().all()
    assert datasets_frame(hub_client, owner="nobody-at-all").empty


def test_list_datasets_as_frame_is_one_page(hub_client: Any) -> None:
    names = hub_client.list_datasets(limit=1)
    frame = hub_client.list_datasets(limit=1, as_frame=True)
    assert list(frame["artifact"]) == names and len(frame) == 1
    assert tuple(frame.columns) == COLUMNS


def test_other_frames(hub_client: Any) -> None:
    benches = benchmarks_frame(hub_client)
    assert "polaris-demo/freesolv-hydration-free-energy" in set(benches["artifact"])
    assert set(benches["kind"]) == {"benchmark"}
    comps = competitions_frame(hub_client)
    assert "polaris-demo/freesolv-challenge" in set(comps["artifact"])
    assert tuple(models_frame(hub_client).columns) == COLUMNS


def test_every_listing_gives_its_page_as_a_frame(hub_client: Any) -> None:
    for kind, lister in (
        ("benchmark", hub_client.list_benchmarks),
        ("competition", hub_client.list_competitions),
        ("model", hub_client.list_models),
    ):
        names = lister(limit=2)
        frame = lister(limit=2, as_frame=True)
        assert tuple(frame.columns) == COLUMNS and list(frame["artifact"]) == names, kind
        assert set(frame["kind"]) <= {kind} and frame["size_bytes"].isna().all()
    summaries = hub_client.list_artifacts("dataset", limit=3)
    frame = hub_client.list_artifacts("dataset", limit=3, as_frame=True)
    assert list(frame["artifact"]) == [s.artifact_id for s in summaries]
    assert list(frame["version"]) == [s.version for s in summaries]
