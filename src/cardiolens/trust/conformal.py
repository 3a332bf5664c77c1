"""Mondrian (label-conditional) inductive conformal classification for binary outcomes.

For calibration patients with out-of-sample risk ``p_i`` and outcome ``y_i`` the
nonconformity of label ``c`` is the hinge score ``alpha = 1 - P(c)`` (``P(1) = p``,
``P(0) = 1 - p``). For a new patient the p-value of label ``c`` is

    p_c = (#{i : y_i = c, alpha_i >= alpha_c} + 1) / (n_c + 1),

computed only against calibration patients of the same label (Mondrian taxonomy), so
the prediction set ``{c : p_c > 1 - confidence}`` covers the true label with
probability at least ``confidence`` within each class (Vovk, Gammerman & Shafer,
Algorithmic Learning in a Random World, 2005, ch. 4; Papadopoulos et al., ECML 2002).
A set of both labels (or none) means the model cannot decide at that confidence: the
patient ``needs_review``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cardiolens.core.errors import ParameterError


def _class_probabilities(probability: np.ndarray) -> np.ndarray:
    probability = np.asarray(probability, dtype=float)
    if probability.ndim != 1 or np.isnan(probability).any():
        raise ParameterError("conformal prediction needs a 1-D array of risks without NaN")
    return np.column_stack([1.0 - probability, probability])


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ParameterError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    return float(confidence)


@dataclass(frozen=True)
class ConformalPrediction:
    """Per-patient conformal output at one confidence level.

    Attributes
    ----------
    p_values
        Shape (n, 2): p-value of outcome 0 and of outcome 1.
    prediction_set
        Shape (n, 2) bool: whether each outcome is in the set.
    needs_review
        Shape (n,): True when the set is not a single outcome.
    confidence
        Requested coverage, e.g. 0.9.
    """

    p_values: np.ndarray
    prediction_set: np.ndarray
    needs_review: np.ndarray
    confidence: float


class MondrianConformalClassifier:
    """Label-conditional split-conformal predictor over a model's calibrated risks."""

    def fit(self, probability: np.ndarray, y: np.ndarray) -> MondrianConformalClassifier:
        """Store sorted nonconformity scores per outcome class.

        Parameters
        ----------
        probability
            Out-of-sample risks of the calibration patients, shape (n,).
        y
            Their outcomes 0/1, shape (n,).
        """
        proba = _class_probabilities(probability)
        y = np.asarray(y).astype(int)
        if len(y) != len(proba) or not np.isin(y, (0, 1)).all():
            raise ParameterError("conformal calibration needs one 0/1 outcome per risk")
        self.scores_ = []
        for label in (0, 1):
            scores = np.sort(1.0 - proba[y == label, label])
            if len(scores) < 10:
                raise ParameterError(
                    f"conformal calibration needs >= 10 patients with outcome {label}, got {len(scores)}"
                )
            self.scores_.append(scores)
        return self

    def predict_p(self, probability: np.ndarray) -> np.ndarray:
        """Conformal p-values of outcomes 0 and 1, shape (n, 2)."""
        proba = _class_probabilities(probability)
        p_values = np.empty_like(proba)
        for label in (0, 1):
            scores = self.scores_[label]
            alpha = 1.0 - proba[:, label]
            at_least = len(scores) - np.searchsorted(scores, alpha - 1e-12, side="left")
            p_values[:, label] = (at_least + 1) / (len(scores) + 1)
        return p_values

    def predict(self, probability: np.ndarray, confidence: float = 0.9) -> ConformalPrediction:
        """Prediction sets and ``needs_review`` flags at the requested confidence."""
        confidence = _check_confidence(confidence)
        p_values = self.predict_p(probability)
        prediction_set = p_values > 1.0 - confidence
        return ConformalPrediction(
            p_values=p_values,
            prediction_set=prediction_set,
            needs_review=prediction_set.sum(axis=1) != 1,
            confidence=confidence,
        )


def empirical_coverage(prediction: ConformalPrediction, y: np.ndarray) -> float:
    """Fraction of patients whose observed outcome lies in their prediction set."""
    y = np.asarray(y).astype(int)
    return float(prediction.prediction_set[np.arange(len(y)), y].mean())
