"""``cardiolens simulate spect|pet``: outputs and one-line errors."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from cardiolens.cli import app, main


def test_simulate_pet_writes_tacs(tmp_path):
    result = CliRunner().invoke(
        app, ["simulate", "pet", "--out", str(tmp_path), "--mbf", "1.0", "--tracer", "rb82"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "tacs.csv").open()))
    assert len(rows) == 16 and float(rows[3]["blood_lv_kbq_ml"]) > 0
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert truth["mbf_ml_min_g"] == 1.0 and truth["tracer"] == "rb82"


def test_simulate_spect_image_space(tmp_path):
    args = [
        "simulate",
        "spect",
        "--out",
        str(tmp_path),
        "--seed",
        "2",
        "--method",
        "image_space",
        "--no-rest",
    ]
    options = ["--defect", "RCA:extent=10:severity=50", "--lvef", "50"]
    motion = ["--wall-motion", "S7+13:amplitude=0.3:delay=60"]
    result = CliRunner().invoke(app, [*args, *options, *motion])
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert truth["lvef_pct"] == 50 and truth["defects"][0]["territory"] == "RCA"
    assert abs(truth["territory_extent_pct"]["stress"]["RCA"] - 10) < 1
    assert truth["parameters"]["wall_motion"][0]["segments"] == [7, 13]
    # ESV exact despite hypokinesis and phase delay
    assert min(truth["gate_cavity_volumes_ml"]) == pytest.approx(60.0)
    assert min(truth["gate_cavity_mask_volumes_ml"]) == pytest.approx(60.0, rel=0.02)
    assert (tmp_path / "stress_gated.dcm").exists() and not (tmp_path / "rest_gated.dcm").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--defect", "LDA:extent=10:severity=50"], "Did you mean 'LAD'"),
        (["--defect", "LAD:extent=-3:severity=50"], "extent must be in (0, 100]"),
        (["--lvef", "-10"], "ESV must be below EDV"),
        (["--gates", "12"], "gates must be 8 or 16"),
    ],
)
def test_bad_spect_options_exit_2(tmp_path, capsys, option, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "spect", "--out", str(tmp_path), *option])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
