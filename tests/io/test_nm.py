"""NM multi-frame reading: frame vectors, geometry fallbacks and refused image types."""

import numpy as np
import pydicom
import pytest

from cardiolens.core import DicomError, ModalityError, Volume
from cardiolens.io import load_study, write_nm_multiframe


def _gated(tmp_path, n_gates=4):
    rng = np.random.default_rng(5)
    gates = [
        Volume(np.round(rng.gamma(2, 50, size=(5, 6, 7))).astype(np.float32), (4.0, 4.0, 4.0),
               (10.0, -5.0, 20.0), modality="NM")
        for _ in range(n_gates)
    ]  # fmt: skip
    path = write_nm_multiframe(
        tmp_path / "g.dcm", gates, patient_id="P", study_uid="1.2.826.0.1.3680043.8.498.3",
        series_description="gated stress", acquisition="stress",
    )  # fmt: skip
    return gates, path


def test_frames_are_placed_by_vectors_not_by_order(tmp_path):
    gates, path = _gated(tmp_path)
    ds = pydicom.dcmread(path)
    n = int(ds.NumberOfFrames)
    order = np.random.default_rng(0).permutation(n)
    frames = ds.pixel_array.reshape(n, ds.Rows, ds.Columns)[order]
    ds.SliceVector = [int(v) for v in np.asarray(ds.SliceVector)[order]]
    ds.TimeSlotVector = [int(v) for v in np.asarray(ds.TimeSlotVector)[order]]
    ds.PixelData = np.ascontiguousarray(frames).tobytes()
    ds.save_as(path)
    series = load_study(path).series[0]
    for back, gate in zip(series.gates, gates, strict=True):
        np.testing.assert_array_equal(back.array, gate.array)


def test_geometry_falls_back_to_top_level(tmp_path):
    gates, path = _gated(tmp_path, n_gates=2)
    ds = pydicom.dcmread(path)
    detector = ds.DetectorInformationSequence[0]
    ds.ImagePositionPatient = detector.ImagePositionPatient
    ds.ImageOrientationPatient = detector.ImageOrientationPatient
    del detector.ImagePositionPatient, detector.ImageOrientationPatient
    ds.save_as(path)
    assert load_study(path).series[0].volume.same_geometry(gates[0])


def test_missing_geometry_is_a_warning(tmp_path):
    _, path = _gated(tmp_path, n_gates=2)
    ds = pydicom.dcmread(path)
    del ds.DetectorInformationSequence
    ds.save_as(path)
    series = load_study(path).series[0]
    assert series.volume.origin_mm == (0.0, 0.0, 0.0)
    assert any("ImagePositionPatient" in w for w in series.warnings)


def test_projection_data_are_refused(tmp_path):
    _, path = _gated(tmp_path, n_gates=2)
    ds = pydicom.dcmread(path)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "GATED TOMO", "EMISSION"]
    ds.save_as(path)
    with pytest.raises(ModalityError, match="reconstruct"):
        load_study(path)


def test_several_energy_windows_in_one_file_are_refused(tmp_path):
    _, path = _gated(tmp_path, n_gates=2)
    ds = pydicom.dcmread(path)
    n = int(ds.NumberOfFrames)
    ds.FrameIncrementPointer = [0x00540010, 0x00540070, 0x00540080]
    ds.EnergyWindowVector = [1 + (i % 2) for i in range(n)]
    ds.save_as(path)
    with pytest.raises(DicomError, match="EnergyWindowVector"):
        load_study(path)


def test_inconsistent_vectors_are_refused(tmp_path):
    _, path = _gated(tmp_path, n_gates=2)
    ds = pydicom.dcmread(path)
    ds.SliceVector = [1] * int(ds.NumberOfFrames)
    ds.save_as(path)
    with pytest.raises(DicomError, match="do not fill"):
        load_study(path)


@pytest.mark.parametrize(
    ("corrected", "expected", "attenuation"),
    [
        ("ATTN", ["ATTN"], True),
        (["ATTN", "SCAT"], ["ATTN", "SCAT"], True),
        ("NORM", ["NORM"], False),
    ],
)
def test_corrected_image_with_one_or_several_values(tmp_path, corrected, expected, attenuation):
    _, path = _gated(tmp_path, n_gates=2)
    ds = pydicom.dcmread(path)
    ds.CorrectedImage = corrected  # one value: pydicom gives the string, not a list
    ds.save_as(path)
    metadata = load_study(path).series[0].volume.metadata
    assert metadata["corrected_image"] == expected
    assert metadata["attenuation_corrected"] is attenuation
