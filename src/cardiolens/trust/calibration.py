"""Post-hoc recalibration of predicted risks and Venn-Abers probability intervals.

* Platt scaling: logistic regression of the outcome on the logit of the risk
  (Platt, 1999), two parameters, suited to small calibration sets.
* Isotonic regression: monotone step function by pool-adjacent-violators
  (Zadrozny & Elkan, KDD 2002), flexible, needs more data.
* Inductive Venn-Abers predictor (Vovk & Petej, UAI 2014): for a test score ``s`` the
  isotonic fit is repeated with ``(s, 0)`` and with ``(s, 1)`` appended to the
  calibration set, giving the probability interval ``[p0, p1]`` that is valid
  (calibrated) in the Venn sense; the point risk is ``p1 / (1 - p0 + p1)``. The two fits
  depend only on where ``s`` falls among the distinct calibration scores (between two of
  them, or equal to one), so they are computed once per position at ``fit`` and looked
  up at prediction.

Isotonic regression is a function of the score: patients with equal scores (frequent
with tree ensembles) are pooled into one block weighted by its size, as in
scikit-learn's ``IsotonicRegression``, never ordered among themselves.
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


def _pooled_ties(score: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct sorted scores with the outcome sum and patient count of each."""
    unique, inverse = np.unique(score, return_inverse=True)
    sums = np.bincount(inverse, weights=np.asarray(y, float), minlength=len(unique))
    return unique, sums, np.bincount(inverse, minlength=len(unique)).astype(float)


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
        self.score_, sums, counts = _pooled_ties(_check(probability, y), y)
        self.level_ = isotonic_regression(sums / counts, weights=counts).x
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
        """Precompute ``p0`` and ``p1`` for every position a test score can take.

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
        self.score_, sums, counts = _pooled_ties(score, y)
        m = len(self.score_)
        # between_[k, v]: test score between distinct scores k-1 and k, label v (new block);
        # at_[k, v]: test score equal to distinct score k (joins its block).
        self.between_ = np.empty((m + 1, 2))
        self.at_ = np.empty((m, 2))
        for value in (0, 1):
            for k in range(m + 1):
                levels = np.insert(sums / counts, k, value)
                weights = np.insert(counts, k, 1.0)
                self.between_[k, value] = isotonic_regression(levels, weights=weights).x[k]
            for k in range(m):
                block_sums, block_counts = sums.copy(), counts.copy()
                block_sums[k] += value
                block_counts[k] += 1.0
                fit = isotonic_regression(block_sums / block_counts, weights=block_counts)
                self.at_[k, value] = fit.x[k]
        return self

    def predict_interval(self, probability: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Venn-Abers interval ``(p0, p1)`` per patient, each shape (n,)."""
        score = _check(probability)
        rank = np.searchsorted(self.score_, score, side="left")
        at = np.minimum(rank, len(self.score_) - 1)
        tied = (rank < len(self.score_)) & (self.score_[at] == score)
        interval = np.where(tied[:, None], self.at_[at], self.between_[rank])
        return interval[:, 0], interval[:, 1]

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
