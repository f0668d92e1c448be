"""Polaris Hub client: datasets, benchmarks, results and competitions for drug discovery.

Importing ``polaris`` is cheap; the heavy libraries load when data is loaded. Quick use::

    import polaris
    benchmark = polaris.load_benchmark("polaris-demo/freesolv-hydration-free-energy")
    train, test = benchmark.get_train_test_split()

The full client is :class:`polaris.hub.client.PolarisHubClient`; settings come from ``POLARIS_*`` variables
(:class:`polaris.hub.settings.PolarisHubSettings`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polaris.artifacts import BenchmarkSpecification, CompetitionSpecification, DatasetV1, DatasetV2
    from polaris.types import ChecksumStrategy

__all__ = ["__version__", "load_benchmark", "load_competition", "load_dataset"]

__version__ = "0.1.0"


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

    Raises: see :meth:`polaris.hub.client.PolarisHubClient.get_dataset`.
    """
    with _client(**settings) as client:
        dataset: DatasetV1 | DatasetV2 = client.get_dataset(artifact_id, verify_checksum=verify_checksum)
        return dataset


def load_benchmark(
    artifact_id: str, verify_checksum: ChecksumStrategy = "verify_unless_zarr", **settings: Any
) -> BenchmarkSpecification:
    """Load benchmark ``"owner/name"`` with its dataset.

    Raises: see :meth:`polaris.hub.client.PolarisHubClient.get_benchmark`.
    """
    with _client(**settings) as client:
        benchmark: BenchmarkSpecification = client.get_benchmark(artifact_id, verify_checksum=verify_checksum)
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
