"""polaris-lib's ``polaris.utils.errors`` names, each the class of :mod:`polaris.errors` that this package raises
in the same situation (so ``except InvalidDatasetError`` still catches what it caught).

All names exist in 0.10 and 0.11-0.13 except ``InvalidModelError`` (0.11+).
"""

from __future__ import annotations

from polaris.errors import (
    ArtifactNotFoundError,
    InvalidArtifactError,
    PolarisChecksumError,
    PolarisCreateArtifactError,
    PolarisError,
    PolarisHubError,
    PolarisUnauthorizedError,
)

__all__ = [
    "InvalidBenchmarkError",
    "InvalidCompetitionError",
    "InvalidDatasetError",
    "InvalidModelError",
    "InvalidResultError",
    "InvalidZarrChecksum",
    "PolarisChecksumError",
    "PolarisCreateArtifactError",
    "PolarisHubError",
    "PolarisRetrieveArtifactError",
    "PolarisUnauthorizedError",
    "TestAccessError",
]

InvalidDatasetError = InvalidArtifactError
InvalidBenchmarkError = InvalidArtifactError
InvalidCompetitionError = InvalidArtifactError
InvalidResultError = InvalidArtifactError
InvalidModelError = InvalidArtifactError
#: reading the targets of a test set
TestAccessError = InvalidArtifactError
InvalidZarrChecksum = PolarisChecksumError
PolarisRetrieveArtifactError = ArtifactNotFoundError
PolarisSetupError = PolarisError
