"""``cardiolens risk``: train, apply and evaluate clinical risk models.

A thin layer over :func:`cardiolens.trust.workflow.train_risk_model`,
:func:`cardiolens.trust.serving.load_model` and
:func:`cardiolens.trust.workflow.evaluate_model`; heavy imports stay inside commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cardiolens.core.errors import naming_file

risk_app = typer.Typer(
    help="Train, apply and evaluate risk models (validated, calibrated, explained).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(risk_app, name="risk")


def _load(data: Path, target: str | None, positive_if: str | None):
    """Read the table and, with ``--positive-if``, replace/create the 0/1 target column.

    Returns the table and the column the rule read (to exclude it from the predictors).
    """
    from cardiolens.core.errors import ParameterError
    from cardiolens.risk.datasets import read_table
    from cardiolens.risk.outcome import positive_if as apply_rule

    table = read_table(data)
    if positive_if is None:
        return table, None
    if target is None:
        raise ParameterError("--positive-if needs --target, the name of the 0/1 column it creates")
    source, values = apply_rule(table, positive_if)
    table[target] = values
    return table, source


@risk_app.command("train")
def train(
    data: Annotated[Path, typer.Argument(help="CSV table, one patient per row.")],
    target: Annotated[
        str, typer.Option("--target", help="0/1 outcome column (or event for survival).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    time: Annotated[
        str | None, typer.Option("--time", help="Follow-up time column (survival).")
    ] = None,
    event: Annotated[
        str | None, typer.Option("--event", help="Event indicator column (survival).")
    ] = None,
    horizon: Annotated[
        list[float] | None,
        typer.Option(
            "--horizon", help="Survival horizon(s), in the time column's units (required)."
        ),
    ] = None,
    site: Annotated[
        str | None, typer.Option("--site", help="Site column: train on others, test on each.")
    ] = None,
    group: Annotated[
        list[str] | None, typer.Option("--group", help="Extra column to audit subgroups by.")
    ] = None,
    positive_if: Annotated[
        str | None,
        typer.Option("--positive-if", help="Make the 0/1 target from a rule, e.g. 'num>0'."),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", help="xgboost, lightgbm or logistic.")
    ] = "xgboost",
    confidence: Annotated[float, typer.Option("--confidence", help="Conformal confidence.")] = 0.9,
    mitigate: Annotated[
        bool, typer.Option("--mitigate", help="Report bias mitigation before/after.")
    ] = False,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples for CIs.")] = 1000,
    outer_folds: Annotated[
        int, typer.Option("--outer-folds", help="Outer folds of nested CV.")
    ] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Train the boosted model and logistic baseline; validate and write MODEL_DIR."""
    with naming_file(data):
        table, source_column = _load(data, target, positive_if)
        if time is not None or event is not None:
            from cardiolens.trust.survival_workflow import train_survival_model

            report = train_survival_model(
                table,
                time=time,
                event=event or target,
                horizons=tuple(horizon or ()),
                out=out,
                n_boot=n_boot,
                random_state=seed,
                source=str(data),
                progress=True,
            )
            typer.echo(report.performance_table().to_string(index=False))
            typer.echo(f"model {report.model.model_id} written to {out}")
            return
        from cardiolens.trust.workflow import train_risk_model

        group = group or []
        features = [c for c in table.columns if c not in {target, source_column, site, *group}]
        report = train_risk_model(
            table,
            target,
            features=features,
            site=site,
            groups=tuple(group),
            model=model,
            confidence=confidence,
            outer_folds=outer_folds,
            mitigate=mitigate,
            n_boot=n_boot,
            random_state=seed,
            out=out,
            source=str(data),
            progress=True,
        )
    typer.echo(report.performance_table().to_string(index=False))
    typer.echo(f"model {report.model.model_id} written to {out}")


@risk_app.command("predict")
def predict(
    model_dir: Annotated[Path, typer.Argument(help="Model directory from 'risk train'.")],
    data: Annotated[Path, typer.Argument(help="CSV table with the model's predictor columns.")],
    out: Annotated[Path, typer.Option("--out", help="CSV of predictions to write.")],
    confidence: Annotated[
        float | None, typer.Option("--confidence", help="Conformal confidence.")
    ] = None,
) -> None:
    """Predict risk, interval, review flag and top SHAP features for every row."""
    from cardiolens.risk.datasets import read_table
    from cardiolens.trust.serving import load_model

    model = load_model(model_dir)
    with naming_file(data):
        predictions = model.predict(read_table(data), confidence=confidence)
    out.parent.mkdir(parents=True, exist_ok=True)
    predictions.to_csv(out, index_label="row")
    typer.echo(f"{len(predictions)} predictions by model {model.model_id} written to {out}")


@risk_app.command("evaluate")
def evaluate(
    model_dir: Annotated[Path, typer.Argument(help="Model directory from 'risk train'.")],
    data: Annotated[Path, typer.Argument(help="Labelled CSV table.")],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for metrics.json, figures, subgroups.csv.")
    ],
    target: Annotated[
        str | None, typer.Option("--target", help="Outcome column (default: as trained).")
    ] = None,
    positive_if: Annotated[
        str | None, typer.Option("--positive-if", help="Rule making the 0/1 target.")
    ] = None,
    group: Annotated[
        list[str] | None, typer.Option("--group", help="Extra column to audit subgroups by.")
    ] = None,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples for CIs.")] = 1000,
) -> None:
    """Score a saved model on labelled patients (metrics with CIs, subgroups, figures)."""
    from cardiolens.trust.serving import read_metadata
    from cardiolens.trust.workflow import evaluate_model

    if target is None:
        target = read_metadata(model_dir)["target"]
    with naming_file(data):
        table, _ = _load(data, target, positive_if)
        report = evaluate_model(
            model_dir, table, target, groups=tuple(group or ()), n_boot=n_boot, out=out
        )
    typer.echo(
        f"AUC {report.metrics.auc}, Brier {report.metrics.brier}, calibration slope "
        f"{report.metrics.calibration_slope}, conformal coverage {report.conformal_coverage:.3f}; "
        f"written to {out}"
    )
