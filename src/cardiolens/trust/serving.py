"""The served risk model: schema check, calibrated risk, conformal flag and SHAP reasons.

A model directory holds

* ``model.joblib``: the fitted model, logistic baseline, Venn-Abers calibrator,
  conformal predictor and a background sample;
* ``schema.json``: the frozen :class:`~cardiolens.risk.schema.FeatureSchema`;
* ``metadata.json``: model id (SHA-256 of ``model.joblib``), versions, training-data
  hash, training parameters;
* ``model_card.md`` / ``model_card.html`` and the validation results.

:func:`load_model` reads it back; :meth:`RiskModel.predict_one` is what the pipeline
calls for one patient.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from cardiolens.core.errors import InputError, SchemaError
from cardiolens.risk.models import ModelKind
from cardiolens.risk.schema import ColumnKind, FeatureSchema
from cardiolens.risk.survival import SurvivalKind
from cardiolens.trust.calibration import VennAbersCalibrator
from cardiolens.trust.conformal import MondrianConformalClassifier
from cardiolens.trust.explain import RiskExplainer, direction

logger = logging.getLogger(__name__)

MODEL_FILE = "model.joblib"
SCHEMA_FILE = "schema.json"
METADATA_FILE = "metadata.json"
N_TOP_FEATURES = 5
#: Layout of the pickled state in ``model.joblib``; raised whenever a stored object changes
#: (2: format recorded, Venn-Abers calibrator pools tied scores).
MODEL_FORMAT = 2


@dataclass(frozen=True)
class RiskPrediction:
    """One patient's risk with its uncertainty and reasons.

    Attributes
    ----------
    probability
        Calibrated risk of the outcome (Venn-Abers merged probability), 0-1; for a
        survival model the cumulative risk at its first horizon.
    lower, upper
        Venn-Abers probability interval ``[p0, p1]``.
    needs_review
        True when the conformal prediction set at ``confidence`` is not a single outcome.
    confidence
        Conformal confidence level, e.g. 0.9.
    top_features
        Largest SHAP contributions: ``{feature, value, shap, direction}`` with ``shap`` in
        log-odds of the uncalibrated model and ``value`` in the input's units/codes.
    model_id
        Identifier of the model that produced it.
    base_value
        SHAP base value (log-odds; log hazard for survival): with the patient's SHAP
        values over all features it sums to the model's output.
    """

    probability: float
    lower: float
    upper: float
    needs_review: bool
    confidence: float
    top_features: list[dict] = field(default_factory=list)
    model_id: str = ""
    base_value: float = float("nan")

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "probability": self.probability,
            "lower": self.lower,
            "upper": self.upper,
            "needs_review": self.needs_review,
            "confidence": self.confidence,
            "top_features": self.top_features,
            "model_id": self.model_id,
            "base_value": self.base_value,
        }


class RiskModel:
    """A trained risk model with calibration, conformal review flag and explanations.

    Parameters
    ----------
    schema
        Frozen feature schema.
    model
        Fitted primary classifier (encoded features -> probability).
    kind
        Its family.
    calibrator
        Venn-Abers calibrator fitted on out-of-fold risks.
    conformal
        Mondrian conformal predictor fitted on the same out-of-fold risks.
    background
        Encoded training sample (for the linear explainer), shape (m, n_features).
    confidence
        Default conformal confidence.
    metadata
        ``metadata.json`` content (model id, versions, hashes).
    baseline
        Fitted baseline (logistic or Cox), kept for comparison.
    horizons
        Survival models only: horizons (time-column units) of the ``risk_at_<h>``
        columns; calibration and conformal flag refer to the first.
    """

    def __init__(
        self,
        schema: FeatureSchema,
        model,
        kind: ModelKind | SurvivalKind,
        calibrator: VennAbersCalibrator,
        conformal: MondrianConformalClassifier,
        background: np.ndarray,
        confidence: float = 0.9,
        metadata: dict | None = None,
        baseline=None,
        horizons: tuple[float, ...] = (),
    ) -> None:
        self.schema = schema
        self.model = model
        self.kind = kind
        self.calibrator = calibrator
        self.conformal = conformal
        self.background = background
        self.confidence = confidence
        self.metadata = metadata or {}
        self.baseline = baseline
        self.horizons = tuple(horizons)
        self._explainer: RiskExplainer | None = None

    @property
    def model_id(self) -> str:
        """Identifier recorded in ``metadata.json`` ("" before saving)."""
        return self.metadata.get("model_id", "")

    @property
    def explainer(self) -> RiskExplainer:
        """SHAP explainer of the primary model (built on first use)."""
        if self._explainer is None:
            self._explainer = RiskExplainer(self.model, self.background, self.schema.names)
        return self._explainer

    def _risks(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Uncalibrated risks: ``{"probability": ...}`` or ``{"risk_at_<h>": ...}``."""
        if not self.horizons:
            return {"probability": self.model.predict_proba(x)[:, 1].astype(float)}
        cumulative = 1.0 - self.model.predict_survival(x, np.asarray(self.horizons))
        return {f"risk_at_{h:g}": cumulative[:, j] for j, h in enumerate(self.horizons)}

    def predict_raw(self, table: pd.DataFrame) -> np.ndarray:
        """Uncalibrated model risk (at the first horizon) after schema validation, shape (n,)."""
        encoded, _ = self.schema.validate(table)
        return next(iter(self._risks(encoded.to_numpy()).values()))

    def predict(
        self, table: pd.DataFrame, confidence: float | None = None, explain: bool = True
    ) -> pd.DataFrame:
        """Predict every row of a table.

        Returns
        -------
        DataFrame
            Same index as ``table``; columns ``probability`` (calibrated; survival
            models give ``risk_at_<h>`` per horizon instead), ``lower``, ``upper``,
            ``needs_review`` and (when ``explain``) ``top_features`` (JSON list).

        Raises
        ------
        SchemaError
            The table does not match the model's schema.
        """
        confidence = self.confidence if confidence is None else confidence
        encoded, _ = self.schema.validate(table)
        x = encoded.to_numpy()
        risks = self._risks(x)
        raw = next(iter(risks.values()))
        lower, upper = self.calibrator.predict_interval(raw)
        if not self.horizons:
            risks = {"probability": upper / (1.0 - lower + upper)}
        result = pd.DataFrame(
            {
                **risks,
                "lower": lower,
                "upper": upper,
                "needs_review": self.conformal.predict(raw, confidence).needs_review,
            },
            index=table.index,
        )
        if explain:
            explanation = self.explainer.explain(x)
            result["top_features"] = self._top_features(explanation)
        return result

    def _top_features(self, explanation) -> list[str]:
        """JSON list of the top SHAP contributions per patient, values in input codes."""
        values = explanation.values
        order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :N_TOP_FEATURES]
        decoders = [
            None if spec.kind is ColumnKind.NUMERIC else spec.categories
            for spec in self.schema.columns
        ]
        rows = []
        for i, columns in enumerate(order):
            items = []
            for j in columns:
                raw, shap = explanation.data[i, j], float(values[i, j])
                value = (
                    None
                    if np.isnan(raw)
                    else (raw if decoders[j] is None else decoders[j][int(raw)])
                )
                items.append(
                    {
                        "feature": explanation.feature_names[j],
                        "value": float(value) if isinstance(value, np.floating) else value,
                        "shap": round(shap, 4),
                        "direction": direction(shap),
                    }
                )
            rows.append(json.dumps(items))
        return rows

    def predict_one(self, features: dict, confidence: float | None = None) -> RiskPrediction:
        """Predict one patient from ``{column: value}`` (missing keys are an error; use
        ``None`` for an unknown value)."""
        if not isinstance(features, dict):
            raise SchemaError(
                f"predict_one expects a dict of features, got {type(features).__name__}"
            )
        row = self.predict(pd.DataFrame([features]), confidence)
        record = row.iloc[0]
        return RiskPrediction(
            probability=float(record[row.columns[0]]),
            lower=float(record["lower"]),
            upper=float(record["upper"]),
            needs_review=bool(record["needs_review"]),
            confidence=self.confidence if confidence is None else confidence,
            top_features=json.loads(record["top_features"]),
            model_id=self.model_id,
            base_value=self.explainer.base_value,
        )

    def save(self, directory: str | Path, metadata: dict) -> str:
        """Write ``model.joblib``, ``schema.json`` and ``metadata.json``; return the model id."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {
            "model": self.model,
            "kind": self.kind,
            "calibrator": self.calibrator,
            "conformal": self.conformal,
            "background": self.background,
            "confidence": self.confidence,
            "baseline": self.baseline,
            "horizons": self.horizons,
            "format": MODEL_FORMAT,
        }
        joblib.dump(state, directory / MODEL_FILE, compress=3)
        self.schema.save(directory / SCHEMA_FILE)
        digest = hashlib.sha256((directory / MODEL_FILE).read_bytes()).hexdigest()
        self.metadata = {"model_id": digest[:16], "model_sha256": digest, **metadata}
        (directory / METADATA_FILE).write_text(json.dumps(self.metadata, indent=2, default=str))
        return self.model_id


def read_metadata(model_dir: str | Path) -> dict:
    """``metadata.json`` of a model directory (target, versions, training parameters).

    Raises
    ------
    InputError
        The folder lacks one of the files every model directory holds.
    """
    model_dir = Path(model_dir)
    for name in (MODEL_FILE, SCHEMA_FILE, METADATA_FILE):
        if not (model_dir / name).is_file():
            raise InputError(f"not a cardiolens model directory: {name} is missing", model_dir)
    try:
        metadata = json.loads((model_dir / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(
            f"cannot read {METADATA_FILE} ({str(error)[:160]})", model_dir / METADATA_FILE
        ) from None
    if not isinstance(metadata, dict):
        raise InputError(f"{METADATA_FILE} must hold one JSON object", model_dir / METADATA_FILE)
    return metadata


def load_model(model_dir: str | Path) -> RiskModel:
    """Read a model directory written by training.

    Raises
    ------
    InputError
        A file is missing or ``model.joblib`` does not match the SHA-256 recorded in
        ``metadata.json`` (the directory was altered).
    """
    model_dir = Path(model_dir)
    metadata = read_metadata(model_dir)
    digest = hashlib.sha256((model_dir / MODEL_FILE).read_bytes()).hexdigest()
    if digest != metadata.get("model_sha256"):
        raise InputError(
            f"{MODEL_FILE} SHA-256 {digest[:16]} does not match metadata.json "
            f"{str(metadata.get('model_sha256'))[:16]}; the model directory was altered",
            model_dir,
        )
    state = joblib.load(model_dir / MODEL_FILE)
    if state.get("format") != MODEL_FORMAT:
        raise InputError(
            f"{MODEL_FILE} has format {state.get('format', 1)}, this cardiolens reads format "
            f"{MODEL_FORMAT}: it was written by an older cardiolens "
            f"({metadata.get('version', 'unknown version')}); retrain the model",
            model_dir,
        )
    return RiskModel(
        schema=FeatureSchema.load(model_dir / SCHEMA_FILE),
        model=state["model"],
        kind=state["kind"],
        calibrator=state["calibrator"],
        conformal=state["conformal"],
        background=state["background"],
        confidence=state["confidence"],
        metadata=metadata,
        baseline=state["baseline"],
        horizons=state["horizons"],
    )
