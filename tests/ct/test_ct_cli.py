"""``cardiolens simulate ct`` and ``cardiolens calcium`` on the command line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cardiolens.cli import app


def test_simulate_then_score_json_and_overlays(tmp_path):
    runner = CliRunner()
    out = tmp_path / "study"
    result = runner.invoke(
        app,
        [
            "simulate",
            "ct",
            "--out",
            str(out),
            "--seed",
            "4",
            "--slices",
            "50",
            "--lesion",
            "LAD:volume=60:density=500",
            "--lesion",
            "RCA:volume=30:density=400",
            "--noise",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "ground_truth.json").read_text())
    result = runner.invoke(
        app, ["calcium", str(out / "dicom"), "--json", "--overlay-dir", str(tmp_path / "png")]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["agatston"] == truth["totals"]["agatston"]
    assert data["per_artery"]["LAD"]["agatston"] > 0 and data["per_artery"]["RCA"]["agatston"] > 0
    assert data["cac_drs"]["vessels"] == 2
    assert sorted((tmp_path / "png").glob("slice_*.png"))
    result = runner.invoke(
        app, ["calcium", str(out / "dicom"), "--labels", str(out / "artery_labels.nii.gz")]
    )
    assert result.exit_code == 0 and "Agatston" in result.output
