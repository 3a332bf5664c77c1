"""Recalibration maps and the Venn-Abers interval."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression

from cardiolens.core.errors import ParameterError
from cardiolens.trust.calibration import (
    IsotonicCalibrator,
    PlattCalibrator,
    VennAbersCalibrator,
    make_calibrator,
)


@pytest.fixture()
def miscalibrated():
    """Risks twice as extreme (on the logit scale) as the truth."""
    rng = np.random.default_rng(0)
    truth = expit(rng.normal(0, 1, 4000))
    y = (rng.random(4000) < truth).astype(int)
    return expit(2 * logit(truth)), y, truth


def test_platt_recovers_the_true_logistic_map(miscalibrated):
    score, y, truth = miscalibrated
    calibrator = PlattCalibrator().fit(score, y)
    assert calibrator.coef_[1] == pytest.approx(0.5, abs=0.06)
    assert np.abs(calibrator.predict(score) - truth).mean() < 0.02


def test_isotonic_matches_scikit_learn(miscalibrated):
    score, y, _ = miscalibrated
    ours = IsotonicCalibrator().fit(score, y).predict(score[:50])
    reference = IsotonicRegression(out_of_bounds="clip").fit(score, y).predict(score[:50])
    np.testing.assert_allclose(ours, reference, atol=1e-9)


def test_venn_abers_equals_brute_force_isotonic_fits(miscalibrated):
    score, y, _ = miscalibrated
    score, y = score[:300], y[:300]
    calibrator = VennAbersCalibrator().fit(score, y)
    for test in (0.03, 0.4, 0.77, 0.99):
        expected = []
        for label in (0, 1):
            fit = IsotonicRegression(out_of_bounds="clip").fit(
                np.append(score, test), np.append(y, label)
            )
            expected.append(fit.predict([test])[0])
        p0, p1 = calibrator.predict_interval(np.array([test]))
        assert (p0[0], p1[0]) == pytest.approx(tuple(expected), abs=1e-9)
        assert p0[0] <= calibrator.predict(np.array([test]))[0] <= p1[0]


def test_tied_scores_are_pooled_as_scikit_learn_does():
    """Tree ensembles give many patients the same score: ties form one isotonic block."""
    rng = np.random.default_rng(1)
    score = np.round(rng.random(300), 1)
    y = (rng.random(300) < score).astype(int)
    tests = np.array([0.1, 0.3, 0.35, 0.5, 0.7, 1.0])
    reference = IsotonicRegression(out_of_bounds="clip").fit(score, y).predict(tests)
    np.testing.assert_allclose(IsotonicCalibrator().fit(score, y).predict(tests), reference)
    p0, p1 = VennAbersCalibrator().fit(score, y).predict_interval(tests)
    for i, test in enumerate(tests):
        expected = [
            IsotonicRegression(out_of_bounds="clip")
            .fit(np.append(score, test), np.append(y, label))
            .predict([test])[0]
            for label in (0, 1)
        ]
        assert (p0[i], p1[i]) == pytest.approx(tuple(expected), abs=1e-9)


def test_unknown_method_is_named():
    with pytest.raises(ParameterError, match="unknown calibration 'beta'"):
        make_calibrator("beta")
