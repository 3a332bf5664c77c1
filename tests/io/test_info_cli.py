"""``cardiolens info`` on the real reference data (JSON fields of issue 2)."""

import json

import pytest
from typer.testing import CliRunner

from cardiolens.cli import app, main

FIELDS = {"series_uid", "modality", "role", "shape", "spacing_mm", "n_gates", "n_volumes",
          "value_range", "warnings"}  # fmt: skip


def test_info_json_on_physionet(physionet_dicom_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["info", str(physionet_dicom_dir), "--json"])
    assert exit_info.value.code == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 4
    for row in rows:
        assert FIELDS <= set(row)
        assert row["modality"] == "NM" and row["shape"] == [50, 70, 70]
        assert row["spacing_mm"] == [4.0, 4.0, 4.0] and row["n_gates"] == 0
        assert row["value_range"][1] > row["value_range"][0] >= 0


def test_info_json_on_qrm_ct(qrm_ct_dir, capsys):
    with pytest.raises(SystemExit):
        main(["info", str(qrm_ct_dir), "--json"])
    (row,) = json.loads(capsys.readouterr().out)
    assert row["modality"] == "CT" and row["role"] == "ct_calcium"
    assert row["shape"] == [47, 512, 512] and row["spacing_mm"] == [3.0, 0.488, 0.488]
    assert row["units"] == "HU" and row["warnings"] == []


def test_info_table_on_nifti(physionet_masks_dir):
    result = CliRunner().invoke(app, ["info", str(physionet_masks_dir / "patient001_0000.nii.gz")])
    assert result.exit_code == 0
    assert "50 x 70 x 70" in result.output
