"""``cardiolens risk train | predict | evaluate`` and one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from cardiolens.cli import app


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "cardiolens", *map(str, args)], capture_output=True, text=True
    )


def test_train_with_positive_if_then_predict(uci_heart_dir, tmp_path):
    from cardiolens.risk.datasets import load_uci_heart

    table = load_uci_heart(uci_heart_dir, sites=("cleveland",)).drop(columns=["cad", "site"])
    table.to_csv(tmp_path / "cleveland.csv", index=False)
    result = CliRunner().invoke(
        app,
        [
            "risk",
            "train",
            str(tmp_path / "cleveland.csv"),
            "--target",
            "cad",
            "--positive-if",
            "num>0",
            "--outer-folds",
            "2",
            "--n-boot",
            "20",
            "--model",
            "lightgbm",
            "--out",
            str(tmp_path / "model"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "internal nested CV" in result.output
    schema = (tmp_path / "model" / "schema.json").read_text()
    assert '"num"' not in schema  # the outcome's source column is not a predictor

    table.head(5).to_csv(tmp_path / "new.csv", index=False)
    result = CliRunner().invoke(
        app,
        [
            "risk",
            "predict",
            str(tmp_path / "model"),
            str(tmp_path / "new.csv"),
            "--out",
            str(tmp_path / "p.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert list(predictions.columns) == [
        "row",
        "probability",
        "lower",
        "upper",
        "needs_review",
        "top_features",
    ]


def test_schema_error_is_one_line_and_exit_2(uci_training, uci_table, tmp_path):
    uci_table.head(5).assign(age=[50, 60, 400, 55, 45]).to_csv(tmp_path / "bad.csv", index=False)
    result = _cli(
        "risk", "predict", uci_training.model_dir, tmp_path / "bad.csv", "--out", tmp_path / "p.csv"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'age' value 400 at row 2" in lines[0]
    assert str(tmp_path / "bad.csv") in lines[0]


def test_evaluate_without_model_directory_is_one_line(uci_table, tmp_path):
    uci_table.head(5).to_csv(tmp_path / "all.csv", index=False)
    result = _cli("risk", "evaluate", tmp_path / "nothing", tmp_path / "all.csv", "--out", tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a cardiolens model directory" in lines[0]
    assert str(tmp_path / "nothing") in lines[0]


def test_model_from_an_older_version_is_refused(uci_training, tmp_path):
    import hashlib
    import json
    import shutil

    import joblib

    from cardiolens.core.errors import InputError
    from cardiolens.trust.serving import load_model

    old = tmp_path / "old"
    shutil.copytree(uci_training.model_dir, old)
    state = joblib.load(old / "model.joblib")
    del state["format"]  # as written before the format was recorded
    joblib.dump(state, old / "model.joblib")
    metadata = json.loads((old / "metadata.json").read_text())
    metadata["model_sha256"] = hashlib.sha256((old / "model.joblib").read_bytes()).hexdigest()
    (old / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(InputError, match="older cardiolens"):
        load_model(old)


def test_evaluate_command(uci_training, uci_table, tmp_path):
    uci_table.to_csv(tmp_path / "all.csv", index=False)
    result = CliRunner().invoke(
        app,
        [
            "risk",
            "evaluate",
            str(uci_training.model_dir),
            str(tmp_path / "all.csv"),
            "--n-boot",
            "20",
            "--out",
            str(tmp_path / "eval"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "eval" / "metrics.json").is_file() and "AUC" in result.output


def test_survival_train_and_predict(tmp_path):
    from cardiolens.risk.datasets import load_whas500

    features, time, event = load_whas500()
    table = features.assign(lenfol=time, fstat=event.astype(int)).iloc[:250]
    table.to_csv(tmp_path / "whas.csv", index=False)
    result = CliRunner().invoke(
        app,
        [
            "risk",
            "train",
            str(tmp_path / "whas.csv"),
            "--target",
            "fstat",
            "--time",
            "lenfol",
            "--horizon",
            "365",
            "--n-boot",
            "5",
            "--out",
            str(tmp_path / "model"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "gradient_boosted_cox" in result.output and "cox" in result.output
    result = CliRunner().invoke(
        app,
        [
            "risk",
            "predict",
            str(tmp_path / "model"),
            str(tmp_path / "whas.csv"),
            "--out",
            str(tmp_path / "p.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert list(predictions.columns)[:4] == ["row", "risk_at_365", "lower", "upper"]
    assert predictions["risk_at_365"].between(0, 1).all()


def test_survival_without_horizon_is_refused(tmp_path):
    pd.DataFrame({"age": [60, 70], "t": [10, 20], "e": [1, 0]}).to_csv(
        tmp_path / "s.csv", index=False
    )
    result = _cli(
        "risk", "train", tmp_path / "s.csv", "--target", "e", "--time", "t", "--out", tmp_path / "m"
    )
    assert result.returncode == 2 and "--horizon" in result.stderr


def test_unknown_site_column_is_named_before_training(tmp_path):
    pd.DataFrame({"age": [60, 70, 65], "cad": [1, 0, 1]}).to_csv(tmp_path / "t.csv", index=False)
    result = _cli("risk", "train", tmp_path / "t.csv", "--target", "cad", "--site", "centre",
                  "--out", tmp_path / "m")  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "site column 'centre' is not in the table" in line and str(tmp_path / "t.csv") in line
