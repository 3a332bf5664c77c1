"""Subgroup audit and mitigation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cardiolens.trust.fairness import age_band, audit_fairness, reweighing_weights


def test_age_bands():
    assert age_band(np.array([30, 45, 54.9, 55, 70, np.nan])).tolist() == [
        "<45",
        "45-54",
        "45-54",
        "55-64",
        ">=65",
        "missing",
    ]


def test_reweighing_makes_group_and_outcome_independent():
    rng = np.random.default_rng(0)
    group = rng.integers(0, 2, 1000)
    y = (rng.random(1000) < np.where(group == 1, 0.6, 0.2)).astype(int)
    weights = reweighing_weights(y, group)
    frame = pd.DataFrame({"g": group, "y": y, "w": weights})
    rates = frame.groupby("g").apply(
        lambda f: np.average(f["y"], weights=f["w"]), include_groups=False
    )
    assert rates[0] == pytest.approx(rates[1], abs=1e-9)
    assert weights.sum() == pytest.approx(1000)


def test_audit_table_by_hand():
    y = np.array([1, 0, 1, 0, 1, 0])
    p = np.array([0.9, 0.6, 0.4, 0.1, 0.8, 0.2])
    audit = audit_fairness(y, p, {"sex": np.array([0, 0, 0, 1, 1, 1])}, threshold=0.5)
    table = audit.table.set_index("group")
    assert table.loc["0", "tpr"] == pytest.approx(0.5) and table.loc["0", "fpr"] == pytest.approx(
        1.0
    )
    assert table.loc["1", "tpr"] == pytest.approx(1.0) and table.loc["1", "fpr"] == pytest.approx(
        0.0
    )
    assert table.loc["0", "calibration_in_the_large"] == pytest.approx(
        np.mean([0.9, 0.6, 0.4]) - 2 / 3
    )
    gaps = audit.gaps.iloc[0]
    assert gaps["tpr"] == pytest.approx(0.5) and gaps["fpr"] == pytest.approx(1.0)
