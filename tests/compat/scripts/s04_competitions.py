"""Competitions (0.11-0.13 "Competition participation" tutorial, and 0.10 code): load, split, predict, submit."""

import numpy as np

import polaris as po
from polaris.competition import CompetitionSpecification
from polaris.evaluate import CompetitionPredictions

# 0.11-0.13: the competition is itself a Zarr dataset
competition = po.load_competition("polaris-demo/freesolv-zarr-challenge")
assert isinstance(competition, CompetitionSpecification)
train, test = competition.get_train_test_split(featurization_fn=lambda calc: [calc, calc**2])
assert len(train) == competition.n_train_datapoints
X = np.asarray(train.inputs, dtype=float)
assert X.shape == (len(train), 2)
coef = np.linalg.lstsq(np.c_[X, np.ones(len(X))], train.targets, rcond=None)[0]
X_test = np.asarray(test.inputs, dtype=float)
predictions = np.c_[X_test, np.ones(len(X_test))] @ coef

scored = competition.submit_predictions(
    prediction_name="compat-quadratic",
    prediction_owner="demo-user",
    predictions=predictions,
    report_url="https://example.org/compat-report",
    github_url="https://github.com/example/compat",
    description="A quadratic fit of expt on calc",
    tags=["baseline"],
    user_attributes={"method": "least squares"},
)
assert {m.name for m in competition.metrics} <= set(scored.results["Metric"]), scored.results

# the same submission through an explicit CompetitionPredictions object
prediction = CompetitionPredictions(
    name="compat-quadratic-2",
    owner="demo-user",
    predictions=predictions,
    report_url="https://example.org/compat-report",
    target_labels=competition.target_cols,
    test_set_labels=competition.test_set_labels,
    test_set_sizes=competition.test_set_sizes,
)
assert prediction.report_url == "https://example.org/compat-report"
competition.submit_predictions(predictions=prediction)

# 0.10: a table-backed competition, predictions passed first
old = po.load_competition("polaris-demo/freesolv-challenge")
train, test = old.get_train_test_split()
mean = float(np.mean(train.targets))
old_scores = old.submit_predictions(np.full(len(test), mean))
assert len(old_scores.results) >= 1
print("OK s04_competitions")
