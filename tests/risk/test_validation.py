"""Tuning, nested cross-validation and site-held-out validation on synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from cardiolens.core.errors import ParameterError
from cardiolens.risk.schema import infer_schema
from cardiolens.risk.validation import nested_cross_validation, site_held_out_validation


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(1)
    n = 400
    table = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    table.loc[rng.random(n) < 0.1, "c"] = np.nan
    risk = expit(1.5 * table["a"] - table["b"])
    y = (rng.random(n) < risk).to_numpy().astype(int)
    sites = np.where(np.arange(n) < 200, "north", "south")
    schema = infer_schema(table)
    return schema.validate(table)[0].to_numpy(), y, sites, schema, risk.to_numpy()


@pytest.mark.parametrize("kind", ["xgboost", "lightgbm", "logistic"])
def test_nested_cv_reaches_the_true_model_auc(synthetic, kind):
    x, y, _, schema, risk = synthetic
    from cardiolens.risk.metrics import auc

    result = nested_cross_validation(x, y, kind, schema, outer_folds=3, n_boot=100)
    assert len(result.best_params) == 3
    assert set(np.unique(result.fold)) == {0, 1, 2}
    # the out-of-fold AUC cannot beat the true risk's AUC by more than noise
    assert auc(y, risk) - 0.08 < result.metrics.auc.value < auc(y, risk) + 0.03


def test_site_held_out_trains_on_the_other_sites(synthetic):
    x, y, sites, schema, _ = synthetic
    results = site_held_out_validation(x, y, sites, ("logistic",), schema, n_boot=50)
    assert [(r.train_sites, r.test_site) for r in results] == [
        (("south",), "north"),
        (("north",), "south"),
    ]
    assert all(len(r.test_index) == 200 and r.metrics.auc.value > 0.75 for r in results)
    with pytest.raises(ParameterError, match=">= 2 sites"):
        site_held_out_validation(x, y, np.full(len(y), "one"), ("logistic",), schema)


def test_outer_folds_outside_2_to_the_rarer_class_are_refused(synthetic):
    x, y, _, schema, _ = synthetic
    for folds in (1, int(np.bincount(y).min()) + 1):
        with pytest.raises(ParameterError, match="outer folds must be 2 to"):
            nested_cross_validation(x, y, "logistic", schema, outer_folds=folds)
