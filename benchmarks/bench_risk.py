"""Risk-model speed: training on 20,000 x 70 synthetic rows and predicting 10,000 rows.

Goals (issue 6, acceptance 5): full training (nested CV of the boosted model and the
logistic baseline, Venn-Abers calibration, conformal predictor, SHAP importance,
surrogate tree) <= 60 s on 2 CPU cores; prediction of 10,000 rows with calibrated risk,
conformal flag and top-5 SHAP features <= 2 s. Process CPU time and the load average are
reported beside wall time, since a shared machine inflates wall time. Boosting runs on
one thread per fit (``n_jobs=1``): on a loaded machine two threads spin-wait and cost
four times the CPU.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import pandas as pd
from scipy.special import expit

TRAIN_ROWS, PREDICT_ROWS, FEATURES = 20_000, 10_000, 70


def _synthetic(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        rng.normal(size=(rows, FEATURES)), columns=[f"f{i:02d}" for i in range(FEATURES)]
    )
    table.iloc[rng.random(rows) < 0.05, 3] = np.nan
    logit = table["f00"] - 0.8 * table["f01"] + 0.5 * table["f02"] * table["f03"].fillna(0) - 1.0
    table["event"] = (rng.random(rows) < expit(logit)).astype(int)
    return table


def run() -> dict:
    from cardiolens.trust.serving import load_model
    from cardiolens.trust.workflow import train_risk_model

    train, new = _synthetic(TRAIN_ROWS, 0), _synthetic(PREDICT_ROWS, 1).drop(columns="event")
    with tempfile.TemporaryDirectory() as directory:
        start, cpu = time.perf_counter(), time.process_time()
        report = train_risk_model(train, "event", n_boot=200, out=directory, n_jobs=1)
        train_s, train_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        model = load_model(directory)
        start, cpu = time.perf_counter(), time.process_time()
        predictions = model.predict(new)
        predict_s, predict_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    internal = report.evaluations[0].metrics
    return {
        "train_rows": TRAIN_ROWS,
        "features": FEATURES,
        "train_s": round(train_s, 2),
        "train_cpu_s": round(train_cpu_s, 2),
        "train_goal_s": 60.0,
        "predict_rows": len(predictions),
        "predict_s": round(predict_s, 3),
        "predict_cpu_s": round(predict_cpu_s, 3),
        "predict_goal_s": 2.0,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "nested_cv_auc": round(internal.auc.value, 4),
        "meets_goals": train_s <= 60.0 and predict_s <= 2.0,
    }


if __name__ == "__main__":
    print(run())
