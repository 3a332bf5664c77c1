"""UCI heart disease end to end (acceptance 1 and 3): site-held-out validation, model
directory, reload in a clean process, schema errors, model card."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cardiolens.core.errors import InputError, SchemaError
from cardiolens.trust.serving import load_model
from cardiolens.trust.workflow import evaluate_model


def _evaluation(report, label, model):
    return next(
        e for e in report.evaluations if e.evaluation.startswith(label) and e.kind.value == model
    )


@pytest.mark.parametrize("test_site", ["hungarian", "cleveland"])
@pytest.mark.parametrize("model", ["xgboost", "logistic"])
def test_site_held_out_auc_and_calibration(uci_training, test_site, model):
    evaluation = next(
        e
        for e in uci_training.evaluations
        if e.evaluation.endswith(f"test {test_site}") and e.kind.value == model
    )
    metrics = evaluation.metrics
    assert metrics.n == {"hungarian": 294, "cleveland": 303}[test_site]
    assert metrics.auc.value > 0.75
    assert metrics.auc.lower < metrics.auc.value < metrics.auc.upper
    assert 0.2 < metrics.calibration_slope.value < 2.0
    sex = evaluation.subgroups.table.query("attribute == 'sex'")
    assert sorted(sex["group"]) == ["0", "1"] and sex["n"].sum() == metrics.n


def test_internal_nested_cv_side_by_side(uci_training):
    table = uci_training.performance_table()
    internal = table[table["evaluation"] == "internal nested CV"]
    assert sorted(internal["model"]) == ["logistic", "xgboost"]
    assert _evaluation(uci_training, "internal", "xgboost").metrics.auc.value > 0.85
    assert len(table) == 6


def test_model_directory_contents(uci_training):
    directory = uci_training.model_dir
    for name in (
        "model.joblib",
        "schema.json",
        "metadata.json",
        "model_card.md",
        "model_card.html",
        "validation.json",
        "subgroups.csv",
        "performance.csv",
    ):
        assert (directory / name).is_file(), name
    assert len(list((directory / "figures").glob("*.png"))) == 9
    metadata = json.loads((directory / "metadata.json").read_text())
    assert len(metadata["data_sha256"]) == 64 and metadata["libraries"]["xgboost-cpu"]
    card = (directory / "model_card.md").read_text()
    for heading in (
        "Intended use",
        "Source of data",
        "Outcome",
        "Predictors and missing data",
        "Performance",
        "Subgroups",
        "Limitations",
    ):
        assert f"## {heading}" in card
    assert "<table" in (directory / "model_card.html").read_text()
    surrogate = uci_training.surrogate
    assert 0.5 < surrogate.r_squared <= 1 and 0.7 < surrogate.agreement <= 1
    assert {m.method for m in uci_training.mitigation} == {
        "reweighing",
        "equalized_odds_threshold_optimizer",
    }


def test_reload_in_a_clean_process_predicts_identically(uci_training, uci_table, tmp_path):
    rows = uci_table.sample(40, random_state=1)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    expected = load_model(uci_training.model_dir).predict(rows.reset_index(drop=True))
    script = (
        "import sys, pandas as pd\n"
        "from cardiolens.trust.serving import load_model\n"
        "model = load_model(sys.argv[1])\n"
        "model.predict(pd.read_csv(sys.argv[2])).to_pickle(sys.argv[3])\n"
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(uci_training.model_dir),
            str(tmp_path / "rows.csv"),
            str(tmp_path / "out.pkl"),
        ],
        check=True,
    )
    reloaded = pd.read_pickle(tmp_path / "out.pkl")
    np.testing.assert_array_equal(
        reloaded["probability"].to_numpy(), expected["probability"].to_numpy()
    )
    assert reloaded["top_features"].tolist() == expected["top_features"].tolist()
    assert reloaded["needs_review"].tolist() == expected["needs_review"].tolist()


def test_predict_one(uci_training, uci_table):
    model = load_model(uci_training.model_dir)
    patient = uci_table.drop(columns=["cad", "site"]).iloc[0].to_dict()
    prediction = model.predict_one(patient)
    assert 0 <= prediction.lower <= prediction.probability <= prediction.upper <= 1
    assert prediction.model_id == model.model_id and len(prediction.model_id) == 16
    assert len(prediction.top_features) == 5
    assert set(prediction.top_features[0]) == {"feature", "value", "shap", "direction"}
    # SHAP contributions of all features + base value = the boosted model's log-odds
    x = model.schema.validate(pd.DataFrame([patient]))[0].to_numpy()
    explanation = model.explainer.explain(x)
    margin = model.model.predict(x, output_margin=True)
    assert explanation.log_odds()[0] == pytest.approx(margin[0], abs=1e-5)
    assert prediction.base_value == pytest.approx(explanation.base_value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.rename(columns={"thalach": "max_hr"}), "'thalach'"),
        (lambda t: t.drop(columns="chol"), "missing required column.*'chol'"),
        (
            lambda t: t.astype({"chol": object}).assign(
                chol=lambda f: f["chol"].where(f.index != 2, "n/a")
            ),
            "column 'chol' must be numeric.*row 2",
        ),
        (
            lambda t: t.assign(age=lambda f: f["age"].where(f.index != 4, 400)),
            "'age' value 400 at row 4",
        ),
    ],
)
def test_bad_tables_give_schema_errors(uci_training, uci_table, change, message):
    model = load_model(uci_training.model_dir)
    with pytest.raises(SchemaError, match=message):
        model.predict(change(uci_table.head(10).copy()))


def test_altered_model_directory_is_refused(uci_training, tmp_path):
    import shutil

    copy = shutil.copytree(uci_training.model_dir, tmp_path / "copy")
    with open(copy / "model.joblib", "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(InputError, match="SHA-256"):
        load_model(copy)


def test_evaluate_writes_metrics_figures_and_subgroups(uci_training, uci_table, tmp_path):
    report = evaluate_model(uci_training.model_dir, uci_table, "cad", n_boot=50, out=tmp_path)
    assert report.metrics.auc.value > 0.85  # seen patients: optimistic by design
    assert 0.85 <= report.conformal_coverage <= 1.0
    for name in (
        "metrics.json",
        "subgroups.csv",
        "roc.png",
        "calibration.png",
        "decision_curve.png",
    ):
        assert (tmp_path / name).is_file()
