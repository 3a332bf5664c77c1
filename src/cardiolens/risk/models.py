"""Classifiers for binary outcomes: gradient boosting and the logistic baseline.

Every model takes the float matrix produced by
:meth:`~cardiolens.risk.schema.FeatureSchema.validate` (missing values as NaN,
categorical columns as code indices) and follows the scikit-learn contract.

* ``xgboost``: gradient-boosted trees (Chen & Guestrin, KDD 2016), missing values
  routed natively by learned default directions.
* ``lightgbm``: histogram gradient boosting with leaf-wise growth (Ke et al., NeurIPS
  2017), native missing values.
* ``logistic``: L2-penalised logistic regression after median imputation and
  standardisation (numeric) or most-frequent imputation and one-hot coding
  (categorical), the transparent baseline every boosted model is compared with
  (Christodoulou et al., J Clin Epidemiol 2019).
"""

from __future__ import annotations

from enum import StrEnum

from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from cardiolens.core.errors import ParameterError
from cardiolens.risk.schema import ColumnKind, FeatureSchema


class ModelKind(StrEnum):
    """Classifier families cardiolens trains."""

    XGBOOST = "xgboost"
    LIGHTGBM = "lightgbm"
    LOGISTIC = "logistic"


TUNING_GRIDS: dict[ModelKind, dict[str, list]] = {
    ModelKind.XGBOOST: {"max_depth": [2, 3]},
    ModelKind.LIGHTGBM: {"num_leaves": [4, 8]},
    ModelKind.LOGISTIC: {"logisticregression__C": [0.05, 0.5, 5.0]},
}
"""Small hyper-parameter grids searched by inner cross-validation: shallow trees keep
training and exact TreeSHAP fast (cost grows with leaves x depth^2) and suit tabular
clinical data of hundreds to tens of thousands of patients."""


def model_kind(name: str | ModelKind) -> ModelKind:
    """Parse a model name, with the list of valid names in the error."""
    try:
        return ModelKind(name)
    except ValueError:
        raise ParameterError(
            f"unknown model {name!r}; expected one of {[kind.value for kind in ModelKind]}"
        ) from None


def make_classifier(
    kind: str | ModelKind, schema: FeatureSchema, random_state: int = 0, n_jobs: int = 1
) -> ClassifierMixin:
    """Build an unfitted classifier of the given family for a schema.

    Parameters
    ----------
    kind
        ``xgboost``, ``lightgbm`` or ``logistic``.
    schema
        Feature schema; the logistic baseline one-hot codes its categorical columns.
    random_state
        Seed of the boosted models' row and column subsampling.
    n_jobs
        Threads for the boosted models; keep 1 for small tables (threading overhead
        dominates below a few thousand rows).
    """
    kind = model_kind(kind)
    if kind is ModelKind.XGBOOST:
        from xgboost import XGBClassifier

        return XGBClassifier(
            n_estimators=200,
            learning_rate=0.05,
            max_depth=3,
            subsample=0.8,
            colsample_bytree=0.8,
            min_child_weight=1.0,
            tree_method="hist",
            eval_metric="logloss",
            random_state=random_state,
            n_jobs=n_jobs,
        )
    if kind is ModelKind.LIGHTGBM:
        from lightgbm import LGBMClassifier

        return LGBMClassifier(
            n_estimators=200,
            learning_rate=0.05,
            num_leaves=7,
            min_child_samples=10,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=random_state,
            n_jobs=n_jobs,
            verbose=-1,
        )
    return make_logistic_baseline(schema)


def make_logistic_baseline(schema: FeatureSchema) -> Pipeline:
    """Imputation + scaling (numeric, binary) or one-hot (categorical) + L2 logistic regression."""
    numeric = [
        i for i, spec in enumerate(schema.columns) if spec.kind is not ColumnKind.CATEGORICAL
    ]
    transformers = [
        (
            "numeric",
            make_pipeline(
                SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()
            ),
            numeric,
        )
    ]
    for index, spec in enumerate(schema.columns):
        if spec.kind is ColumnKind.CATEGORICAL:
            encoder = OneHotEncoder(
                categories=[[float(code) for code in range(len(spec.categories))]],
                handle_unknown="ignore",
                sparse_output=False,
            )
            steps = make_pipeline(SimpleImputer(strategy="most_frequent"), encoder)
            transformers.append((f"categorical_{index}", steps, [index]))
    return make_pipeline(
        ColumnTransformer(transformers),
        LogisticRegression(C=0.5, max_iter=2000),
    )
