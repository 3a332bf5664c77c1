"""Conformal coverage on held-out folds (acceptance 4)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from cardiolens.risk.validation import nested_cross_validation
from cardiolens.trust.conformal import MondrianConformalClassifier, empirical_coverage


def _mean_coverage(probability, y, confidence, repeats=20, seed=0):
    """Average coverage over random calibration/test halves of out-of-sample risks."""
    rng = np.random.default_rng(seed)
    coverage = []
    for _ in range(repeats):
        order = rng.permutation(len(y))
        calibrate, test = order[: len(y) // 2], order[len(y) // 2 :]
        conformal = MondrianConformalClassifier().fit(probability[calibrate], y[calibrate])
        coverage.append(
            empirical_coverage(conformal.predict(probability[test], confidence), y[test])
        )
    return float(np.mean(coverage))


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95])
def test_synthetic_coverage_within_3_points(confidence):
    rng = np.random.default_rng(5)
    probability = expit(rng.normal(0, 1.5, 4000))
    y = (rng.random(4000) < probability).astype(int)
    assert abs(_mean_coverage(probability, y, confidence) - confidence) <= 0.03


def test_uci_out_of_fold_coverage_within_3_points(uci_table):
    from cardiolens.risk.schema import infer_schema

    features = [c for c in uci_table.columns if c not in ("cad", "site")]
    schema = infer_schema(uci_table, features)
    x = schema.validate(uci_table)[0].to_numpy()
    y = uci_table["cad"].to_numpy()
    oof = nested_cross_validation(x, y, "xgboost", schema, outer_folds=5, n_boot=10).probability
    for confidence in (0.8, 0.9):
        assert abs(_mean_coverage(oof, y, confidence) - confidence) <= 0.03


def test_needs_review_when_the_set_is_not_a_single_outcome():
    conformal = MondrianConformalClassifier().fit(
        np.linspace(0.01, 0.99, 200), np.arange(200) >= 100
    )
    prediction = conformal.predict(np.array([0.02, 0.5, 0.98]), confidence=0.9)
    # perfectly separated calibration: a risk of 0.5 conforms to neither outcome (empty set)
    assert prediction.prediction_set.tolist() == [[True, False], [False, False], [False, True]]
    assert prediction.needs_review.tolist() == [False, True, False]
