"""Bad input (issue 2 acceptance 5): one-line CLI errors with exit code 2 naming the file, or warnings."""

import json
import shutil

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from cardiolens.cli import main
from cardiolens.core import DicomError, GeometryError, InputError, Volume
from cardiolens.io import load_studies, load_study, write_ct_series, write_nifti

STUDY_UID = "1.2.826.0.1.3680043.8.498.11"


def _cli(args, capsys):
    """Run the console entry point; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def _assert_one_line_error(args, capsys, *fragments):
    code, _, err = _cli(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cardiolens: error:"), err
    for fragment in fragments:
        assert fragment in lines[0]


def _ct(tmp_path, name="ct", n=8, description="Calcium score", study_uid=STUDY_UID):
    hu = np.random.default_rng(0).normal(0, 50, size=(n, 12, 12)).round().astype(np.float32)
    volume = Volume(hu, (3.0, 0.5, 0.5), (0.0, 0.0, 100.0), modality="CT")
    paths = write_ct_series(
        tmp_path / name, volume, patient_id="P1", study_uid=study_uid,
        series_description=description,
    )  # fmt: skip
    return volume, paths


def test_truncated_dicom_file(tmp_path, physionet_dicom_dir, capsys):
    source = sorted(physionet_dicom_dir.glob("*.dcm"))[0]
    data = source.read_bytes()
    path = tmp_path / "truncated.dcm"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DicomError, match="truncated"):
        load_study(path)
    _assert_one_line_error(["info", str(path)], capsys, "truncated.dcm", "truncated")


def test_non_dicom_file(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("patient notes, not an image\n" * 20)
    _assert_one_line_error(["info", str(path)], capsys, "notes.txt", "not a DICOM file")


def test_dicom_without_pixel_data(tmp_path, physionet_dicom_dir, capsys):
    ds = pydicom.dcmread(sorted(physionet_dicom_dir.glob("*.dcm"))[0])
    del ds.PixelData
    path = tmp_path / "nopixels.dcm"
    ds.save_as(path)
    _assert_one_line_error(["info", str(path)], capsys, "nopixels.dcm", "no pixel data")


def test_folder_without_dicom_names_the_folder(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("x")
    _assert_one_line_error(["info", str(tmp_path)], capsys, str(tmp_path), "no readable DICOM")


def test_folder_with_one_bad_file_still_loads(tmp_path, capsys):
    _, paths = _ct(tmp_path)
    (tmp_path / "ct" / "junk.dcm").write_bytes(b"\x00" * 200)
    study = load_study(tmp_path / "ct")
    assert study.series[0].volume.shape == (8, 12, 12)
    assert str(tmp_path / "ct" / "junk.dcm") in study.failed_files


def test_folder_mixing_two_ct_series_gives_two_series(tmp_path, capsys):
    _ct(tmp_path, "mixed", description="Calcium score")
    _ct(tmp_path, "mixed/cta", description="Coronary CTA")
    study = load_study(tmp_path / "mixed")
    assert len(study.series) == 2
    assert {s.role.value for s in study.series} == {"ct_calcium", "ccta"}
    assert any("2 CT series" in w for w in study.warnings)
    code, out, _ = _cli(["info", str(tmp_path / "mixed"), "--json"], capsys)
    assert code == 0 and len(json.loads(out)) == 2


def test_folder_with_two_studies(tmp_path, capsys):
    _ct(tmp_path, "two/a", study_uid=STUDY_UID)
    _ct(tmp_path, "two/b", n=5, study_uid=STUDY_UID + ".2")
    assert len(load_studies(tmp_path / "two")) == 2
    study = load_study(tmp_path / "two")
    assert study.study_uid == STUDY_UID  # the study with more files
    assert any("2 studies" in w for w in study.warnings)
    code, out, err = _cli(["info", str(tmp_path / "two"), "--json"], capsys)
    assert code == 0 and {row["study_uid"] for row in json.loads(out)} == {
        STUDY_UID,
        STUDY_UID + ".2",
    }


def test_missing_slice_is_a_warning_in_info(tmp_path, capsys):
    volume, paths = _ct(tmp_path, n=10)
    paths[4].unlink()
    series = load_study(tmp_path / "ct").series[0]
    assert series.volume.shape == (10, 12, 12)  # gap filled on the uniform grid
    assert series.volume.metadata["interpolated_slices"] == [4]
    np.testing.assert_allclose(
        series.volume.array[4], 0.5 * (volume.array[3] + volume.array[5]), atol=1e-4
    )
    code, out, _ = _cli(["info", str(tmp_path / "ct"), "--json"], capsys)
    warnings = json.loads(out)[0]["warnings"]
    assert code == 0 and len(warnings) == 1
    assert (
        "missing slice(s) between z=109.00 and z=115.00 mm: expected spacing 3.00 mm, found 6.00 mm"
        in warnings[0]
    )


def test_duplicate_slice_is_dropped_with_warning(tmp_path):
    _, paths = _ct(tmp_path, n=6)
    shutil.copy(paths[2], tmp_path / "ct" / "copy_of_slice3.dcm")
    series = load_study(tmp_path / "ct").series[0]
    assert series.volume.shape == (6, 12, 12)
    assert any("duplicate slice" in w for w in series.warnings)


def test_gantry_tilt_is_detected_and_corrected(tmp_path):
    """Slices shifted by 2 rows (1 mm) per 3 mm slice: an 18.4 deg tilt, undone exactly."""
    volume, paths = _ct(tmp_path, n=6)
    for k, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y + 1.0 * k, z]
        stored = ds.pixel_array
        ds.PixelData = np.roll(stored, -2 * k, axis=0).astype(np.int16).tobytes()
        ds.save_as(path)
    series = load_study(tmp_path / "ct").series[0]
    assert any("gantry tilt of 18.43 deg" in w for w in series.warnings)
    for k in range(6):  # rows >= 2k of slice k come from inside the tilted slice
        np.testing.assert_allclose(series.volume.array[k, 2 * k :], volume.array[k, 2 * k :])


def test_missing_path_and_bad_role_override(tmp_path, capsys):
    _assert_one_line_error(["info", str(tmp_path / "nothing")], capsys, "no such file")
    _ct(tmp_path)
    _assert_one_line_error(
        ["info", str(tmp_path / "ct"), "--role", "1.2.3=ct_calcium"], capsys, "1.2.3"
    )
    with pytest.raises(InputError):
        load_study(tmp_path / "nothing")


def test_localizer_in_series_is_left_out_with_warning(tmp_path):
    _, paths = _ct(tmp_path, n=6)
    ds = pydicom.dcmread(paths[0])
    ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(tmp_path / "ct" / "localizer.dcm")
    series = load_study(tmp_path / "ct").series[0]
    assert series.volume.shape == (6, 12, 12) and len(series.files) == 6
    assert any("another orientation" in w for w in series.warnings)


def test_uneven_spacing_is_resampled_with_warning(tmp_path):
    _, paths = _ct(tmp_path, n=5)
    for path in paths[3:]:  # move the last two slices 1 mm further
        ds = pydicom.dcmread(path)
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y, z + 1.0]
        ds.save_as(path)
    series = load_study(tmp_path / "ct").series[0]
    assert series.volume.spacing_mm[0] == pytest.approx(3.0)
    assert series.volume.shape[0] == 5  # 0..13 mm on a 3 mm grid
    assert any("uneven slice spacing (3.000 to 4.000 mm)" in w for w in series.warnings)


def test_masks_and_reports_beside_dicom_are_not_failures(tmp_path):
    volume, _ = _ct(tmp_path)
    (tmp_path / "ct" / "ground_truth.json").write_text("{}")
    write_nifti(volume, tmp_path / "ct" / "masks" / "mask.nii.gz")
    study = load_study(tmp_path / "ct")
    assert len(study.series) == 1 and not study.failed_files and not study.warnings


def test_invalid_number_in_a_header_names_the_attribute():
    """pydicom's badVR.dcm holds NumberOfFrames '1A' (was: ValueError from int())."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file("badVR.dcm")
    with pytest.raises(DicomError, match=r"NumberOfFrames \(0028,0008\) holds '1A'") as error:
        load_studies(path)
    assert str(error.value).startswith(f"{path}:")


def test_corrupt_transfer_syntax_uid_is_named(tmp_path, physionet_dicom_dir):
    """Two bytes of the transfer syntax UID overwritten (was: 'UID is not a transfer syntax')."""
    data = bytearray(sorted(physionet_dicom_dir.glob("*.dcm"))[0].read_bytes())
    at = data.index(b"1.2.840.10008.1.2")
    data[at + 5 : at + 7] = b"XY"
    path = tmp_path / "corrupt.dcm"
    path.write_bytes(bytes(data))
    with pytest.raises(DicomError, match="'1.2.8XY.10008.1.2' is not a DICOM transfer syntax"):
        load_studies(path)


def test_several_values_where_one_is_allowed(tmp_path, physionet_dicom_dir):
    ds = pydicom.dcmread(sorted(physionet_dicom_dir.glob("*.dcm"))[0])
    ds.InstanceNumber = [1, 2]
    ds.save_as(tmp_path / "vm.dcm")
    with pytest.raises(DicomError, match=r"InstanceNumber \(0020,0013\) holds 2 values"):
        load_studies(tmp_path / "vm.dcm")


def test_slice_positions_far_apart_are_refused_not_resampled(tmp_path):
    """One slice 10 m away would make a uniform 2 mm grid of 5000 slices: refused, not filled."""
    volume = Volume(np.zeros((5, 4, 4), np.float32), (2.0, 1.0, 1.0), modality="CT")
    paths = write_ct_series(tmp_path / "ct", volume, patient_id="P", study_uid=generate_uid())
    ds = pydicom.dcmread(paths[-1])
    ds.ImagePositionPatient = [0.0, 0.0, 10000.0]
    ds.save_as(paths[-1])
    with pytest.raises(GeometryError, match="positions are inconsistent"):
        load_studies(tmp_path / "ct")


def test_nrrd_declaring_text_encoding_over_binary_data_is_refused(tmp_path, physionet_masks_dir):
    """Found by fuzzing: SimpleITK segfaults reading raw data declared 'encoding: ascii'."""
    import SimpleITK as sitk

    path = tmp_path / "image.nrrd"
    image = sitk.ReadImage(str(physionet_masks_dir / "patient001_0000.nii.gz"))
    sitk.WriteImage(image, str(path), useCompression=False)
    path.write_bytes(path.read_bytes().replace(b"encoding: raw", b"encoding: ascii", 1))
    with pytest.raises(InputError, match="encoding ascii, but the data are not text"):
        load_studies(path)
