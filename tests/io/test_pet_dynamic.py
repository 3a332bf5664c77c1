"""Dynamic PET reading: frame timing, decay correction and one-line errors naming the file."""

from __future__ import annotations

import json
import math

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from cardiolens.core.errors import InputError
from cardiolens.core.volume import Volume
from cardiolens.io import load_study
from cardiolens.io.pet_dynamic import dicom_frame_timing, read_dynamic_nifti, write_dynamic_pet

HALF_LIFE = 75.45
DURATIONS = [10.0, 10.0, 20.0, 30.0, 60.0]
STARTS = [0.0, 10.0, 20.0, 40.0, 70.0]


def _frames(n=5):
    rng = np.random.default_rng(0)
    return [Volume(rng.uniform(100, 5000, (3, 6, 6)).astype(np.float32), (3.0,) * 3, modality="PT")
            for _ in range(n)]  # fmt: skip


def _write(tmp_path, **options):
    frames = _frames()
    paths = write_dynamic_pet(
        tmp_path / "dyn", frames, STARTS, DURATIONS, patient_id="P", study_uid="1.2.3.4",
        series_description="Rest Rb-82 dynamic", radiopharmaceutical="Rubidium-82 chloride",
        half_life_s=HALF_LIFE, **options,
    )  # fmt: skip
    return frames, paths


def _edit(paths, frame, **attributes):
    for path in paths:
        ds = pydicom.dcmread(path)
        if (int(ds.ImageIndex) - 1) // int(ds.NumberOfSlices) == frame:
            for key, value in attributes.items():
                if value is None:
                    del ds[key]
                else:
                    setattr(ds, key, value)
            ds.save_as(path)


def test_timing_units_and_frames_read_back(tmp_path):
    frames, paths = _write(tmp_path)
    timing = dicom_frame_timing(paths)
    np.testing.assert_allclose(timing.starts_s, STARTS, atol=1e-3)
    np.testing.assert_allclose(timing.durations_s, DURATIONS)
    assert timing.decay_correction == "START" and timing.units == "Bq/mL"
    assert timing.half_life_s == HALF_LIFE and not timing.flags
    np.testing.assert_array_equal(timing.decay_factors, 1.0)
    series = load_study(tmp_path / "dyn").series[0]
    assert len(series.frames) == 5
    np.testing.assert_allclose(series.frames[3].array, frames[3].array, rtol=1e-4, atol=0.1)


def test_start_from_decay_weighted_frame_reference_time(tmp_path):
    _, paths = _write(tmp_path)
    for path in paths:  # no AcquisitionTime: start from FrameReferenceTime (PS3.3 C.8.9.4.1.5)
        ds = pydicom.dcmread(path)
        del ds.AcquisitionTime
        ds.save_as(path)
    timing = dicom_frame_timing(paths)
    np.testing.assert_allclose(timing.starts_s, STARTS, atol=2e-3)


def test_uncorrected_frames_are_decay_corrected(tmp_path):
    _, paths = _write(tmp_path, decay_correction="NONE")
    timing = dicom_frame_timing(paths)
    lam = math.log(2) / HALF_LIFE
    s, d = STARTS[4], DURATIONS[4]
    assert timing.decay_factors[4] == pytest.approx(
        math.exp(lam * s) * lam * d / (1 - math.exp(-lam * d))
    )


def test_absent_decay_correction_is_flagged(tmp_path):
    _, paths = _write(tmp_path)
    for k in range(5):
        _edit(paths, k, DecayCorrection=None)
    timing = dicom_frame_timing(paths)
    assert (
        "DecayCorrection absent" in timing.flags[0] and timing.decay_correction == "START (assumed)"
    )


def _one_line_error(paths, match):
    with pytest.raises(InputError, match=match) as info:
        dicom_frame_timing(paths)
    assert "\n" not in str(info.value) and str(info.value).split(":")[0].endswith(".dcm")


def test_gap_between_frames(tmp_path):
    _, paths = _write(tmp_path)
    for k in range(5):
        _edit(paths, k, NumberOfTimeSlices=None)
    _edit(paths, 4, ActualFrameDuration=60000, AcquisitionTime="120150.000000")  # starts at 110 s
    _one_line_error(paths, "gap of 40.0 s between frame 4")


def test_missing_frame_and_missing_slices(tmp_path):
    _, paths = _write(tmp_path)
    _one_line_error([p for p in paths if "PT_003_" not in p.name], "4 of 5 frames")
    _one_line_error([p for p in paths if p.name != "PT_002_002.dcm"], "frame 2 has 2 of 3 slices")


def test_frames_out_of_order(tmp_path):
    _, paths = _write(tmp_path)
    _edit(paths, 2, AcquisitionTime="120100.000000")  # frame 3 (ImageIndex) after frame 4 in time
    _one_line_error(paths, "frames out of order: frame 4 starts at 40.0 s")


def test_single_frame_and_no_duration(tmp_path):
    _, paths = _write(tmp_path)
    _one_line_error([p for p in paths if p.name.startswith("PT_001_")], "a single frame|1 of 5")
    _edit(paths, 1, ActualFrameDuration=None)
    _one_line_error(paths, "ActualFrameDuration absent")


def _nifti(tmp_path, starts, durations, sidecar=True):
    array = np.random.default_rng(1).uniform(0, 100, (len(starts), 3, 4, 5)).astype(np.float32)
    path = tmp_path / "rest_rb82.nii.gz"
    image = sitk.JoinSeries([sitk.GetImageFromArray(a) for a in array])
    sitk.WriteImage(image, str(path))
    if sidecar:
        meta = {"FrameTimesStart": starts, "FrameDuration": durations, "ImageDecayCorrected": True,
                "TracerRadionuclide": "Rb82"}  # fmt: skip
        (tmp_path / "rest_rb82.json").write_text(json.dumps(meta))
    return path, array


def test_nifti_with_sidecar(tmp_path):
    path, array = _nifti(tmp_path, STARTS, DURATIONS)
    frames, timing = read_dynamic_nifti(path)
    assert len(frames) == 5 and timing.half_life_s == HALF_LIFE
    np.testing.assert_allclose(timing.durations_s, DURATIONS)
    np.testing.assert_allclose(frames[2].array, array[2])


def test_nifti_without_sidecar_or_unsorted(tmp_path):
    path, _ = _nifti(tmp_path, STARTS, DURATIONS, sidecar=False)
    with pytest.raises(InputError, match="no frame timing: sidecar rest_rb82.json"):
        read_dynamic_nifti(path)
    path, _ = _nifti(tmp_path, [0.0, 20.0, 10.0, 40.0, 70.0], DURATIONS)
    with pytest.raises(InputError, match="out of order"):
        read_dynamic_nifti(path)


def test_cli_static_pet_is_a_single_frame(tmp_path, capsys):
    from cardiolens.cli import main

    frames, paths = _write(tmp_path)
    for path in paths:  # keep the first frame only: a static PET series
        if not path.name.startswith("PT_001_"):
            path.unlink()
    with pytest.raises(SystemExit) as info:
        main(["pet-flow", str(tmp_path / "dyn")])
    message = capsys.readouterr().err.strip()
    assert info.value.code == 2 and "\n" not in message
    assert "PT_001_" in message and "a single frame" in message
