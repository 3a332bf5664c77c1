"""Post-hoc recalibration of predicted risks and Venn-Abers probability intervals.

* Platt scaling: logistic regression of the outcome on the logit of the risk
  (Platt, 1999), two parameters, suited to small calibration sets.
* Isotonic regression: monotone step function by pool-adjacent-violators
  (Zadrozny & Elkan, KDD 2002), flexible, needs more data.
* Inductive Venn-Abers predictor (Vovk & Petej, UAI 2014): for a test score ``s`` the
  isotonic fit is repeated with ``(s, 0)`` and with ``(s, 1)`` appended to the
  calibration set, giving the probability interval ``[p0, p1]`` that is valid
  (calibrated) in the Venn sense; the point risk is ``p1 / (1 - p0 + p1)``. The two fits
  depend only on the rank of ``s`` among the calibration scores, so they are computed
  once per rank at ``fit`` and looked up at prediction.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from scipy.optimize import isotonic_regression
from scipy.special import expit, logit

from cardiolens.core.errors import ParameterError
from cardiolens.risk.metrics import logistic_fit

_EPS = 1e-6


class CalibrationMethod(StrEnum):
    """Recalibration maps."""

    PLATT = "platt"
    ISOTONIC = "isotonic"
    VENN_ABERS = "venn_abers"


def _check(score: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    score = np.asarray(score, dtype=float)
    if score.ndim != 1 or np.isnan(score).any():
        raise ParameterError("calibration needs a 1-D array of risks without NaN")
    if y is not None and (len(y) != len(score) or len(np.unique(y)) < 2):
        raise ParameterError("calibration needs outcomes of both classes, one per risk")
    return score


class PlattCalibrator:
    """Logistic recalibration ``p' = expit(a + b logit(p))``."""

    def fit(self, probability: np.ndarray, y: np.ndarray) -> PlattCalibrator:
        """Fit ``a`` and ``b`` on calibration risks and outcomes (shape (n,))."""
        lp = logit(np.clip(_check(probability, y), _EPS, 1 - _EPS))
        self.coef_ = logistic_fit(np.column_stack([np.ones_like(lp), lp]), np.asarray(y, float))
        return self

    def predict(self, probability: np.ndarray) -> np.ndarray:
        """Recalibrated risks, shape (n,)."""
        lp = logit(np.clip(_check(probability), _EPS, 1 - _EPS))
        return expit(self.coef_[0] + self.coef_[1] * lp)


class IsotonicCalibrator:
    """Monotone non-decreasing step map fitted by pool-adjacent-violators."""

    def fit(self, probability: np.ndarray, y: np.ndarray) -> IsotonicCalibrator:
        """Fit on calibration risks and outcomes (shape (n,))."""
        score = _check(probability, y)
        order = np.argsort(score, kind="stable")
        self.score_ = score[order]
        self.level_ = isotonic_regression(np.asarray(y, float)[order]).x
        return self

    def predict(self, probability: np.ndarray) -> np.ndarray:
        """Recalibrated risks (linear interpolation between calibration scores)."""
        return np.interp(_check(probability), self.score_, self.level_)


class VennAbersCalibrator:
    """Inductive Venn-Abers predictor: calibrated risk with a probability interval.

    Parameters
    ----------
    max_calibration
        Fitting costs O(n^2); larger calibration sets are reduced to a random subset of
        this size (validity holds for any exchangeable subset; the interval widens
        slightly).
    random_state
        Seed of that subset.
    """

    def __init__(self, max_calibration: int = 2000, random_state: int = 0) -> None:
        self.max_calibration = max_calibration
        self.random_state = random_state

    def fit(self, probability: np.ndarray, y: np.ndarray) -> VennAbersCalibrator:
        """Precompute ``p0`` and ``p1`` for every rank a test score can take.

        Parameters
        ----------
        probability
            Calibration risks (out-of-sample for the model), shape (n,).
        y
            Calibration outcomes 0/1, shape (n,).
        """
        score = _check(probability, y)
        y = np.asarray(y)
        if len(score) > self.max_calibration:
            rng = np.random.default_rng(self.random_state)
            keep = rng.choice(len(score), self.max_calibration, replace=False)
            score, y = score[keep], y[keep]
        order = np.argsort(score, kind="stable")
        self.score_ = score[order]
        labels = np.asarray(y, float)[order]
        n = len(labels)
        p0 = np.empty(n + 1)
        p1 = np.empty(n + 1)
        for rank in range(n + 1):
            for value, out in ((0.0, p0), (1.0, p1)):
                extended = np.concatenate([labels[:rank], [value], labels[rank:]])
                out[rank] = isotonic_regression(extended).x[rank]
        self.p0_, self.p1_ = p0, p1
        return self

    def predict_interval(self, probability: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Venn-Abers interval ``(p0, p1)`` per patient, each shape (n,)."""
        rank = np.searchsorted(self.score_, _check(probability), side="left")
        return self.p0_[rank], self.p1_[rank]

    def predict(self, probability: np.ndarray) -> np.ndarray:
        """Merged calibrated risk ``p1 / (1 - p0 + p1)`` (Vovk & Petej 2014, eq. 7)."""
        p0, p1 = self.predict_interval(probability)
        return p1 / (1.0 - p0 + p1)


def make_calibrator(
    method: str | CalibrationMethod,
) -> PlattCalibrator | IsotonicCalibrator | VennAbersCalibrator:
    """Unfitted calibrator by name (``platt``, ``isotonic``, ``venn_abers``)."""
    try:
        method = CalibrationMethod(method)
    except ValueError:
        raise ParameterError(
            f"unknown calibration {method!r}; expected one of {[m.value for m in CalibrationMethod]}"
        ) from None
    return {
        CalibrationMethod.PLATT: PlattCalibrator,
        CalibrationMethod.ISOTONIC: IsotonicCalibrator,
        CalibrationMethod.VENN_ABERS: VennAbersCalibrator,
    }[method]()
