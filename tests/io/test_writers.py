"""Round trips of the DICOM writers through load_study: geometry exact, values within quantisation."""

import numpy as np
import pydicom
import pytest

from cardiolens.core import ParameterError, SeriesRole, Volume
from cardiolens.io import load_study, write_ct_series, write_nm_multiframe


def _oblique(handed: int = 1) -> np.ndarray:
    a, b = np.deg2rad(25), np.deg2rad(-35)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    direction = rz @ rx
    direction[:, 2] *= handed
    return direction


def _counts(shape=(12, 16, 18), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 150.0, size=shape).astype(np.float32)


def test_nm_round_trip_oblique_keeps_geometry_and_counts(tmp_path):
    volume = Volume(_counts(), (4.0, 3.2, 3.2), (10.5, -20.25, 300.0), _oblique(), "NM")
    path = write_nm_multiframe(
        tmp_path / "stress.dcm",
        volume,
        patient_id="PHANTOM01",
        study_uid="1.2.826.0.1.3680043.8.498.1",
        series_description="Stress SPECT",
        acquisition="stress",
    )
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.20"
    assert list(ds.ImageType)[2] == "RECON TOMO"
    slope = float(ds.RescaleSlope)
    series = load_study(path).series[0]
    assert series.modality == "NM" and series.n_gates == 0
    assert series.role == SeriesRole.SPECT_STRESS
    assert series.volume.same_geometry(volume, tol_mm=1e-4)
    assert np.abs(series.volume.array - volume.array).max() <= slope / 2 + 1e-4


def test_nm_gated_round_trip_left_handed_writes_negative_spacing(tmp_path):
    base = _counts((10, 14, 14), seed=1)
    direction = _oblique(handed=-1)
    gates = [
        Volume(base * (1 + 0.1 * g), (6.8, 6.8, 6.8), (-40.0, 12.0, 90.0), direction, "NM")
        for g in range(8)
    ]
    path = write_nm_multiframe(
        tmp_path / "gated.dcm",
        gates,
        patient_id="PHANTOM01",
        study_uid="1.2.826.0.1.3680043.8.498.1",
        series_description="Gated rest",
    )
    ds = pydicom.dcmread(path)
    assert list(ds.ImageType)[2] == "RECON GATED TOMO"
    assert float(ds.SpacingBetweenSlices) == pytest.approx(-6.8)
    assert ds.NumberOfTimeSlots == 8 and ds.NumberOfFrames == 80
    slope = float(ds.RescaleSlope)
    series = load_study(path).series[0]
    assert series.n_gates == 8 and series.role == SeriesRole.SPECT_REST
    for back, gate in zip(series.gates, gates, strict=True):
        assert back.same_geometry(gate, tol_mm=1e-4)
        assert np.abs(back.array - gate.array).max() <= slope / 2 + 1e-4
    summed = np.sum([g.array for g in gates], axis=0)
    assert np.abs(series.volume.array - summed).max() <= 8 * slope / 2 + 1e-3


def test_nm_integer_counts_are_exact(tmp_path):
    counts = np.round(_counts((4, 5, 6))).astype(np.float32)
    volume = Volume(counts, (4.0, 4.0, 4.0), modality="NM")
    path = write_nm_multiframe(
        tmp_path / "r.dcm", volume, patient_id="P", study_uid="1.2.3", series_description="rest"
    )
    assert "RescaleSlope" not in pydicom.dcmread(path)
    np.testing.assert_array_equal(load_study(path).series[0].volume.array, counts)


def test_nm_writer_rejects_negative_counts(tmp_path):
    volume = Volume(-np.ones((2, 3, 3), np.float32), modality="NM")
    with pytest.raises(ParameterError, match="non-negative"):
        write_nm_multiframe(
            tmp_path / "x.dcm", volume, patient_id="P", study_uid="1.2.3", series_description="x"
        )


def test_ct_round_trip_oblique(tmp_path):
    hu = np.random.default_rng(2).normal(0, 400, size=(7, 20, 24)).round().astype(np.float32)
    volume = Volume(hu, (3.0, 0.488, 0.488), (-128.5, -106.0, 534.875), _oblique(), "CT")
    paths = write_ct_series(
        tmp_path / "ct", volume, patient_id="PHANTOM01", study_uid="1.2.826.0.1.3680043.8.498.1"
    )
    assert len(paths) == 7
    ds = pydicom.dcmread(paths[0])
    assert ds.RescaleIntercept == -1024 and ds.PixelRepresentation == 1
    series = load_study(tmp_path / "ct").series[0]
    assert series.modality == "CT" and series.volume.metadata["units"] == "HU"
    assert series.volume.same_geometry(volume, tol_mm=1e-4)
    np.testing.assert_array_equal(series.volume.array, hu)
    assert series.volume.metadata["kvp"] == 120.0
    assert series.role == SeriesRole.CT_CALCIUM


def test_writers_share_frame_of_reference_within_a_study(tmp_path):
    uid = "1.2.826.0.1.3680043.8.498.7"
    nm = write_nm_multiframe(
        tmp_path / "nm.dcm",
        Volume(_counts((3, 4, 4)), modality="NM"),
        patient_id="P",
        study_uid=uid,
        series_description="rest",
    )
    ct = write_ct_series(
        tmp_path / "ct", Volume(np.zeros((2, 4, 4))), patient_id="P", study_uid=uid
    )
    assert pydicom.dcmread(nm).FrameOfReferenceUID == pydicom.dcmread(ct[0]).FrameOfReferenceUID


def test_written_files_pass_dciodvfy(tmp_path):
    from tests.report.test_report_dicom import dciodvfy_errors

    volume = Volume(_counts((5, 6, 7)), (4.0, 4.0, 4.0), modality="NM")
    common = {"patient_id": "PHANTOM^A", "study_uid": "1.2.826.0.1.3680043.8.498.8"}
    single = write_nm_multiframe(tmp_path / "nm.dcm", volume, series_description="rest", **common)
    gated = write_nm_multiframe(
        tmp_path / "gated.dcm", [volume] * 8, series_description="gated rest", **common
    )
    ct = write_ct_series(tmp_path / "ct", Volume(np.zeros((2, 4, 4)), (3.0, 0.5, 0.5)), **common)
    for path in (single, gated, ct[0]):
        assert dciodvfy_errors(path) == [], path
