"""Subgroup bias audit and optional mitigation.

The audit computes, per group of each sensitive attribute (sex, age band, any
user-given column), with fairlearn's ``MetricFrame`` (Weerts et al., JMLR 2023):
number of patients and events, AUC, mean predicted risk against observed event rate
(calibration-in-the-large: their difference), true- and false-positive rate at the
decision threshold; and, per attribute, the largest between-group gap of each metric.

Mitigation (reported before/after, never applied silently):

* Reweighing (Kamiran & Calders, Knowl Inf Syst 2012): each (group, outcome) cell is
  weighted ``P(group) P(outcome) / P(group, outcome)`` and the model refitted.
* Equalized-odds post-processing (Hardt, Price & Srebro, NeurIPS 2016): fairlearn's
  ``ThresholdOptimizer`` chooses group-specific (randomised) thresholds equalising TPR
  and FPR.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cardiolens.core.errors import ParameterError
from cardiolens.risk.metrics import auc

AGE_BANDS_YEARS = (45.0, 55.0, 65.0)
"""Edges of the age bands: < 45, 45-54, 55-64, >= 65 years."""

GAP_METRICS = ("auc", "calibration_in_the_large", "tpr", "fpr")


def age_band(age_years: np.ndarray) -> np.ndarray:
    """Age band label per patient ("<45", "45-54", "55-64", ">=65", "missing")."""
    age = np.asarray(age_years, dtype=float)
    labels = np.array(["<45", "45-54", "55-64", ">=65"])
    band = labels[np.searchsorted(AGE_BANDS_YEARS, age, side="right")]
    return np.where(np.isnan(age), "missing", band)


def group_labels(values) -> np.ndarray:
    """String group label per patient; missing values become "missing"."""
    series = pd.Series(values)
    labels = series.map(
        lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
    )
    return labels.where(series.notna(), "missing").to_numpy()


def _rate(y_true: np.ndarray, decision: np.ndarray, label: int) -> float:
    mask = np.asarray(y_true) == label
    return float(np.mean(np.asarray(decision)[mask])) if mask.any() else float("nan")


@dataclass(frozen=True)
class FairnessAudit:
    """Per-group metrics and the largest gap per attribute."""

    threshold: float
    table: pd.DataFrame
    gaps: pd.DataFrame

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "threshold": self.threshold,
            "groups": self.table.to_dict(orient="records"),
            "largest_gaps": self.gaps.to_dict(orient="records"),
        }


def audit_fairness(
    y: np.ndarray, probability: np.ndarray, groups: dict[str, np.ndarray], threshold: float = 0.5
) -> FairnessAudit:
    """Subgroup table and largest gaps for each sensitive attribute.

    Parameters
    ----------
    y
        Outcome 0/1, shape (n,).
    probability
        Predicted risk, shape (n,).
    groups
        Attribute name -> group label per patient (shape (n,)).
    threshold
        Risk at or above which a patient is called positive for TPR/FPR.
    """
    from fairlearn.metrics import MetricFrame

    y = np.asarray(y).astype(int)
    probability = np.asarray(probability, dtype=float)
    metrics = {
        "n": lambda t, s: len(t),
        "events": lambda t, s: int(np.sum(t)),
        "auc": lambda t, s: auc(t, s),
        "mean_predicted": lambda t, s: float(np.mean(s)),
        "observed_rate": lambda t, s: float(np.mean(t)),
        "calibration_in_the_large": lambda t, s: float(np.mean(s) - np.mean(t)),
        "tpr": lambda t, s: _rate(t, s >= threshold, 1),
        "fpr": lambda t, s: _rate(t, s >= threshold, 0),
    }
    tables, gaps = [], []
    for attribute, labels in groups.items():
        labels = group_labels(labels)
        if len(labels) != len(y):
            raise ParameterError(
                f"group {attribute!r} has {len(labels)} labels for {len(y)} patients"
            )
        frame = MetricFrame(
            metrics=metrics,
            y_true=y,
            y_pred=probability,
            sensitive_features=pd.Series(labels, name="group"),
        )
        table = frame.by_group.reset_index()
        table.insert(0, "attribute", attribute)
        tables.append(table)
        spread = table[list(GAP_METRICS)].astype(float)
        gaps.append(
            {
                "attribute": attribute,
                **{m: float(spread[m].max() - spread[m].min()) for m in GAP_METRICS},
            }
        )
    if not tables:
        empty = pd.DataFrame(columns=["attribute", "group", *metrics])
        return FairnessAudit(threshold, empty, pd.DataFrame(columns=["attribute", *GAP_METRICS]))
    return FairnessAudit(threshold, pd.concat(tables, ignore_index=True), pd.DataFrame(gaps))


def reweighing_weights(y: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Kamiran-Calders reweighing weights ``P(g) P(y) / P(g, y)`` per patient, shape (n,)."""
    frame = pd.DataFrame({"g": group_labels(group), "y": np.asarray(y).astype(int)})
    p_group = frame["g"].map(frame["g"].value_counts(normalize=True))
    p_label = frame["y"].map(frame["y"].value_counts(normalize=True))
    p_joint = frame.groupby(["g", "y"])["y"].transform("size") / len(frame)
    return (p_group * p_label / p_joint).to_numpy()


@dataclass(frozen=True)
class MitigationResult:
    """Between-group gaps and overall performance before and after a mitigation."""

    method: str
    attribute: str
    before: dict[str, float]
    after: dict[str, float]

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "method": self.method,
            "attribute": self.attribute,
            "before": self.before,
            "after": self.after,
        }


def _decision_summary(
    y: np.ndarray, decision: np.ndarray, group: np.ndarray, score=None
) -> dict[str, float]:
    tpr = [_rate(y[group == g], decision[group == g], 1) for g in np.unique(group)]
    fpr = [_rate(y[group == g], decision[group == g], 0) for g in np.unique(group)]
    summary = {
        "accuracy": float(np.mean(decision == y)),
        "tpr_gap": float(np.nanmax(tpr) - np.nanmin(tpr)),
        "fpr_gap": float(np.nanmax(fpr) - np.nanmin(fpr)),
    }
    if score is not None:
        summary["auc"] = auc(y, score)
    return summary


def mitigate_reweighing(
    make_model,
    x_train,
    y_train,
    group_train,
    x_test,
    y_test,
    group_test,
    attribute: str,
    threshold: float = 0.5,
) -> MitigationResult:
    """Refit with reweighing weights and compare TPR/FPR gaps on the test patients.

    Parameters
    ----------
    make_model
        Callable returning a fresh unfitted classifier; its ``fit`` must accept
        ``sample_weight`` (scikit-learn pipelines get it routed to the last step).
    """
    group_train, group_test = group_labels(group_train), group_labels(group_test)
    y_test = np.asarray(y_test).astype(int)
    results = []
    for weights in (None, reweighing_weights(y_train, group_train)):
        model = make_model()
        if weights is None:
            model.fit(x_train, y_train)
        elif hasattr(model, "steps"):
            model.fit(x_train, y_train, **{f"{model.steps[-1][0]}__sample_weight": weights})
        else:
            model.fit(x_train, y_train, sample_weight=weights)
        score = model.predict_proba(x_test)[:, 1]
        results.append(
            _decision_summary(y_test, (score >= threshold).astype(int), group_test, score)
        )
    return MitigationResult("reweighing", attribute, results[0], results[1])


def mitigate_equalized_odds(
    model,
    x_fit,
    y_fit,
    group_fit,
    x_test,
    y_test,
    group_test,
    attribute: str,
    threshold: float = 0.5,
    random_state: int = 0,
) -> MitigationResult:
    """Equalized-odds threshold post-processing of a fitted model (fairlearn ThresholdOptimizer).

    The thresholds are fitted on ``x_fit`` (calibration patients) and judged on ``x_test``.
    """
    from fairlearn.postprocessing import ThresholdOptimizer

    group_fit, group_test = group_labels(group_fit), group_labels(group_test)
    y_test = np.asarray(y_test).astype(int)
    optimizer = ThresholdOptimizer(
        estimator=model, constraints="equalized_odds", prefit=True, predict_method="predict_proba"
    )
    with warnings.catch_warnings():  # fairlearn assigns float64 into float32 scores
        warnings.simplefilter("ignore", FutureWarning)
        optimizer.fit(x_fit, np.asarray(y_fit).astype(int), sensitive_features=group_fit)
    score = model.predict_proba(x_test)[:, 1]
    before = _decision_summary(y_test, (score >= threshold).astype(int), group_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        after_decision = np.asarray(
            optimizer.predict(x_test, sensitive_features=group_test, random_state=random_state)
        ).astype(int)
    after = _decision_summary(y_test, after_decision, group_test)
    return MitigationResult("equalized_odds_threshold_optimizer", attribute, before, after)
