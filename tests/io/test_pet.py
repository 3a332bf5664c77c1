"""PET ingestion: Bq/mL, body-weight SUV factor and dynamic frames."""

import math

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

from cardiolens.core import SeriesRole, Volume
from cardiolens.io import load_study, write_ct_series
from cardiolens.io.pet import suv_body_weight_factor

PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
DOSE_BQ, HALF_LIFE_S, WEIGHT_KG = 370e6, 6586.2, 70.0  # F-18 half-life 109.77 min


def _as_pet(path, frame_start_s=None, instance=0, description="Rest perfusion"):
    ds = pydicom.dcmread(path)
    ds.Modality = "PT"
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = PET_IMAGE_STORAGE
    if instance:
        uid = generate_uid(entropy_srcs=[ds.SOPInstanceUID, str(instance)])
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.SeriesDescription = description
    ds.Units, ds.DecayCorrection = "BQML", "START"
    ds.PatientWeight = WEIGHT_KG
    ds.SeriesDate, ds.SeriesTime = "20260101", "110000"
    info = Dataset()
    info.RadionuclideTotalDose = DOSE_BQ
    info.RadionuclideHalfLife = HALF_LIFE_S
    info.RadiopharmaceuticalStartTime = "100000"
    info.Radiopharmaceutical = "Fluorodeoxyglucose"
    ds.RadiopharmaceuticalInformationSequence = DicomSequence([info])
    ds.RescaleSlope, ds.RescaleIntercept = "2.5", "0"
    if frame_start_s is not None:
        ds.FrameReferenceTime = frame_start_s * 1000.0
        ds.ActualFrameDuration = 60000
    return ds


def _stored(tmp_path, name):
    counts = np.random.default_rng(3).integers(0, 1000, size=(4, 6, 6)).astype(np.float32) - 1024
    volume = Volume(counts, (2.0, 2.0, 2.0), modality="CT")
    return write_ct_series(
        tmp_path / name, volume, patient_id="P", study_uid="1.2.826.0.1.3680043.8.498.5"
    )


def test_pet_values_in_bq_per_ml_and_suv_factor(tmp_path):
    paths = _stored(tmp_path, "pet")
    for path in paths:
        _as_pet(path).save_as(path)
    series = load_study(tmp_path / "pet").series[0]
    stored = np.stack([pydicom.dcmread(p).pixel_array for p in paths]).astype(np.float32)
    np.testing.assert_allclose(series.volume.array, stored * 2.5)
    assert series.volume.metadata["units"] == "Bq/mL"
    expected = WEIGHT_KG * 1000 / (DOSE_BQ * math.exp(-math.log(2) * 3600 / HALF_LIFE_S))
    assert series.metadata["suv_factor"] == pytest.approx(expected, rel=1e-9)
    assert series.role == SeriesRole.PET_REST


def test_suv_factor_absent_without_weight():
    ds = Dataset()
    ds.Units = "BQML"
    factor, note = suv_body_weight_factor(ds)
    assert factor is None and "PatientWeight" in note


def test_dynamic_pet_frames(tmp_path):
    paths = _stored(tmp_path, "dyn")
    for path in paths:
        for frame, start in enumerate((0, 60, 120)):
            _as_pet(path, frame_start_s=start, instance=frame + 1).save_as(
                path.with_name(f"{path.stem}_f{frame}.dcm")
            )
        path.unlink()
    series = load_study(tmp_path / "dyn").series[0]
    assert len(series.frames) == 3 and series.frame_times_s == [0.0, 60.0, 120.0]
    assert series.role == SeriesRole.PET_DYNAMIC
    assert series.volume.shape == (4, 6, 6)
