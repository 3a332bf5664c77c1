"""Per-patient SHAP explanations, global importance and a shallow surrogate tree.

* Tree models (XGBoost, LightGBM): exact path-dependent TreeSHAP (Lundberg et al.,
  Nat Mach Intell 2020) via ``shap.TreeExplainer``.
* Logistic baseline: ``shap.LinearExplainer`` on the imputed, scaled, one-hot features;
  contributions of a column's one-hot indicators are summed back to the column.

In both cases contributions are on the log-odds (margin) scale and satisfy local
accuracy: ``base_value + sum(shap) == model log-odds`` for every patient.

The surrogate is a depth-limited regression tree fitted to the model's log-odds
(Craven & Shavlik, NIPS 1996); its fidelity is the R^2 against the model's log-odds and
the agreement of the two at the 0.5 risk threshold, both reported, never assumed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeRegressor, export_text

from cardiolens.core.errors import ParameterError


def direction(shap: float) -> str:
    """Plain-words effect of a contribution: "raises risk", "lowers risk" or "no effect"."""
    return "raises risk" if shap > 0 else "lowers risk" if shap < 0 else "no effect"


@dataclass(frozen=True)
class FeatureContribution:
    """One feature's SHAP contribution to one patient's predicted log-odds."""

    feature: str
    value: float
    shap: float
    direction: str

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "feature": self.feature,
            "value": self.value,
            "shap": self.shap,
            "direction": self.direction,
        }


@dataclass(frozen=True)
class ShapExplanation:
    """SHAP values of a batch of patients on the log-odds scale.

    Attributes
    ----------
    values
        Shape (n, n_features) contributions in log-odds units.
    base_value
        Expected log-odds over the background (the value with no feature known).
    data
        Shape (n, n_features) encoded feature values that were explained.
    feature_names
        Column names in order.
    """

    values: np.ndarray
    base_value: float
    data: np.ndarray
    feature_names: tuple[str, ...]

    def log_odds(self) -> np.ndarray:
        """Reconstructed model output ``base_value + sum(values)``, shape (n,)."""
        return self.base_value + self.values.sum(axis=1)

    def top_features(self, row: int, k: int = 5) -> list[FeatureContribution]:
        """The ``k`` largest absolute contributions of one patient, largest first."""
        order = np.argsort(-np.abs(self.values[row]), kind="stable")[:k]
        return [
            FeatureContribution(
                feature=self.feature_names[j],
                value=float(self.data[row, j]),
                shap=float(self.values[row, j]),
                direction=direction(self.values[row, j]),
            )
            for j in order
        ]


class RiskExplainer:
    """SHAP explainer for a fitted cardiolens classifier.

    Parameters
    ----------
    model
        Fitted XGBClassifier, LGBMClassifier or the logistic baseline pipeline.
    background
        Encoded training features, shape (m, n_features), for the linear explainer's
        feature means (tree explainers use the trees' own cover statistics).
    feature_names
        Column names.
    """

    def __init__(self, model, background: np.ndarray, feature_names: list[str]) -> None:
        import shap

        self.model = model
        self.feature_names = tuple(feature_names)
        if hasattr(model, "imputer_"):  # BoostedSurvival: trees on imputed features
            self._transform = model.imputer_
            self._explainer = shap.TreeExplainer(_boosted_cox_trees(model.model_))
            self._aggregate = np.eye(len(feature_names))
        elif isinstance(model, Pipeline):
            self._transform = model[:-1]
            transformed = self._transform.transform(background)
            self._explainer = shap.LinearExplainer(model[-1], transformed)
            self._aggregate = _owner_matrix(
                self._transform[0], transformed.shape[1], len(feature_names)
            )
        else:
            self._transform = None
            self._explainer = shap.TreeExplainer(model)

    @property
    def base_value(self) -> float:
        """Expected model output (log-odds, or log hazard) before any feature is known."""
        return float(np.ravel(self._explainer.expected_value)[-1])

    def explain(self, x: np.ndarray) -> ShapExplanation:
        """SHAP values of patients ``x`` (encoded, shape (n, n_features))."""
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ParameterError(
                f"expected {len(self.feature_names)} features, got shape {x.shape}"
            )
        if self._transform is not None:
            values = np.asarray(self._explainer.shap_values(self._transform.transform(x)))
            values = values @ self._aggregate
        else:
            with warnings.catch_warnings():  # LightGBM list-output notice
                warnings.simplefilter("ignore", UserWarning)
                values = self._explainer.shap_values(x)
            values = np.asarray(values[1] if isinstance(values, list) else values)
        return ShapExplanation(values, self.base_value, x, self.feature_names)


def _boosted_cox_trees(model) -> dict:
    """scikit-survival GradientBoostingSurvivalAnalysis as shap's tree dictionary (log hazard)."""
    trees = []
    for estimator in model.estimators_[:, 0]:
        tree = estimator.tree_
        trees.append(
            {
                "children_left": tree.children_left.astype(np.int32),
                "children_right": tree.children_right.astype(np.int32),
                "children_default": tree.children_left.astype(np.int32),
                "features": tree.feature.astype(np.int32),
                "thresholds": tree.threshold.astype(np.float64),
                "values": tree.value[:, 0, :] * model.learning_rate,
                "node_sample_weight": tree.weighted_n_node_samples.astype(np.float64),
            }
        )
    zero = np.zeros((1, model.n_features_in_))
    trees_at_zero = sum(t.predict(zero)[0] for t in model.estimators_[:, 0]) * model.learning_rate
    return {"trees": trees, "base_offset": float(model.predict(zero)[0] - trees_at_zero)}


def _owner_matrix(column_transformer, n_outputs: int, n_inputs: int) -> np.ndarray:
    """Matrix (n_outputs, n_inputs) summing transformed columns back to their input column."""
    owner = np.zeros((n_outputs, n_inputs))
    for name, _, columns in column_transformer.transformers_:
        if name == "remainder":
            continue
        outputs = range(n_outputs)[column_transformer.output_indices_[name]]
        for position, output in enumerate(outputs):
            owner[output, columns[position] if len(columns) == len(outputs) else columns[0]] = 1.0
    return owner


def model_log_odds(model, x: np.ndarray) -> np.ndarray:
    """The model's raw margin (log-odds; log relative hazard for survival), shape (n,).

    This is the scale SHAP values add up to.
    """
    if hasattr(model, "predict_risk"):
        return model.predict_risk(x)
    if isinstance(model, Pipeline):
        return model.decision_function(x)
    if type(model).__name__ == "LGBMClassifier":
        return model.predict(x, raw_score=True)
    return model.predict(x, output_margin=True)


def global_importance(explanation: ShapExplanation) -> pd.DataFrame:
    """Mean absolute SHAP value per feature (log-odds units), most important first."""
    importance = np.abs(explanation.values).mean(axis=0)
    table = pd.DataFrame({"feature": explanation.feature_names, "mean_abs_shap": importance})
    return table.sort_values("mean_abs_shap", ascending=False, ignore_index=True)


@dataclass(frozen=True)
class SurrogateTree:
    """A shallow decision tree mimicking the model, with its measured fidelity."""

    tree: DecisionTreeRegressor
    r_squared: float
    agreement: float
    rules: str


def fit_surrogate_tree(
    x: np.ndarray, log_odds: np.ndarray, feature_names: list[str], max_depth: int = 3
) -> SurrogateTree:
    """Fit a depth-limited regression tree to the model's log-odds.

    Parameters
    ----------
    x
        Encoded features, shape (n, n_features) (NaN allowed).
    log_odds
        Model margin per patient, shape (n,).
    max_depth
        Tree depth; 3 keeps it readable (at most 8 leaves).

    Returns
    -------
    SurrogateTree
        With ``r_squared`` (vs the model's log-odds) and ``agreement`` (same side of
        risk 0.5, i.e. log-odds 0) on ``x``.
    """
    tree = DecisionTreeRegressor(max_depth=max_depth, min_samples_leaf=5, random_state=0)
    tree.fit(x, log_odds)
    fitted = tree.predict(x)
    residual = np.sum((log_odds - fitted) ** 2)
    total = np.sum((log_odds - log_odds.mean()) ** 2)
    return SurrogateTree(
        tree=tree,
        r_squared=float(1 - residual / total) if total > 0 else float("nan"),
        agreement=float(np.mean((fitted > 0) == (log_odds > 0))),
        rules=export_text(tree, feature_names=list(feature_names), decimals=2),
    )
