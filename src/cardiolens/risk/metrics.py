"""Discrimination, calibration and clinical-utility metrics with bootstrap 95 % CIs.

Definitions
-----------
* AUC: area under the ROC curve, the Mann-Whitney probability that a random case
  scores above a random control (Hanley & McNeil, Radiology 1982).
* Brier score: mean squared difference between predicted probability and outcome
  (Brier, Mon Weather Rev 1950).
* Calibration slope: ``b`` in ``logit P(y=1) = a + b * logit(p)``; calibration intercept
  (calibration-in-the-large): ``a`` with ``b`` fixed to 1 (``logit(p)`` as offset); ideal
  slope 1, intercept 0 (Cox, Biometrika 1958; Van Calster et al., J Clin Epidemiol 2016).
* Calibration curve: observed event rate against mean predicted risk in quantile bins.
* Sensitivity, specificity, PPV, NPV at thresholds ("positive" when ``p >= threshold``).
* Net benefit at threshold probability ``pt``: ``TP/n - FP/n * pt / (1 - pt)``,
  against treat-all and treat-none (Vickers & Elkin, Med Decis Making 2006).
* 95 % CIs: percentile bootstrap over patients (Efron & Tibshirani, 1993).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from scipy.stats import rankdata

from cardiolens.core.errors import ParameterError

_EPS = 1e-6
DEFAULT_THRESHOLDS = (0.1, 0.2, 0.3, 0.5)
"""Risk thresholds at which the confusion-matrix metrics are reported."""


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95 % confidence interval."""

    value: float
    lower: float
    upper: float

    def __str__(self) -> str:
        return f"{self.value:.3f} ({self.lower:.3f}-{self.upper:.3f})"

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {"value": self.value, "lower": self.lower, "upper": self.upper}


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ParameterError(
            f"outcome and risk must be 1-D of equal length, got {y.shape}, {p.shape}"
        )
    if not np.isin(y, (0.0, 1.0)).all():
        raise ParameterError("the outcome must hold only 0 and 1")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ParameterError("predicted risks must be probabilities in [0, 1] without NaN")
    return y, p


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); NaN when only one class is present."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Brier score (mean squared error of the probability), 0 is perfect."""
    return float(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2))


def logistic_fit(
    x: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None, iterations: int = 50
) -> np.ndarray:
    """Unpenalised logistic regression by Newton-Raphson; ``x`` includes the intercept column."""
    beta = np.zeros(x.shape[1])
    offset = np.zeros(len(y)) if offset is None else offset
    for _ in range(iterations):
        mu = expit(x @ beta + offset)
        weight = np.clip(mu * (1 - mu), 1e-9, None)
        step = np.linalg.lstsq((x * weight[:, None]).T @ x, x.T @ (y - mu), rcond=None)[0]
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def calibration_slope_intercept(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Calibration slope and calibration-in-the-large intercept (logistic recalibration).

    Returns
    -------
    slope
        ``b`` of ``logit P(y) = a + b logit(p)``; < 1 means predictions too extreme.
    intercept
        ``a`` of ``logit P(y) = a + logit(p)``; > 0 means risks underestimated on average.
    """
    y = np.asarray(y, dtype=float)
    if y.min() == y.max():
        return float("nan"), float("nan")
    lp = logit(np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS))
    slope = logistic_fit(np.column_stack([np.ones_like(lp), lp]), y)[1]
    intercept = logistic_fit(np.ones((len(y), 1)), y, offset=lp)[0]
    return float(slope), float(intercept)


def calibration_curve(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Observed event rate against mean predicted risk in quantile bins.

    Returns
    -------
    DataFrame
        One row per non-empty bin: ``n``, ``mean_predicted``, ``observed_rate``.
    """
    y, p = _check(y, p)
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    frame = pd.DataFrame({"bin": bins, "p": p, "y": y})
    table = frame.groupby("bin").agg(
        n=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean")
    )
    return table.reset_index(drop=True)


def threshold_metrics(y: np.ndarray, p: np.ndarray, thresholds=DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """Sensitivity, specificity, PPV and NPV at each risk threshold (positive if p >= t)."""
    y, p = _check(y, p)
    rows = []
    for threshold in thresholds:
        positive = p >= threshold
        tp = np.sum(positive & (y == 1))
        fp = np.sum(positive & (y == 0))
        tn = np.sum(~positive & (y == 0))
        fn = np.sum(~positive & (y == 1))
        rows.append(
            {
                "threshold": float(threshold),
                "sensitivity": _ratio(tp, tp + fn),
                "specificity": _ratio(tn, tn + fp),
                "ppv": _ratio(tp, tp + fp),
                "npv": _ratio(tn, tn + fn),
            }
        )
    return pd.DataFrame(rows)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def net_benefit(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray | None = None) -> pd.DataFrame:
    """Decision-curve net benefit of the model, treat-all and treat-none.

    Returns
    -------
    DataFrame
        Columns ``threshold``, ``model``, ``treat_all``, ``treat_none`` (net benefit in
        true positives per patient).
    """
    y, p = _check(y, p)
    thresholds = np.arange(0.01, 0.81, 0.01) if thresholds is None else np.asarray(thresholds)
    n = len(y)
    prevalence = y.mean()
    odds = thresholds / (1 - thresholds)
    positive = p[None, :] >= thresholds[:, None]
    tp = (positive & (y[None, :] == 1)).sum(axis=1) / n
    fp = (positive & (y[None, :] == 0)).sum(axis=1) / n
    return pd.DataFrame(
        {
            "threshold": thresholds,
            "model": tp - fp * odds,
            "treat_all": prevalence - (1 - prevalence) * odds,
            "treat_none": 0.0,
        }
    )


def bootstrap_estimates(
    statistic: Callable[[np.ndarray, np.ndarray], tuple[float, ...]],
    y: np.ndarray,
    p: np.ndarray,
    n_boot: int = 1000,
    random_state: int = 0,
) -> tuple[Estimate, ...]:
    """Point estimates and percentile-bootstrap 95 % CIs of ``statistic(y, p)``.

    ``statistic`` returns a tuple of numbers; all are computed on the same resamples.
    Non-finite values (e.g. AUC of a single-class resample) are left out of their CI.
    """
    y, p = _check(y, p)
    if n_boot < 1:
        raise ParameterError(f"bootstrap resamples (n_boot) must be >= 1; got {n_boot}")
    rng = np.random.default_rng(random_state)
    samples = np.array(
        [statistic(y[index], p[index]) for index in rng.integers(0, len(y), (n_boot, len(y)))]
    ).reshape(n_boot, -1)
    estimates = []
    for value, column in zip(statistic(y, p), samples.T, strict=True):
        finite = column[np.isfinite(column)]
        lower, upper = np.percentile(finite, [2.5, 97.5]) if len(finite) else (np.nan, np.nan)
        estimates.append(Estimate(float(value), float(lower), float(upper)))
    return tuple(estimates)


def _core_metrics(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float, float]:
    """AUC, Brier score, calibration slope and calibration intercept."""
    return (auc(y, p), brier(y, p), *calibration_slope_intercept(y, p))


@dataclass(frozen=True)
class ClassificationMetrics:
    """Performance of predicted risks against observed binary outcomes."""

    n: int
    n_events: int
    auc: Estimate
    brier: Estimate
    calibration_slope: Estimate
    calibration_intercept: Estimate
    calibration_curve: pd.DataFrame
    thresholds: pd.DataFrame
    net_benefit: pd.DataFrame

    def to_dict(self) -> dict:
        """JSON-ready form (tables as lists of records)."""
        return {
            "n": self.n,
            "n_events": self.n_events,
            "auc": self.auc.to_dict(),
            "brier": self.brier.to_dict(),
            "calibration_slope": self.calibration_slope.to_dict(),
            "calibration_intercept": self.calibration_intercept.to_dict(),
            "calibration_curve": self.calibration_curve.to_dict(orient="records"),
            "thresholds": self.thresholds.to_dict(orient="records"),
            "net_benefit": self.net_benefit.round(5).to_dict(orient="records"),
        }


def classification_metrics(
    y: np.ndarray,
    p: np.ndarray,
    thresholds=DEFAULT_THRESHOLDS,
    n_boot: int = 1000,
    random_state: int = 0,
) -> ClassificationMetrics:
    """All binary-outcome metrics of the module with bootstrap 95 % CIs.

    Parameters
    ----------
    y
        Observed outcome, 0/1, shape (n,).
    p
        Predicted risk, probability, shape (n,).
    thresholds
        Risk thresholds for sensitivity/specificity/PPV/NPV.
    n_boot
        Bootstrap resamples.
    random_state
        Bootstrap seed.
    """
    y, p = _check(y, p)
    if len(np.unique(y)) < 2:
        raise ParameterError("metrics need both outcomes (0 and 1) among the patients")

    auc_, brier_, slope, intercept = bootstrap_estimates(
        _core_metrics, y, p, n_boot=n_boot, random_state=random_state
    )
    return ClassificationMetrics(
        n=len(y),
        n_events=int(y.sum()),
        auc=auc_,
        brier=brier_,
        calibration_slope=slope,
        calibration_intercept=intercept,
        calibration_curve=calibration_curve(y, p),
        thresholds=threshold_metrics(y, p, thresholds),
        net_benefit=net_benefit(y, p),
    )
