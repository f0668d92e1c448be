"""Polaris Hub client: datasets, benchmarks, results and competitions for drug discovery.

Importing ``polaris`` is cheap; the heavy libraries load when data is loaded. Quick use::

    import polaris
    benchmark = polaris.load_benchmark("polaris-demo/freesolv-hydration-free-energy")
    train, test = benchmark.get_train_test_split()

The full client is :class:`polaris.hub.client.PolarisHubClient`; settings come from ``POLARIS_*`` variables
(:class:`polaris.hub.settings.PolarisHubSettings`).

polaris-lib's import paths (``polaris.dataset``, ``polaris.benchmark``, ``polaris.competition``, ``polaris.model``,
``polaris.evaluate``, ``polaris.utils.types``) name the same classes as :mod:`polaris.artifacts`; see
``docs/migrating.md``. When polaris-lib's files are found mixed into this package, a warning says how to repair the
environment (:mod:`polaris._coexistence`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polaris.artifacts import (
        BenchmarkSpecification,
        BenchmarkV2Specification,
        CompetitionSpecification,
        DatasetV1,
        DatasetV2,
        Model,
    )
    from polaris.types import ChecksumStrategy

__all__ = ["__version__", "load_benchmark", "load_competition", "load_dataset", "load_model"]

__version__ = "0.1.0"


def _check_environment() -> None:
    from polaris._coexistence import warn_if_mixed

    warn_if_mixed()


_check_environment()


def _local_json(path: str) -> Any:
    """``path`` as a local JSON file written by ``to_json`` (polaris-lib's loaders take both), else ``None``."""
    import os

    if path.endswith(".json") and os.path.isfile(path):
        return path
    return None


def _client(**settings: Any) -> Any:
    from polaris.hub.client import PolarisHubClient
    from polaris.hub.settings import PolarisHubSettings

    client = PolarisHubClient(PolarisHubSettings(**settings) if settings else None)
    client.login()  # does nothing when a usable login is cached
    return client


def load_dataset(
    artifact_id: str, verify_checksum: ChecksumStrategy = "verify_unless_zarr", **settings: Any
) -> DatasetV1 | DatasetV2:
    """Load ``"owner/name"`` from the Hub (logging in first if needed). ``settings`` override ``POLARIS_*``.

    A path to a ``dataset.json`` written by ``dataset.to_json`` is read locally (as polaris-lib does).

    Raises: see :meth:`polaris.hub.client.PolarisHubClient.get_dataset`.
    """
    local = _local_json(artifact_id)
    if local is not None:
        import json

        from polaris.artifacts import DatasetV1, DatasetV2

        with open(local) as f:
            is_v2 = "table" not in json.load(f)
        return (DatasetV2 if is_v2 else DatasetV1).from_json(local)  # type: ignore[no-any-return]
    with _client(**settings) as client:
        dataset: DatasetV1 | DatasetV2 = client.get_dataset(artifact_id, verify_checksum=verify_checksum)
        return dataset


def load_benchmark(
    artifact_id: str, verify_checksum: ChecksumStrategy = "verify_unless_zarr", **settings: Any
) -> BenchmarkSpecification | BenchmarkV2Specification:
    """Load benchmark ``"owner/name"`` with its dataset (or a ``benchmark.json`` written by ``to_json``).

    Raises: see :meth:`polaris.hub.client.PolarisHubClient.get_benchmark`.
    """
    local = _local_json(artifact_id)
    if local is not None:
        import json

        from polaris.artifacts import BenchmarkSpecification, BenchmarkV2Specification

        with open(local) as f:
            is_v2 = isinstance(json.load(f).get("split"), dict)
        return (BenchmarkV2Specification if is_v2 else BenchmarkSpecification).from_json(local)  # type: ignore[no-any-return]
    with _client(**settings) as client:
        benchmark: BenchmarkSpecification | BenchmarkV2Specification = client.get_benchmark(
            artifact_id, verify_checksum=verify_checksum
        )
        return benchmark


def load_competition(
    artifact_id: str, verify_checksum: ChecksumStrategy = "verify_unless_zarr", **settings: Any
) -> CompetitionSpecification:
    """Load competition ``"owner/name"`` with its dataset (test targets stay on the Hub).

    Raises: see :meth:`polaris.hub.client.PolarisHubClient.get_competition`.
    """
    with _client(**settings) as client:
        competition: CompetitionSpecification = client.get_competition(artifact_id, verify_checksum=verify_checksum)
        return competition


def load_model(artifact_id: str, **settings: Any) -> Model:
    """Load model ``"owner/name"`` (its metadata; polaris-lib 0.11-0.13's ``polaris.load_model``).

    Raises: see :meth:`polaris.hub.client.PolarisHubClient.get_model`.
    """
    with _client(**settings) as client:
        model: Model = client.get_model(artifact_id)
        return model
