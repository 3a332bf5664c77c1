"""Survival models on WHAS500: 5-fold CV beside the Cox baseline (acceptance 2)."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.core.errors import ParameterError
from cardiolens.risk.datasets import load_whas500
from cardiolens.risk.survival import (
    CoxBaseline,
    annualised_rate,
    check_survival_outcome,
    risk_at_horizon,
    status_at_horizon,
    survival_cross_validation,
)


@pytest.fixture(scope="module")
def whas500():
    features, time, event = load_whas500()
    return features.to_numpy(), time, event


@pytest.fixture(scope="module")
def cross_validation(whas500):
    x, time, event = whas500
    return survival_cross_validation(x, time, event, n_splits=5, n_boot=30, horizon=365.0)


def test_whas500_cross_validated_discrimination_and_brier(cross_validation):
    boosted, cox = cross_validation
    assert boosted.kind.value == "gradient_boosted_cox" and cox.kind.value == "cox"
    for result in cross_validation:
        assert len(result.per_fold) == 5
        for name, estimate in result.estimates.items():
            assert estimate.lower <= estimate.value <= estimate.upper, name
        # published WHAS500 Cox models reach C about 0.75-0.80 (Hosmer et al. 2008)
        assert 0.72 < result.estimates["harrell_c"].value < 0.85
        assert 0.72 < result.estimates["uno_c"].value < 0.85
        assert 0.72 < result.estimates["time_dependent_auc"].value < 0.88
        # a model ignoring covariates (Kaplan-Meier) scores about 0.19 here
        assert 0.08 < result.estimates["integrated_brier"].value < 0.17
        assert result.oof_risk.shape == (500,)
        assert ((result.oof_risk >= 0) & (result.oof_risk <= 1)).all()


def test_risk_at_horizon_matches_the_survival_function(whas500):
    x, time, event = whas500
    model = CoxBaseline().fit(x, time, event)
    survival = model.predict_survival(x[:5], np.array([365.0]))[:, 0]
    np.testing.assert_allclose(risk_at_horizon(model, x[:5], 365.0), 1 - survival)
    # a 2-year cumulative risk of 19 % is 10 % per year
    assert annualised_rate(np.array([0.19]), 2.0)[0] == pytest.approx(0.1)


def test_status_at_horizon_and_bad_outcomes():
    time = np.array([100.0, 400.0, 200.0, 50.0])
    event = np.array([True, True, False, False])
    known, status = status_at_horizon(time, event, 365.0)
    assert known.tolist() == [True, True, False, False]
    assert status.tolist() == [1, 0, 0, 0]
    with pytest.raises(ParameterError, match="follow-up times"):
        check_survival_outcome(np.array([1.0, -2.0]), np.array([1, 0]))


def test_horizon_outside_follow_up_is_refused_before_fitting(whas500):
    x, time, event = whas500
    for horizon in (-1.0, float(time.max()) + 1.0):
        with pytest.raises(ParameterError, match="outside the follow-up every cross-validation"):
            survival_cross_validation(x, time, event, n_boot=1, horizon=horizon)
