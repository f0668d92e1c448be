"""Competitions of both generations (0.10 ``/v2/competition``, 0.11+ Zarr ``/v1/competition``) and their scoring."""

from __future__ import annotations

import numpy as np
import pytest
from artifact_helpers import DEMO_ZARR_COMPETITION, unique  # tests/ is on sys.path (conftest)

from polaris.artifacts import CompetitionResults, CompetitionSpecification, ZarrCompetitionSpecification
from polaris.hub.client import PolarisHubClient

pytestmark = pytest.mark.timeout(300)


def test_competition_is_scored_on_the_hub(client: PolarisHubClient) -> None:
    competition = client.get_competition("polaris-demo/freesolv-challenge")
    train, test = competition.get_train_test_split()
    assert not isinstance(test, dict)
    with pytest.raises(Exception, match="hidden"):
        _ = test.y  # labels never reach the client
    served = competition.dataset.table  # type: ignore[union-attr]
    assert served[competition.target_cols[0]].iloc[competition.split[1]["test"]].isna().all()

    mean = float(np.mean(train.y))
    result = client.evaluate_competition(competition, [mean] * len(test))
    scores = result.scores()[("test", competition.target_cols[0])]
    assert set(scores) >= {competition.main_metric}
    assert np.isfinite(scores["mean_absolute_error"]) and scores["mean_absolute_error"] > 0
    with pytest.raises(ValueError):
        client.evaluate_competition(competition, [0.0] * (len(test) + 1))


def test_zarr_competition_predictions_are_scored(client: PolarisHubClient) -> None:
    competition = client.get_competition(DEMO_ZARR_COMPETITION)
    assert isinstance(competition, ZarrCompetitionSpecification)
    train, test = competition.get_train_test_split()
    assert not isinstance(test, dict)
    slope, intercept = np.polyfit(np.asarray(train.X, dtype=float), np.asarray(train.y, dtype=float), 1)
    preds = slope * np.asarray(test.X, dtype=float) + intercept
    scored = client.evaluate_competition(competition, preds, name=unique("preds"), owner="demo-user")
    assert isinstance(scored, CompetitionResults)
    assert scored.competition_artifact_id == DEMO_ZARR_COMPETITION
    scores = scored.scores()
    assert scores and all(np.isfinite(v) for per in scores.values() for v in per.values())


def test_both_competition_generations_through_one_client(client: PolarisHubClient) -> None:
    old = client.get_competition("polaris-demo/freesolv-challenge")
    new = client.get_competition(DEMO_ZARR_COMPETITION)
    assert isinstance(old, CompetitionSpecification) and not isinstance(old, ZarrCompetitionSpecification)
    assert isinstance(new, ZarrCompetitionSpecification)
    _, test = old.get_train_test_split()
    assert not isinstance(test, dict)
    result = client.evaluate_competition(old, np.zeros(len(test)))
    assert isinstance(result, CompetitionResults) and result.scores()
