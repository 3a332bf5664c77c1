"""DICOM SR (TID 1500) and SEG: build, read back with highdicom, and pass dciodvfy."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import pydicom
import pytest

from cardiolens.report.dicom_seg import SegmentMask, write_segmentation
from cardiolens.report.dicom_sr import write_measurement_report
from tests.report.fakes import (
    calcium_json,
    lesion_mask,
    report_dict,
    reversible_lad_nuclear,
    sr_numbers,
    write_ct_series,
)


def dciodvfy_errors(path: Path) -> list[str]:
    """Lines of ``dciodvfy`` output that report an error (skip when it is not installed)."""
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy is not installed (Debian package dicom3tools)")
    result = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    return [
        line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")
    ]


@pytest.fixture()
def ct_series(tmp_path):
    return write_ct_series(tmp_path / "ct")


def test_sr_holds_the_key_measurements_and_validates(tmp_path, ct_series):
    data = report_dict(nuclear=reversible_lad_nuclear(), calcium=calcium_json())
    path = write_measurement_report(
        tmp_path / "sr.dcm", data, {"stress": ct_series, "rest": ct_series, "calcium": ct_series}
    )
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(path))
    groups = (
        sr.content.get_imaging_measurements()
        if hasattr(sr.content, "get_imaging_measurements")
        else None
    )
    dataset = pydicom.dcmread(path)
    assert (
        dataset.Modality == "SR"
        and dataset.StudyInstanceUID == pydicom.dcmread(ct_series.files[0]).StudyInstanceUID
    )
    values = sr_numbers(path)
    assert values["Left Ventricular Ejection Fraction"] == [52.0, 58.0]
    assert values["Summed stress score"] == [10.0]
    assert values["Summed difference score"] == [10.0]
    assert values["Total perfusion deficit"] == [14.0, 1.0]
    assert values["Agatston score"] == [180.0, 0.0, 150.0, 0.0, 30.0]  # total, LM, LAD, LCx, RCA
    assert values["Calcium Mass"] == [30.0, 0.0, 25.0, 0.0, 5.0]
    assert groups is None or groups
    assert dciodvfy_errors(path) == []


def test_seg_of_calcium_lesions_round_trips_and_validates(tmp_path, ct_series):
    mask = lesion_mask(ct_series)
    path = write_segmentation(
        tmp_path / "seg.dcm", [SegmentMask("calcified lesions", "calcium", mask, ct_series)]
    )
    seg = hd.seg.segread(path)
    assert seg.number_of_segments == 1
    referenced = {item.SeriesInstanceUID for item in seg.ReferencedSeriesSequence}
    assert referenced == {ct_series.series_uid}
    volume = seg.get_volume(combine_segments=True)
    assert int(volume.array.sum()) == int(mask.array.sum())
    assert dciodvfy_errors(path) == []
