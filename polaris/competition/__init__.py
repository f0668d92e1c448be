"""polaris-lib's ``polaris.competition``: ``CompetitionSpecification`` (the same object as
:mod:`polaris.artifacts`'; a 0.11+ Hub's competitions load as its subclass ``ZarrCompetitionSpecification``).
Both generations name it ``CompetitionSpecification``; 0.10 and 0.11-0.13 ``submit_predictions`` calls are accepted.
"""

from __future__ import annotations

from polaris.artifacts.competition import (
    CompetitionPredictions,
    CompetitionSpecification,
    ZarrCompetitionSpecification,
)

__all__ = ["CompetitionPredictions", "CompetitionSpecification", "ZarrCompetitionSpecification"]
