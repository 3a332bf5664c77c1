"""SHAP additivity for every model family and the surrogate tree's fidelity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from cardiolens.risk.models import make_classifier
from cardiolens.risk.schema import infer_schema
from cardiolens.risk.survival import BoostedSurvival
from cardiolens.trust.explain import (
    RiskExplainer,
    fit_surrogate_tree,
    global_importance,
    model_log_odds,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2)
    n = 300
    table = pd.DataFrame(
        {
            "age": rng.uniform(35, 80, n),
            "sex": rng.integers(0, 2, n),
            "cp": rng.integers(1, 5, n).astype(float),
            "oldpeak": rng.uniform(0, 4, n),
        }
    )
    table.loc[rng.random(n) < 0.1, "oldpeak"] = np.nan
    logit = 0.05 * (table["age"] - 55) + 0.8 * table["oldpeak"].fillna(1) + (table["cp"] == 4) - 1
    y = (rng.random(n) < expit(logit)).to_numpy().astype(int)
    schema = infer_schema(table)
    return schema.validate(table)[0].to_numpy(), y, schema


@pytest.mark.parametrize("kind", ["xgboost", "lightgbm", "logistic"])
def test_shap_values_sum_with_base_value_to_the_log_odds(data, kind):
    x, y, schema = data
    model = make_classifier(kind, schema).fit(x, y)
    explanation = RiskExplainer(model, x, schema.names).explain(x)
    assert explanation.values.shape == x.shape
    np.testing.assert_allclose(explanation.log_odds(), model_log_odds(model, x), atol=1e-4)
    np.testing.assert_allclose(
        expit(model_log_odds(model, x)), model.predict_proba(x)[:, 1], atol=1e-5
    )
    top = explanation.top_features(0, k=2)
    assert abs(top[0].shap) >= abs(top[1].shap)
    assert top[0].direction == ("raises risk" if top[0].shap > 0 else "lowers risk")
    importance = global_importance(explanation)
    assert importance["mean_abs_shap"].is_monotonic_decreasing
    assert importance["feature"].iloc[0] in ("oldpeak", "age", "cp")


def test_survival_shap_sums_to_the_log_hazard(data):
    x, y, schema = data
    time = np.random.default_rng(0).exponential(365, len(y)) + 1
    model = BoostedSurvival(n_estimators=50).fit(x, time, y.astype(bool))
    explanation = RiskExplainer(model, x, schema.names).explain(x)
    np.testing.assert_allclose(explanation.log_odds(), model.predict_risk(x), atol=1e-8)


def test_surrogate_tree_fidelity(data):
    x, y, schema = data
    model = make_classifier("logistic", schema).fit(x, y)
    surrogate = fit_surrogate_tree(x, model_log_odds(model, x), schema.names)
    assert surrogate.tree.get_depth() <= 3
    assert 0.5 < surrogate.r_squared <= 1.0
    assert 0.7 < surrogate.agreement <= 1.0
    assert "oldpeak" in surrogate.rules or "age" in surrogate.rules
