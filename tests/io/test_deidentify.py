"""De-identification (issue 2 acceptance 4): every profile action, UID consistency, pixels bit-exact."""

import csv
import shutil

import numpy as np
import pydicom
import pytest
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from cardiolens.cli import main
from cardiolens.core import DicomError, ParameterError, Volume
from cardiolens.io import load_study, write_nm_multiframe
from cardiolens.io.deidentify import basic_profile, deidentify, resolve_action

SECRET = "unit-test-secret"
PHI_NAME = "Doe^Johnathan"
PHI_TEXT = "Elsewhere Hosp"


def _value(vr: str, n: int):
    """A PHI-looking value of ``vr`` for attribute number ``n``."""
    values = {
        "DA": "20200102", "TM": "101010", "DT": "20200102101010", "PN": PHI_NAME,
        "UI": f"1.2.826.0.1.3680043.8.498.99.{n}", "AS": "045Y", "CS": "PHI", "IS": "5",
        "DS": "5.5", "AE": "PHIAE", "AT": 0x00100010, "US": 5, "SS": 5, "UL": 5, "SL": 5,
        "FL": 5.0, "FD": 5.0, "OB": b"PHI\x00", "OW": b"PHI\x00", "UN": b"PHI\x00",
    }  # fmt: skip
    return values.get(vr, PHI_TEXT)


def _nested_item() -> Dataset:
    item = Dataset()
    item.PatientName = PHI_NAME
    item.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.99.0"
    return item


def _phi_file(tmp_path):
    """An NM file holding every attribute of the profile table (sequences with a nested PHI item)."""
    volume = Volume(np.arange(2 * 4 * 5, dtype=np.float32).reshape(2, 4, 5), modality="NM")
    path = write_nm_multiframe(
        tmp_path / "in" / "nm.dcm", volume, patient_id="MRN-123456",
        study_uid="1.2.826.0.1.3680043.8.498.42", series_description="rest",
    )  # fmt: skip
    ds = pydicom.dcmread(path)
    injected = []
    for n, entry in enumerate(basic_profile()):
        if "x" in entry.tag:
            tag = int(entry.tag.replace("xxxx", "3000").replace("xx", "00").replace(",", ""), 16)
        else:
            tag = int(entry.tag.replace(",", ""), 16)
        if tag >> 16 in (0x0000, 0x0002, 0xFFFA, 0xFFFC):
            continue  # command, file meta and trailing groups are not data set attributes here
        vr = dictionary_VR(tag).split(" ")[0]
        if entry.keyword in ("PatientID", "PatientName"):
            continue  # keep the real patient identifiers written above
        value = DicomSequence([_nested_item()]) if vr == "SQ" else _value(vr, n)
        ds.add_new(tag, vr, value)
        injected.append((entry, tag, vr, ds[tag].value))
    ds.BurnedInAnnotation = "NO"
    block = ds.private_block(0x0013, "CARDIOLENS TEST", create=True)
    block.add_new(0x10, "LO", "keep me")
    block.add_new(0x11, "LO", PHI_TEXT)
    ds.save_as(path)
    return path, injected


def test_every_profile_attribute_gets_its_action(tmp_path):
    path, injected = _phi_file(tmp_path)
    assert len(injected) > 350
    report = deidentify(path, tmp_path / "out", secret=SECRET, keep_private=["0013,1010"])
    out = pydicom.dcmread(report.files_written[0])
    for entry, tag, vr, original in injected:
        action = resolve_action(entry, "NM")
        label = f"{entry.tag} {entry.keyword} ({entry.action} -> {action})"
        if action == "X":
            assert tag not in out, label
            continue
        assert tag in out, label
        value = out[tag].value
        if vr == "SQ":
            assert action in ("D", "Z", "U*", "K"), label
            for item in value:
                assert str(item.PatientName) != PHI_NAME, label
                assert str(item.ReferencedSOPInstanceUID).startswith("2.25."), label
        elif action == "Z":
            assert value in (None, "", b""), label
        elif action == "D":
            assert value != original, label
        elif action == "U":
            assert str(value).startswith("2.25.") and value != original, label
    assert str(out.PatientID).startswith("CL") and "123456" not in str(out.PatientID)
    assert out.PatientIdentityRemoved == "YES"
    assert out.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    block = out.private_block(0x0013, "CARDIOLENS TEST")
    assert block[0x10].value == "keep me"
    assert 0x11 not in block
    log_text = report.log_path.read_text()
    assert PHI_NAME not in log_text and PHI_TEXT not in log_text and "MRN-123456" not in log_text


def test_physionet_deidentified_keeps_pixels_and_geometry(tmp_path, physionet_dicom_dir):
    report = deidentify(physionet_dicom_dir, tmp_path / "a", secret=SECRET)
    assert len(report.files_written) == 4
    originals = {pydicom.dcmread(p).SOPInstanceUID: p for p in physionet_dicom_dir.glob("*.dcm")}
    with open(report.log_path) as handle:
        rows = list(csv.DictReader(handle))
    assert {"file", "tag", "keyword", "action", "old_value_hmac"} <= set(rows[0])
    for out_path in report.files_written:
        out = pydicom.dcmread(out_path)
        assert "InstitutionName" not in out
        assert not out.PatientBirthDate and not out.AccessionNumber
        assert (0x0013, 0x0010) not in out  # private creator removed
        source = next(
            p for uid, p in originals.items() if out.SOPInstanceUID == _uid_of(report, uid)
        )
        original = pydicom.dcmread(source)
        assert out.PixelData == original.PixelData
        before, after = load_study(source).series[0], load_study(out_path).series[0]
        assert after.volume.same_geometry(before.volume, tol_mm=1e-6)
        np.testing.assert_array_equal(after.volume.array, before.volume.array)
        assert out_path.name == f"{out.SOPInstanceUID}.dcm"  # UID file names re-keyed


def _uid_of(report, uid):
    from cardiolens.io.deidentify import _Keys

    return _Keys(SECRET).uid(uid)


def test_uids_consistent_per_secret(tmp_path, physionet_dicom_dir):
    source = sorted(physionet_dicom_dir.glob("*.dcm"))[0]

    def uids(folder, secret):
        out = pydicom.dcmread(deidentify(source, folder, secret=secret).files_written[0])
        return out.StudyInstanceUID, out.SeriesInstanceUID, out.SOPInstanceUID

    first, second = uids(tmp_path / "1", SECRET), uids(tmp_path / "2", SECRET)
    other = uids(tmp_path / "3", "another-secret")
    assert first == second
    assert not set(first) & set(other)
    original = pydicom.dcmread(source)
    assert original.StudyInstanceUID not in first


def test_shift_dates_per_patient_offset(tmp_path, physionet_dicom_dir):
    from datetime import date

    report = deidentify(physionet_dicom_dir, tmp_path / "s", secret=SECRET, shift_dates=True)
    for out_path in report.files_written:
        out = pydicom.dcmread(out_path)
        original = pydicom.dcmread(
            next(
                p
                for p in physionet_dicom_dir.glob("*.dcm")
                if _uid_of(report, pydicom.dcmread(p).SOPInstanceUID) == out.SOPInstanceUID
            )
        )

        def day(text):
            return date(int(text[:4]), int(text[4:6]), int(text[6:8]))

        offset = (day(out.StudyDate) - day(original.StudyDate)).days
        assert -365 <= offset <= -1
        assert (day(out.PatientBirthDate) - day(original.PatientBirthDate)).days == offset
        assert out.LongitudinalTemporalInformationModified == "MODIFIED"
        assert [c.CodeValue for c in out.DeidentificationMethodCodeSequence] == ["113100", "113107"]


def test_burned_in_annotation_refused_unless_allowed(tmp_path, physionet_dicom_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    ds = pydicom.dcmread(sorted(physionet_dicom_dir.glob("*.dcm"))[0])
    ds.BurnedInAnnotation = "YES"
    ds.save_as(folder / "burned.dcm")
    with pytest.raises(DicomError, match="burned.dcm.*BurnedInAnnotation"):
        deidentify(folder, tmp_path / "out", secret=SECRET)
    report = deidentify(folder, tmp_path / "out2", secret=SECRET, allow_burned_in=True)
    assert len(report.burned_in_allowed) == 1


def test_short_secret_and_output_inside_input_are_refused(tmp_path, physionet_dicom_dir):
    with pytest.raises(ParameterError, match="secret"):
        deidentify(physionet_dicom_dir, tmp_path / "o", secret="short")
    shutil.copytree(physionet_dicom_dir, tmp_path / "in")
    with pytest.raises(ParameterError, match="outside"):
        deidentify(tmp_path / "in", tmp_path / "in" / "out", secret=SECRET)


def test_cli_deidentify_with_env_secret(tmp_path, physionet_dicom_dir, monkeypatch, capsys):
    monkeypatch.setenv("CARDIOLENS_DEID_SECRET", SECRET)
    with pytest.raises(SystemExit) as exit_info:
        main(["deidentify", str(physionet_dicom_dir), str(tmp_path / "cli")])
    assert exit_info.value.code == 0
    assert "de-identified 4 file(s)" in capsys.readouterr().out
    assert (tmp_path / "cli" / "deidentification_log.csv").is_file()


def test_cli_deidentify_without_secret_is_one_line_error(
    tmp_path, physionet_dicom_dir, monkeypatch, capsys
):
    monkeypatch.delenv("CARDIOLENS_DEID_SECRET", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["deidentify", str(physionet_dicom_dir), str(tmp_path / "x")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "CARDIOLENS_DEID_SECRET" in err
