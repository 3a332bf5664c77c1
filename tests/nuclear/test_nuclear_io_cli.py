"""The ``cardiolens nuclear`` and ``cardiolens normals`` commands, JSON schema and bad input."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from typer.testing import CliRunner

from cardiolens.cli import app
from cardiolens.core.errors import InputError, ModalityError, ParameterError
from cardiolens.core.volume import Volume
from cardiolens.io import read_volume
from cardiolens.nuclear import analyze_perfusion

from .helpers import ellipsoid_lv

PROVENANCE_KEYS = ("normal_database", "protocol", "orientation")

runner = CliRunner()
STATE_KEYS = {
    "segments",
    "segment_scores",
    "summed_score",
    "tpd_pct",
    "territory_tpd_pct",
    "function",
    "quality_flags",
}


def _write_4d(path, gates: list[Volume]) -> None:
    """Gates as a 4D NIfTI (x, y, z, gate), LPS geometry converted to RAS."""
    data = np.stack([g.array.transpose(2, 1, 0) for g in gates], axis=-1)
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ gates[0].affine_lps
    nib.save(nib.Nifti1Image(data.astype(np.float32), affine), str(path))


def test_json_output_and_mask_of_a_4d_single_gate_file(tmp_path):
    volume, _, _ = ellipsoid_lv()
    path = tmp_path / "one_gate.nii.gz"
    _write_4d(path, [volume])
    mask_path = tmp_path / "mask.nii.gz"
    result = runner.invoke(
        app, ["nuclear", str(path), "--json", "--save-mask", str(mask_path), "--state", "stress"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) == {"stress", *PROVENANCE_KEYS}
    assert set(out["stress"]) == STATE_KEYS
    assert out["stress"]["function"] is None
    assert "too_few_gates" in {f["code"] for f in out["stress"]["quality_flags"]}
    assert len(out["stress"]["segment_scores"]) == 17
    assert set(out["stress"]["territory_tpd_pct"]) == {"LAD", "LCx", "RCA"}
    mask = read_volume(mask_path)
    assert mask.shape == volume.shape
    assert set(np.unique(mask.array)) == {0, 1}


def test_ct_is_refused(qrm_ct_dir):
    result = runner.invoke(app, ["nuclear", str(qrm_ct_dir)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ModalityError)
    assert "SPECT" in str(result.exception)
    with pytest.raises(ModalityError, match="modality CT"):
        analyze_perfusion(stress=Volume(np.zeros((8, 8, 8)), modality="CT"))


def test_nan_voxels_are_refused_naming_the_file(tmp_path):
    volume, _, _ = ellipsoid_lv()
    array = volume.array.astype(np.float32)
    array[3, 4, 5] = np.nan
    path = tmp_path / "nan.nrrd"
    sitk.WriteImage(volume.with_array(array).to_sitk(), str(path))
    result = runner.invoke(app, ["nuclear", str(path), "--state", "rest"])
    assert isinstance(result.exception, InputError)
    assert str(result.exception).startswith(str(path)) and "1 NaN" in str(result.exception)


def test_no_image_is_a_parameter_error():
    with pytest.raises(ParameterError):
        analyze_perfusion()


def test_normals_build_from_a_folder(tmp_path):
    folder = tmp_path / "normals"
    folder.mkdir()
    for i, c in enumerate((42.0, 45.0, 48.0)):
        volume, _, _ = ellipsoid_lv(c_mm=c, noise_seed=i)
        _write_4d(folder / f"n{i}.nii.gz", [volume])
    out = tmp_path / "db.npz"
    args = ["normals", "build", str(folder), "--out", str(out), "--sex", "any"]
    args += ["--camera", "test", "--tracer", "Tc-99m", "--protocol", "stress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["n_studies"] == 3 and meta["sex"] == "any"
    assert len(meta["provenance"]["studies"]) == 3
    run = runner.invoke(
        app, ["nuclear", str(folder / "n0.nii.gz"), "--json", "--normals", str(out)]
    )
    assert run.exit_code == 0, run.output
    assert json.loads(run.output)["stress"]["tpd_pct"] < 3.0
