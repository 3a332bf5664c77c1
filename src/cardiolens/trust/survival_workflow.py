"""Train and validate a time-to-event risk model and write its model directory.

:func:`train_survival_model` is behind ``cardiolens risk train --time COL --event COL``:
5-fold cross-validation of the gradient-boosted Cox model beside the Cox baseline
(Harrell's and Uno's C, time-dependent AUC, integrated Brier score, bootstrap CIs), the
final models fitted on all patients, a Venn-Abers calibrator and Mondrian conformal
flag on the out-of-fold risk at the first horizon (patients whose status at the
horizon is known), SHAP explanations of the log hazard and the model card.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cardiolens.core.errors import ParameterError
from cardiolens.risk.outcome import column_or_error
from cardiolens.risk.schema import infer_schema
from cardiolens.risk.survival import (
    BoostedSurvival,
    CoxBaseline,
    SurvivalCVResult,
    check_horizon,
    check_survival_outcome,
    status_at_horizon,
    survival_cross_validation,
)
from cardiolens.trust.calibration import VennAbersCalibrator
from cardiolens.trust.conformal import MondrianConformalClassifier
from cardiolens.trust.explain import global_importance
from cardiolens.trust.model_card import ModelCard
from cardiolens.trust.serving import RiskModel
from cardiolens.trust.workflow import run_metadata

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SurvivalTrainingReport:
    """Cross-validated performance of the survival models and the served model."""

    model: RiskModel
    cross_validation: tuple[SurvivalCVResult, ...]
    importance: pd.DataFrame

    def performance_table(self) -> pd.DataFrame:
        """Harrell's C, Uno's C, td-AUC and integrated Brier (95 % CI) per model."""
        return pd.DataFrame(
            [
                {"model": r.kind.value, **{name: str(e) for name, e in r.estimates.items()}}
                for r in self.cross_validation
            ]
        )

    def to_dict(self) -> dict:
        """JSON-ready summary (``validation.json``)."""
        return {
            "model_id": self.model.model_id,
            "cross_validation": [r.to_dict() for r in self.cross_validation],
            "global_importance": self.importance.to_dict(orient="records"),
        }


def train_survival_model(
    table: pd.DataFrame,
    *,
    time: str,
    event: str,
    horizons: tuple[float, ...],
    features: list[str] | None = None,
    confidence: float = 0.9,
    n_splits: int = 5,
    n_boot: int = 200,
    random_state: int = 0,
    out: str | Path | None = None,
    source: str = "",
    progress: bool = False,
) -> SurvivalTrainingReport:
    """Cross-validate and train the boosted Cox model beside the Cox baseline.

    Parameters
    ----------
    table
        One patient per row.
    time, event
        Follow-up time column (> 0, any unit) and 0/1 event column.
    horizons
        Times (same unit as ``time``) of the served ``risk_at_<h>`` columns, e.g.
        ``(365,)`` for 1-year risk with follow-up in days.
    features
        Predictors; default every other column.
    out
        Model directory to write; nothing written when None.
    """
    if time is None or not horizons:
        raise ParameterError("a survival model needs --time and at least one --horizon")
    follow_up, happened = check_survival_outcome(
        pd.to_numeric(column_or_error(table, time, "time"), errors="coerce"),
        pd.to_numeric(column_or_error(table, event, "event"), errors="coerce"),
    )
    for h in horizons:
        check_horizon(float(h), follow_up, float(follow_up.max()), "of the table")
    features = features or [c for c in table.columns if c not in (time, event)]
    schema = infer_schema(table, features)
    encoded, missing = schema.validate(table)
    x = encoded.to_numpy()
    horizon = float(horizons[0])
    cv = survival_cross_validation(
        x,
        follow_up,
        happened,
        n_splits=n_splits,
        n_boot=n_boot,
        random_state=random_state,
        progress=progress,
        horizon=horizon,
    )
    known, status = status_at_horizon(follow_up, happened, horizon)
    oof = cv[0].oof_risk
    model = BoostedSurvival(random_state=random_state).fit(x, follow_up, happened)
    baseline = CoxBaseline().fit(x, follow_up, happened)
    served = RiskModel(
        schema,
        model,
        model.kind,
        VennAbersCalibrator().fit(oof[known], status[known]),
        MondrianConformalClassifier().fit(oof[known], status[known]),
        background=x[:0],
        confidence=confidence,
        baseline=baseline,
        horizons=tuple(float(h) for h in horizons),
    )
    report = SurvivalTrainingReport(
        served, tuple(cv), global_importance(served.explainer.explain(x))
    )
    if out is not None:
        out = Path(out)
        metadata = run_metadata(
            table,
            source,
            task="time to event",
            model=model.kind.value,
            target=event,
            parameters={
                "time": time,
                "event": event,
                "horizons": list(horizons),
                "folds": n_splits,
            },
        )
        served.save(out, metadata)
        (out / "validation.json").write_text(json.dumps(report.to_dict(), indent=2, default=float))
        report.performance_table().to_csv(out / "performance.csv", index=False)
        _card(report, time, event, missing.missing_per_column, int(known.sum())).write(out)
    return report


def _card(
    report: SurvivalTrainingReport, time: str, event: str, missing: dict, n_known: int
) -> ModelCard:
    served, meta = report.model, report.model.metadata
    return ModelCard(
        title=f"Model card: gradient-boosted Cox model for '{event}'",
        sections=[
            (
                "Model",
                [
                    f"Model id {served.model_id}, cardiolens {meta.get('version')}. Gradient-boosted Cox model with a "
                    f"ridge Cox baseline; risk at horizon(s) {list(served.horizons)} ({time} units).",
                ],
            ),
            (
                "Intended use",
                [
                    "Decision support for estimating event risk over the stated horizon(s); not a diagnosis."
                ],
            ),
            (
                "Source of data and participants",
                [
                    f"Source: {meta.get('data_source') or 'not stated'}; {meta.get('n_patients')} patients; data SHA-256 "
                    f"{meta.get('data_sha256')}.",
                ],
            ),
            (
                "Outcome",
                [
                    f"Time to '{event}' with follow-up '{time}'; censored patients kept (partial likelihood)."
                ],
            ),
            (
                "Predictors and missing data",
                [
                    ", ".join(served.schema.names)
                    + f". Missing values per column: {missing or 'none'} (median-imputed).",
                ],
            ),
            ("Performance (5-fold CV, 95 % bootstrap CI)", [report.performance_table()]),
            ("Explanations", [report.importance.head(10)]),
            (
                "Uncertainty",
                [
                    f"Venn-Abers interval and conformal needs_review flag ({served.confidence:.0%}) calibrated on "
                    f"{n_known} patients whose status at {served.horizons[0]:g} is known (complete-case; patients censored "
                    "earlier are excluded, which biases calibration if censoring depends on risk).",
                ],
            ),
            (
                "Limitations",
                [
                    "Proportional hazards assumed by the baseline; retrospective data; recalibrate locally before use.",
                ],
            ),
        ],
    )
