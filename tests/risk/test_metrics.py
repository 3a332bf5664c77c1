"""Metrics against independent implementations and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from cardiolens.risk.metrics import (
    auc,
    brier,
    calibration_curve,
    calibration_slope_intercept,
    classification_metrics,
    net_benefit,
    threshold_metrics,
)


@pytest.fixture()
def simulated():
    """Outcomes drawn from known risks p: a perfectly calibrated model."""
    rng = np.random.default_rng(3)
    p = expit(rng.normal(-0.5, 1.2, 3000))
    y = (rng.random(3000) < p).astype(int)
    return y, p


def test_auc_and_brier_match_scikit_learn(simulated):
    y, p = simulated
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    ties = np.array([0.5, 0.5, 0.2, 0.8])
    assert auc(np.array([0, 1, 0, 1]), ties) == pytest.approx(roc_auc_score([0, 1, 0, 1], ties))


def test_calibration_slope_matches_unpenalised_logistic_regression(simulated):
    y, p = simulated
    over_confident = expit(2.0 * np.log(p / (1 - p)) + 0.3)
    slope, _ = calibration_slope_intercept(y, over_confident)
    reference = LogisticRegression(C=np.inf).fit(
        np.log(over_confident / (1 - over_confident))[:, None], y
    )
    assert slope == pytest.approx(reference.coef_[0, 0], rel=1e-4)  # lbfgs tolerance
    assert slope == pytest.approx(0.5, abs=0.05)


def test_calibrated_model_has_slope_one_and_intercept_zero():
    estimates = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        p = expit(rng.normal(-0.5, 1.2, 3000))
        y = (rng.random(3000) < p).astype(int)
        estimates.append(calibration_slope_intercept(y, p))
    slope, intercept = np.mean(estimates, axis=0)
    assert slope == pytest.approx(1.0, abs=0.03)
    assert intercept == pytest.approx(0.0, abs=0.03)


def test_bootstrap_intervals_and_calibration_curve(simulated):
    y, p = simulated
    metrics = classification_metrics(y, p, n_boot=200)
    for estimate in (metrics.auc, metrics.brier, metrics.calibration_slope):
        assert estimate.lower < estimate.value < estimate.upper
    assert metrics.auc.upper - metrics.auc.lower < 0.06
    curve = calibration_curve(y, p)
    assert np.abs(curve["observed_rate"] - curve["mean_predicted"]).max() < 0.07


def test_threshold_metrics_and_net_benefit_by_hand():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.6, 0.2, 0.7, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1])
    row = threshold_metrics(y, p, thresholds=(0.5,)).iloc[0]
    # TP 2, FN 1, FP 1, TN 6
    assert row["sensitivity"] == pytest.approx(2 / 3)
    assert row["specificity"] == pytest.approx(6 / 7)
    assert row["ppv"] == pytest.approx(2 / 3)
    assert row["npv"] == pytest.approx(6 / 7)
    curve = net_benefit(y, p, thresholds=np.array([0.5, 0.25]))
    assert curve["model"].tolist() == pytest.approx([2 / 10 - 1 / 10 * 1.0, 2 / 10 - 2 / 10 / 3])
    assert curve["treat_all"].tolist() == pytest.approx([0.3 - 0.7, 0.3 - 0.7 / 3])


def test_zero_bootstrap_resamples_are_refused(simulated):
    from cardiolens.core.errors import ParameterError

    with pytest.raises(ParameterError, match="n_boot"):
        classification_metrics(*simulated, n_boot=0)
