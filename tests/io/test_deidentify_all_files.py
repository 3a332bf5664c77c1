"""De-identification over every real DICOM file we have and every pydicom test file that reads.

After de-identification no attribute of the basic profile's remove or replace lists
keeps its original value anywhere in the file, sequences included, and no private
attribute is left (remove-all-private is the default). Also: the Retain Safe Private
Option, pixel-PHI refusal, and pseudonyms stable per secret.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_files
from pydicom.dataset import Dataset

from cardiolens.core import DicomError
from cardiolens.io.deidentify import deidentify, pixel_phi_reason, profile_entry, resolve_action
from cardiolens.io.dicom_files import read_dicom

SECRET = "all-files-test-secret"
DUMMIES = {"", "ANONYMOUS", "ANONYMIZED", "19000101", "000000", "19000101000000", "0"}


def _walk(ds: Dataset, depth: int = 0):
    """Every element of ``ds`` and of its sequence items."""
    for elem in ds:
        yield elem
        if elem.VR == "SQ" and depth < 16:
            for item in elem.value:
                yield from _walk(item, depth + 1)


def _text(elem) -> str:
    value = elem.value
    if isinstance(value, bytes):
        return value.hex()
    return str(value).strip()


def _originals(ds: Dataset, modality: str) -> tuple[set[int], dict[int, set[str]]]:
    """Tags the profile removes (X) and the original values of those it replaces."""
    removed, replaced = set(), {}
    for elem in _walk(ds):
        if elem.tag.is_private or elem.tag.group == 0x0002:
            continue
        entry = profile_entry(elem.tag)
        if entry is None:
            continue
        action = resolve_action(entry, modality)
        if action == "X":
            removed.add(int(elem.tag))
        elif action in ("Z", "D", "C", "U") and elem.VR != "SQ" and _text(elem) not in DUMMIES:
            replaced.setdefault(int(elem.tag), set()).add(_text(elem))
    return removed, replaced


def _survivors(original: Dataset, output: Path) -> list[str]:
    removed, replaced = _originals(original, str(original.get("Modality", "")))
    cleaned = pydicom.dcmread(output, force=True)
    found = []
    for elem in _walk(cleaned):
        tag = int(elem.tag)
        if elem.tag.is_private:
            found.append(f"private {elem.tag} survived")
        elif tag in removed and tag not in (0x00120062, 0x00120063, 0x00120064):
            found.append(f"{elem.keyword or elem.tag} (remove list) survived")
        elif tag in replaced and _text(elem) in replaced[tag]:
            found.append(f"{elem.keyword or elem.tag} kept its value {_text(elem)[:30]!r}")
    return found


def _readable_files() -> list[Path]:
    here = Path(__file__).resolve().parents[2]
    shared = here.parent / "shared" / "data"
    files = []
    for entry in map(Path, get_testdata_files()):  # files, and folders of DICOMDIR tests
        files += [entry] if entry.is_file() else sorted(p for p in entry.rglob("*") if p.is_file())
    for root in (shared, here / "tests" / "data"):
        files += sorted(root.rglob("*.dcm")) if root.is_dir() else []
    return files


def test_no_profile_attribute_survives_in_any_file(tmp_path, physionet_dicom_dir, qrm_ct_dir):
    """Each output against its input: removed attributes absent, replaced ones changed."""
    files = [
        *_readable_files(),
        *physionet_dicom_dir.glob("*.dcm"),
        *sorted(qrm_ct_dir.glob("*.dcm"))[:3],
    ]
    checked, with_phi, refused, problems = 0, 0, {}, {}
    for index, path in enumerate(dict.fromkeys(files)):
        try:
            original = read_dicom(path)
        except DicomError:
            continue  # not a DICOM file, or one the reader refuses: nothing is written
        out = tmp_path / f"out{index}"
        try:
            report = deidentify(path, out, secret=SECRET, allow_burned_in=True)
        except DicomError as error:  # e.g. an encoding pydicom cannot write back
            refused[path.name] = error.message
            assert not list(out.rglob("*.dcm")), f"{path.name}: refused but written"
            continue
        survivors = _survivors(original, report.files_written[0])
        if survivors:
            problems[path.name] = survivors[:3]
        checked += 1
        with_phi += bool(_survivors(original, path))  # the check finds them in the input
    assert not problems, problems
    # 193 pydicom entries (216 files readable with ../shared, 172 without); all written
    assert checked >= 160 and not refused, (checked, refused)
    assert with_phi >= 0.9 * checked


def test_retain_safe_private_keeps_only_table_e310_attributes(tmp_path, physionet_dicom_dir):
    source = sorted(physionet_dicom_dir.glob("*.dcm"))[0]
    ds = pydicom.dcmread(source)
    philips = ds.private_block(0x7053, "Philips PET Private Group", create=True)
    philips.add_new(0x00, "DS", "0.000123")  # SUV Factor: on the safe list
    philips.add_new(0x01, "LO", "DOE^JOHN")  # not on it
    ds.private_block(0x0009, "ACME PRIVATE", create=True).add_new(0x01, "LO", "MRN-99")
    folder = tmp_path / "in"
    folder.mkdir()
    ds.save_as(folder / "nm.dcm")
    removed = pydicom.dcmread(deidentify(folder, tmp_path / "a", secret=SECRET).files_written[0])
    assert not any(e.tag.is_private for e in removed)
    kept = pydicom.dcmread(
        deidentify(folder, tmp_path / "b", secret=SECRET, private="retain-safe").files_written[0]
    )
    private = {int(e.tag): e.value for e in kept if e.tag.is_private}
    assert private == {0x70530010: "Philips PET Private Group", 0x70531000: 0.000123}
    codes = [item.CodeValue for item in kept.DeidentificationMethodCodeSequence]
    assert "113111" in codes


@pytest.mark.parametrize(
    ("attribute", "value", "reason"),
    [
        ("BurnedInAnnotation", "YES", "BurnedInAnnotation YES"),
        ("RecognizableVisualFeatures", "YES", "RecognizableVisualFeatures YES"),
        ("SOPClassUID", "1.2.840.10008.5.1.4.1.1.7", "Secondary Capture Image"),
        ("ConversionType", "WSD", "workstation screen capture"),
    ],
)
def test_pixel_phi_refused_unless_allowed_then_listed(
    tmp_path, physionet_dicom_dir, attribute, value, reason
):
    folder = tmp_path / "in"
    folder.mkdir()
    sources = sorted(physionet_dicom_dir.glob("*.dcm"))[:2]
    shutil.copy(sources[0], folder / "clean.dcm")
    ds = pydicom.dcmread(sources[1])
    setattr(ds, attribute, value)
    ds.save_as(folder / "screen.dcm")
    assert reason in pixel_phi_reason(ds)
    with pytest.raises(DicomError, match=f"screen.dcm: .*{reason}"):
        deidentify(folder, tmp_path / "out", secret=SECRET)
    assert not (tmp_path / "out").exists()
    report = deidentify(folder, tmp_path / "out", secret=SECRET, allow_burned_in=True)
    assert list(report.pixel_phi) == [str(folder / "screen.dcm")]
    assert "NOT CLEANED" in report.log_path.read_text()


def test_same_secret_same_pseudonyms_different_secret_different(tmp_path, physionet_dicom_dir):
    def pseudonyms(secret: str, out: str) -> list[tuple[str, str, str]]:
        report = deidentify(physionet_dicom_dir, tmp_path / out, secret=secret)
        cleaned = [pydicom.dcmread(p) for p in sorted(report.files_written)]
        return [(d.PatientID, d.StudyInstanceUID, d.SOPInstanceUID) for d in cleaned]

    first, again = pseudonyms(SECRET, "a"), pseudonyms(SECRET, "b")
    other = pseudonyms("another-secret-value", "c")
    assert first == again
    assert all(x != y for a, b in zip(first, other, strict=True) for x, y in zip(a, b, strict=True))
    originals = [pydicom.dcmread(p) for p in sorted(physionet_dicom_dir.glob("*.dcm"))]
    assert {p[0] for p in first}.isdisjoint({str(d.PatientID) for d in originals})
