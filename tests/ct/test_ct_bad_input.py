"""Bad input: contrast CT, non-CT data, missing slices, mismatched masks."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.core.errors import GeometryError, InputError, ModalityError
from cardiolens.core.volume import Volume
from cardiolens.ct import load_calcium_ct, score_calcium
from cardiolens.io import write_ct_series


def test_contrast_ccta_is_flagged_by_its_blood_pool(phantoms):
    phantom = phantoms[2]
    blood = phantom.clean.array == 38.0  # the phantom's non-contrast blood
    enhanced = phantom.clean.with_array(
        np.where(blood, 420.0, phantom.clean.array).astype(np.float32)
    )
    result = score_calcium(enhanced)
    assert any(
        "contrast-enhanced" in flag and "blood pool" in flag for flag in result.quality_flags
    )
    assert not any("contrast" in flag for flag in score_calcium(phantom.clean).quality_flags)


def test_nm_volume_gives_modality_error():
    nm = Volume(np.zeros((4, 8, 8), np.float32), modality="NM")
    with pytest.raises(ModalityError, match="needs CT"):
        score_calcium(nm)


def test_nm_file_gives_modality_error(physionet_dicom_dir):
    with pytest.raises(ModalityError, match="needs a CT series; found NM"):
        load_calcium_ct(next(physionet_dicom_dir.iterdir()))


def test_missing_slices_give_a_clear_message(tmp_path):
    volume = Volume(np.zeros((8, 16, 16), np.float32), spacing_mm=(3.0, 0.7, 0.7), modality="CT")
    files = write_ct_series(tmp_path, volume, patient_id="P", study_uid="2.25.1")
    files[4].unlink()
    with pytest.raises(GeometryError, match="missing slices"):
        load_calcium_ct(tmp_path)
    from cardiolens.io import load_study

    (series,) = load_study(tmp_path).series  # the reader fills the gap; scoring refuses it
    with pytest.raises(GeometryError, match="missing"):
        score_calcium(series.volume)


def test_label_mask_on_another_grid_is_refused(phantoms):
    phantom = phantoms[0]
    other = Volume(np.zeros((2, 2, 2), np.int16), modality="OT")
    with pytest.raises(GeometryError, match="grid"):
        score_calcium(phantom.volume, labels=other)


def test_nifti_ct_is_accepted_and_nifti_counts_are_not(phantoms, tmp_path):
    from cardiolens.io import write_nifti

    write_nifti(phantoms[0].volume, tmp_path / "ct.nii.gz")
    assert load_calcium_ct(tmp_path / "ct.nii.gz").shape == phantoms[0].volume.shape
    write_nifti(Volume(np.ones((4, 8, 8), np.float32), modality="NM"), tmp_path / "nm.nii.gz")
    with pytest.raises(ModalityError, match="needs a CT series"):
        load_calcium_ct(tmp_path / "nm.nii.gz")


def test_nan_voxels_are_refused_naming_the_file(phantoms, tmp_path):
    import subprocess
    import sys

    import SimpleITK as sitk

    hu = np.array(phantoms[0].volume.array, dtype=np.float32)
    hu[10, 5:7, 5:7] = np.nan
    with pytest.raises(InputError, match=r"4 voxel\(s\) are NaN or infinite .*\(10, 5, 5\)"):
        score_calcium(phantoms[0].volume.with_array(hu))
    path = tmp_path / "ct.nrrd"  # NRRD keeps NaN (SimpleITK's NIfTI writer does not)
    sitk.WriteImage(phantoms[0].volume.with_array(hu).to_sitk(), str(path))
    result = subprocess.run(
        [sys.executable, "-m", "cardiolens", "calcium", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert str(path) in line and "NaN" in line


def test_interpolated_label_mask_is_refused(phantoms):
    phantom = phantoms[0]
    labels = (phantom.lesion_labels > 0).astype(np.float32) * 1.5  # between LM (1) and LAD (2)
    with pytest.raises(InputError, match=r"non-integer values \(e\.g\. 1\.5\)"):
        score_calcium(phantom.volume, labels=phantom.volume.with_array(labels))
    whole = phantom.volume.with_array((phantom.lesion_labels > 0).astype(np.float32))
    assert score_calcium(phantom.volume, labels=whole).agatston > 0


def test_label_values_outside_the_artery_codes_are_refused_naming_the_file(phantoms, tmp_path):
    import subprocess
    import sys

    from cardiolens.io import write_nifti

    phantom = phantoms[0]
    seven = np.where(phantom.lesion_labels > 0, 7, 0).astype(np.int16)
    with pytest.raises(InputError, match=r"value\(s\) 7 outside the artery codes"):
        score_calcium(phantom.volume, labels=phantom.volume.with_array(seven))
    # A lesion-ID mask (1..n, one value per lesion) is not an artery mask.
    ids = np.zeros(phantom.lesion_labels.shape, np.int16)
    for k in range(1, 7):
        ids[10, 20 + 5 * k, 20] = k
    write_nifti(phantom.volume, tmp_path / "ct.nii.gz")
    write_nifti(phantom.volume.with_array(ids), tmp_path / "lesion_labels.nii.gz")
    command = [sys.executable, "-m", "cardiolens", "calcium", str(tmp_path / "ct.nii.gz")]
    command += ["--labels", str(tmp_path / "lesion_labels.nii.gz")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "lesion_labels.nii.gz" in line and "lesion-ID mask" in line
