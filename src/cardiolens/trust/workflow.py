"""Train, validate, calibrate, explain and audit a risk model, and write its directory.

:func:`train_risk_model` is the one function behind ``cardiolens risk train``:

1. infer and freeze the feature schema, validate the table and the 0/1 target;
2. nested cross-validation of the boosted model and the logistic baseline, side by
   side (out-of-fold risks, metrics with bootstrap CIs);
3. optional site-held-out external validation (``site``), both models;
4. Venn-Abers calibrator and Mondrian conformal predictor fitted on the boosted model's
   out-of-fold risks; final models tuned and fitted on all patients;
5. subgroup audit (sex, age band, ``groups``) of every evaluation, optional mitigation;
6. SHAP global importance and surrogate-tree fidelity;
7. the model directory with model card, metadata and figures.

:func:`evaluate_model` scores a saved model on a new labelled table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

import cardiolens
from cardiolens.core.errors import ParameterError
from cardiolens.risk.figures import plot_calibration, plot_decision_curve, plot_roc
from cardiolens.risk.metrics import ClassificationMetrics, classification_metrics
from cardiolens.risk.models import ModelKind, make_classifier, model_kind
from cardiolens.risk.outcome import binary_target, column_or_error
from cardiolens.risk.schema import FeatureSchema, MissingValueReport, infer_schema
from cardiolens.risk.validation import (
    nested_cross_validation,
    site_held_out_validation,
    tune_classifier,
)
from cardiolens.trust.calibration import VennAbersCalibrator
from cardiolens.trust.conformal import MondrianConformalClassifier, empirical_coverage
from cardiolens.trust.explain import (
    SurrogateTree,
    fit_surrogate_tree,
    global_importance,
    model_log_odds,
)
from cardiolens.trust.fairness import (
    FairnessAudit,
    MitigationResult,
    age_band,
    audit_fairness,
    mitigate_equalized_odds,
    mitigate_reweighing,
)
from cardiolens.trust.model_card import ModelCard
from cardiolens.trust.serving import RiskModel, load_model

logger = logging.getLogger(__name__)

LIBRARIES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "xgboost-cpu",
    "lightgbm",
    "shap",
    "fairlearn",
)
_BACKGROUND_ROWS = 200
_IMPORTANCE_ROWS = 5000
"""Global SHAP importance is averaged over at most this many training patients."""


@dataclass(frozen=True)
class ModelEvaluation:
    """Metrics and subgroup audit of one model on one set of patients."""

    evaluation: str
    kind: ModelKind
    y: np.ndarray
    probability: np.ndarray
    metrics: ClassificationMetrics
    subgroups: FairnessAudit

    def summary(self) -> dict:
        """One row of the performance table."""
        m = self.metrics
        return {
            "evaluation": self.evaluation,
            "model": self.kind.value,
            "n": m.n,
            "events": m.n_events,
            "auc": str(m.auc),
            "brier": str(m.brier),
            "calibration_slope": str(m.calibration_slope),
            "calibration_intercept": str(m.calibration_intercept),
        }


@dataclass(frozen=True)
class TrainingReport:
    """Everything a training run measured, and the served model."""

    model: RiskModel
    model_dir: Path | None
    evaluations: tuple[ModelEvaluation, ...]
    missing: MissingValueReport
    importance: pd.DataFrame
    surrogate: SurrogateTree
    mitigation: tuple[MitigationResult, ...]
    conformal_needs_review_fraction: float

    def performance_table(self) -> pd.DataFrame:
        """AUC, Brier, calibration slope and intercept (95 % CI) per evaluation and model."""
        return pd.DataFrame([e.summary() for e in self.evaluations])

    def subgroup_table(self) -> pd.DataFrame:
        """Per-group metrics of every evaluation and model, side by side."""
        tables = []
        for e in self.evaluations:
            table = e.subgroups.table.copy()
            table.insert(0, "model", e.kind.value)
            table.insert(0, "evaluation", e.evaluation)
            tables.append(table)
        return pd.concat(tables, ignore_index=True)

    def to_dict(self) -> dict:
        """JSON-ready summary (``validation.json``)."""
        return {
            "model_id": self.model.model_id,
            "evaluations": [
                {
                    "evaluation": e.evaluation,
                    "model": e.kind.value,
                    **e.metrics.to_dict(),
                    "subgroups": e.subgroups.to_dict(),
                }
                for e in self.evaluations
            ],
            "missing_values": self.missing.missing_per_column,
            "global_importance": self.importance.to_dict(orient="records"),
            "surrogate_tree": {
                "r_squared": self.surrogate.r_squared,
                "agreement": self.surrogate.agreement,
                "rules": self.surrogate.rules,
            },
            "mitigation": [m.to_dict() for m in self.mitigation],
            "conformal": {
                "confidence": self.model.confidence,
                "needs_review_fraction_out_of_fold": self.conformal_needs_review_fraction,
            },
        }


def sensitive_groups(table: pd.DataFrame, groups: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Attributes audited by default (``sex``, age band from ``age``) plus ``groups``."""
    result = {}
    if "sex" in table.columns:
        result["sex"] = table["sex"].to_numpy()
    if "age" in table.columns:
        result["age_band"] = age_band(pd.to_numeric(table["age"], errors="coerce").to_numpy())
    for name in groups:
        if name not in table.columns:
            raise ParameterError(
                f"--group column {name!r} is not in the table {list(table.columns)}"
            )
        result[name] = table[name].to_numpy()
    return result


def data_sha256(table: pd.DataFrame) -> str:
    """SHA-256 of the table's CSV serialisation (columns in order, no index)."""
    return hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of Python, cardiolens and the modelling libraries."""
    return {"python": platform.python_version(), "cardiolens": cardiolens.__version__} | {
        name: version(name) for name in LIBRARIES
    }


def train_risk_model(
    table: pd.DataFrame,
    target: str,
    *,
    features: list[str] | None = None,
    site: str | None = None,
    groups: tuple[str, ...] = (),
    model: str = "xgboost",
    confidence: float = 0.9,
    threshold: float = 0.5,
    outer_folds: int = 5,
    mitigate: bool = False,
    n_boot: int = 1000,
    random_state: int = 0,
    out: str | Path | None = None,
    source: str = "",
    progress: bool = False,
    n_jobs: int = 1,
) -> TrainingReport:
    """Train the boosted model and the logistic baseline with full validation.

    Parameters
    ----------
    table
        Training patients, one row each.
    target
        0/1 outcome column.
    features
        Predictor columns; default every column except target, site and groups.
    site
        Column of the acquisition site for site-held-out external validation.
    groups
        Extra columns to audit subgroup performance by.
    model
        Boosted family to serve: ``xgboost`` or ``lightgbm`` (``logistic`` serves the
        baseline itself).
    confidence
        Conformal confidence of the ``needs_review`` flag.
    threshold
        Risk threshold for TPR/FPR in the subgroup audit.
    outer_folds
        Outer folds of nested cross-validation.
    mitigate
        Also report reweighing and equalized-odds mitigation on the first audited
        attribute (before/after).
    n_boot
        Bootstrap resamples of every CI.
    out
        Model directory to write; nothing written when None.
    source
        Description of the data source for the model card (e.g. the file name).
    progress
        Show progress bars.
    n_jobs
        Threads of the boosted models (1 is fastest below a few thousand patients).
    """
    kind = model_kind(model)
    excluded = {target, *([site] if site else []), *groups}
    features = features or [c for c in table.columns if c not in excluded]
    schema = infer_schema(table, features)
    encoded, missing = schema.validate(table)
    x = encoded.to_numpy()
    y = binary_target(table, target)
    sites = None if not site else column_or_error(table, site, "site").to_numpy()
    audit_groups = sensitive_groups(table, groups)
    kinds = (kind,) if kind is ModelKind.LOGISTIC else (kind, ModelKind.LOGISTIC)

    evaluations = []
    oof = {}
    for k in kinds:
        nested = nested_cross_validation(
            x,
            y,
            k,
            schema,
            outer_folds,
            random_state=random_state,
            n_boot=n_boot,
            progress=progress,
            n_jobs=n_jobs,
        )
        oof[k] = nested.probability
        evaluations.append(
            ModelEvaluation(
                "internal nested CV",
                k,
                y,
                nested.probability,
                nested.metrics,
                audit_fairness(y, nested.probability, audit_groups, threshold),
            )
        )
    if sites is not None:
        for result in site_held_out_validation(
            x, y, sites, kinds, schema, random_state, n_boot, progress, n_jobs
        ):
            subgroup_labels = {
                name: values[result.test_index] for name, values in audit_groups.items()
            }
            evaluations.append(
                ModelEvaluation(
                    f"external: train {'+'.join(result.train_sites)}, test {result.test_site}",
                    result.kind,
                    result.y,
                    result.probability,
                    result.metrics,
                    audit_fairness(result.y, result.probability, subgroup_labels, threshold),
                )
            )

    final, best = tune_classifier(x, y, kind, schema, random_state=random_state, n_jobs=n_jobs)
    baseline = (
        final
        if kind is ModelKind.LOGISTIC
        else tune_classifier(x, y, ModelKind.LOGISTIC, schema, random_state=random_state)[0]
    )
    calibrator = VennAbersCalibrator().fit(oof[kind], y)
    conformal = MondrianConformalClassifier().fit(oof[kind], y)
    rng = np.random.default_rng(random_state)
    background = x[rng.choice(len(x), size=min(_BACKGROUND_ROWS, len(x)), replace=False)]
    served = RiskModel(
        schema, final, kind, calibrator, conformal, background, confidence, baseline=baseline
    )
    rows = rng.choice(len(x), size=min(_IMPORTANCE_ROWS, len(x)), replace=False)
    explanation = served.explainer.explain(x[rows])
    surrogate = fit_surrogate_tree(x, model_log_odds(final, x), schema.names)
    mitigation = ()
    if mitigate and audit_groups:
        mitigation = _mitigate(x, y, kind, schema, best, audit_groups, threshold, random_state)
    report = TrainingReport(
        model=served,
        model_dir=None if out is None else Path(out),
        evaluations=tuple(evaluations),
        missing=missing,
        importance=global_importance(explanation),
        surrogate=surrogate,
        mitigation=mitigation,
        conformal_needs_review_fraction=float(
            conformal.predict(oof[kind], confidence).needs_review.mean()
        ),
    )
    if out is not None:
        _write_model_directory(
            report, table, target, site, groups, best, source, random_state, outer_folds
        )
    return report


def run_metadata(
    table: pd.DataFrame, source: str, task: str, model: str, target: str, parameters: dict
) -> dict:
    """``metadata.json`` content: versions, data hash and training parameters."""
    return {
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "version": cardiolens.__version__,
        "task": task,
        "model": model,
        "target": target,
        "data_sha256": data_sha256(table),
        "data_source": source,
        "n_patients": int(len(table)),
        "libraries": library_versions(),
        "training_parameters": parameters,
    }


def _mitigate(
    x, y, kind, schema, best, audit_groups, threshold, random_state
) -> tuple[MitigationResult, ...]:
    attribute, labels = next(iter(audit_groups.items()))
    train, test = train_test_split(
        np.arange(len(y)), test_size=1 / 3, stratify=y, random_state=random_state
    )

    def make_model():
        return make_classifier(kind, schema, random_state).set_params(**best)

    fitted = make_model().fit(x[train], y[train])
    return (
        mitigate_reweighing(
            make_model,
            x[train],
            y[train],
            labels[train],
            x[test],
            y[test],
            labels[test],
            attribute,
            threshold,
        ),
        mitigate_equalized_odds(
            fitted,
            x[train],
            y[train],
            labels[train],
            x[test],
            y[test],
            labels[test],
            attribute,
            threshold,
            random_state,
        ),
    )


def _write_figures(evaluations: tuple[ModelEvaluation, ...], directory: Path) -> list[Path]:
    paths = []
    for label in dict.fromkeys(e.evaluation for e in evaluations):
        curves = {e.kind.value: (e.y, e.probability) for e in evaluations if e.evaluation == label}
        stem = "".join(ch if ch.isalnum() else "_" for ch in label).strip("_")
        paths += [
            plot_roc(curves, directory / f"roc_{stem}.png"),
            plot_calibration(curves, directory / f"calibration_{stem}.png"),
            plot_decision_curve(curves, directory / f"decision_curve_{stem}.png"),
        ]
    return paths


def _write_model_directory(
    report, table, target, site, groups, best, source, random_state, outer_folds
) -> None:
    directory = report.model_dir
    served = report.model
    metadata = run_metadata(
        table,
        source,
        task="binary classification",
        model=served.kind.value,
        target=target,
        parameters={
            "best_params": best,
            "site": site,
            "groups": list(groups),
            "outer_folds": outer_folds,
            "random_state": random_state,
            "confidence": served.confidence,
        },
    )
    served.save(directory, metadata)
    (directory / "validation.json").write_text(
        json.dumps(report.to_dict(), indent=2, default=float)
    )
    report.subgroup_table().to_csv(directory / "subgroups.csv", index=False)
    report.performance_table().to_csv(directory / "performance.csv", index=False)
    _write_figures(report.evaluations, directory / "figures")
    build_model_card(report, target, source).write(directory)
    logger.info("model %s written to %s", served.model_id, directory)


def build_model_card(report: TrainingReport, target: str, source: str) -> ModelCard:
    """TRIPOD+AI model card of a training run."""
    served, meta = report.model, report.model.metadata
    schema: FeatureSchema = served.schema
    predictors = pd.DataFrame(
        [
            {
                "predictor": c.name,
                "type": c.kind.value,
                "unit": c.unit,
                "allowed": f"{c.minimum:g} to {c.maximum:g}"
                if c.minimum is not None
                else "/".join(c.categories),
                "missing (n)": report.missing.missing_per_column.get(c.name, 0),
                "description": c.description,
            }
            for c in schema.columns
        ]
    )
    gaps = pd.concat(
        [
            e.subgroups.gaps.assign(evaluation=e.evaluation, model=e.kind.value)
            for e in report.evaluations
        ],
        ignore_index=True,
    )
    family = (
        "L2-penalised logistic regression"
        if served.kind is ModelKind.LOGISTIC
        else f"{served.kind.value} gradient-boosted trees"
    )
    sections = [
        (
            "Model",
            [
                f"Model id {served.model_id}, cardiolens {meta.get('version')}, created {meta.get('created_utc')}. "
                f"Served model: {family} with a Venn-Abers calibrator and a Mondrian conformal review flag at "
                f"{served.confidence:.0%} confidence; an L2-penalised logistic regression baseline is reported beside it.",
                f"Libraries: {', '.join(f'{k} {v}' for k, v in meta.get('libraries', {}).items())}.",
            ],
        ),
        (
            "Intended use",
            [
                "Decision support for clinicians estimating the probability of the outcome for an adult patient from the "
                "predictors below. Not a diagnosis; not validated for populations unlike the source data; a result flagged "
                "needs_review means the model cannot decide at the stated confidence and must be reviewed.",
            ],
        ),
        (
            "Source of data and participants",
            [
                f"Source: {source or 'not stated'}; {meta.get('n_patients')} patients; data SHA-256 {meta.get('data_sha256')}.",
            ],
        ),
        (
            "Outcome",
            [
                f"Binary outcome column '{target}' (1 = event): {report.evaluations[0].metrics.n_events} events in "
                f"{report.evaluations[0].metrics.n} patients."
            ],
        ),
        (
            "Predictors and missing data",
            [
                predictors,
                "Missing values are routed natively by the boosted trees and imputed (median / most frequent) in the "
                "baseline; no patient was excluded for missing predictors.",
            ],
        ),
        (
            "Analysis",
            [
                "Hyper-parameters tuned by inner 3-fold cross-validation (log-loss); performance estimated by nested "
                "cross-validation and, where a site column was given, by site-held-out external validation. 95 % CIs by "
                "percentile bootstrap. Calibration slope and intercept by logistic recalibration (Van Calster 2016).",
            ],
        ),
        ("Performance (95 % CI)", [report.performance_table()]),
        (
            "Subgroups and fairness",
            [
                f"Largest between-group gaps (TPR/FPR at risk >= {report.evaluations[0].subgroups.threshold:g}):",
                gaps,
                *[
                    f"Mitigation {m.method} on {m.attribute}: before {m.before}, after {m.after}."
                    for m in report.mitigation
                ],
            ],
        ),
        (
            "Explanations",
            [
                "Global importance (mean |SHAP|, log-odds):",
                report.importance.head(10),
                f"Depth-3 surrogate tree fidelity: R^2 {report.surrogate.r_squared:.3f} against the model's log-odds, "
                f"{report.surrogate.agreement:.1%} agreement at risk 0.5.",
            ],
        ),
        (
            "Uncertainty",
            [
                f"Out-of-fold fraction flagged needs_review at {served.confidence:.0%} confidence: "
                f"{report.conformal_needs_review_fraction:.1%}. The probability interval is the Venn-Abers interval.",
            ],
        ),
        (
            "Limitations",
            [
                "Retrospective data; performance may drift with changes in population, protocol or scanner; recalibrate "
                "locally before use; subgroups with few patients have wide or undefined metrics; SHAP values explain the "
                "model, not causation.",
            ],
        ),
    ]
    return ModelCard(
        title=f"Model card: {served.kind.value} risk model for '{target}'", sections=sections
    )


@dataclass(frozen=True)
class EvaluationReport:
    """A saved model scored on a labelled table."""

    metrics: ClassificationMetrics
    subgroups: FairnessAudit
    conformal_coverage: float
    needs_review_fraction: float

    def to_dict(self) -> dict:
        """JSON-ready form (``metrics.json``)."""
        return {
            **self.metrics.to_dict(),
            "conformal_coverage": self.conformal_coverage,
            "needs_review_fraction": self.needs_review_fraction,
            "subgroups": self.subgroups.to_dict(),
        }


def evaluate_model(
    model_dir: str | Path,
    table: pd.DataFrame,
    target: str,
    *,
    groups: tuple[str, ...] = (),
    threshold: float = 0.5,
    n_boot: int = 1000,
    out: str | Path | None = None,
) -> EvaluationReport:
    """Score a saved model on labelled patients: metrics, subgroups, conformal coverage.

    Writes ``metrics.json``, ``subgroups.csv`` and ROC/calibration/decision-curve PNGs
    into ``out`` when given.
    """
    served = load_model(model_dir)
    if served.horizons:
        raise ParameterError(
            "evaluate scores binary-outcome models; a survival model's cross-validated "
            "metrics are in its validation.json"
        )
    y = binary_target(table, target)
    predicted = served.predict(table, explain=False)
    probability = predicted["probability"].to_numpy()
    conformal = served.conformal.predict(served.predict_raw(table), served.confidence)
    report = EvaluationReport(
        metrics=classification_metrics(y, probability, n_boot=n_boot),
        subgroups=audit_fairness(y, probability, sensitive_groups(table, groups), threshold),
        conformal_coverage=empirical_coverage(conformal, y),
        needs_review_fraction=float(conformal.needs_review.mean()),
    )
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(report.to_dict(), indent=2, default=float))
        report.subgroups.table.to_csv(out / "subgroups.csv", index=False)
        curves = {served.kind.value: (y, probability)}
        plot_roc(curves, out / "roc.png")
        plot_calibration(curves, out / "calibration.png")
        plot_decision_curve(curves, out / "decision_curve.png")
    return report
