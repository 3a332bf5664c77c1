"""Amendments that recompute, a new SR superseding the old, sign-off, locking and addenda."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pydicom
import pytest

from cardiolens.audit import AuditLog, verify
from cardiolens.cli import main
from cardiolens.core.errors import ParameterError
from cardiolens.pipeline import amend_report, sign_report
from cardiolens.report import figures as fig
from cardiolens.report.changes import (
    Impression,
    LesionArtery,
    LesionExclusion,
    SegmentScore,
    automated_values,
    parse_lesion_artery,
    parse_segment_score,
)
from cardiolens.report.dicom_sr import write_measurement_report
from cardiolens.report.document import audit_reference, load_report, write_report
from cardiolens.report.figures import ARTERY_COLOURS
from cardiolens.report.schema import validate_report
from tests.report.browser import dump_dom, screenshot
from tests.report.fakes import (
    calcium_json,
    report_dict,
    reversible_lad_nuclear,
    sr_numbers,
    write_ct_series,
)
from tests.report.test_report_dicom import dciodvfy_errors
from tests.report.test_report_html import ARTEFACTS, MIN_SCALE


@pytest.fixture()
def report_folder(tmp_path) -> Path:
    """A written report (nuclear SSS 10 / SRS 0, calcium LAD 150 + RCA 30) with SR and audit."""
    series = write_ct_series(tmp_path / "ct")
    out = tmp_path / "report"
    data = report_dict(nuclear=reversible_lad_nuclear(), calcium=calcium_json())
    data["provenance"]["audit"] = {"db": audit_reference(out, out / "audit.sqlite")}
    write_report(out, data, {})
    write_measurement_report(
        out / "sr.dcm", data, {"stress": series, "rest": series, "calcium": series}
    )
    AuditLog(out / "audit.sqlite").append("analyze", user="tester", software_version="test")
    shutil.rmtree(tmp_path / "ct")  # the sources are gone: the new SR must not need them
    return out


def test_segment_score_override_recomputes_report_html_and_new_sr(report_folder):
    original_sr = pydicom.dcmread(report_folder / "sr.dcm")
    assert sr_numbers(report_folder / "sr.dcm")["Summed stress score"] == [10.0]
    amended = amend_report(
        report_folder, user="Dr Reader", changes=[SegmentScore("stress", 7, 4)], text="Rescored."
    )
    # 1 + 2 + 2 + 2 + 2 + 1 = 10 -> segment 7 from 2 to 4: SSS 12, SRS 0, SDS 12
    assert amended["nuclear"]["stress"]["summed_score"] == 12
    assert amended["nuclear"]["sds"] == 12
    on_disk = load_report(report_folder)
    assert on_disk == amended
    assert any("SSS 12" in f for f in on_disk["narrative"]["findings"])
    assert any("SDS 12" in f for f in on_disk["narrative"]["findings"])
    page = (report_folder / "report.html").read_text()
    assert "SSS 12" in page and "SDS 12" in page
    [entry] = amended["physician"]["amendments"]
    assert entry["changes"] == [
        {"kind": "segment_score", "target": "stress segment 7", "before": 2, "after": 4}
    ]
    new_sr = report_folder / entry["sr"]
    assert new_sr.name == "sr_v2.dcm" and (report_folder / "sr.dcm").is_file()
    numbers = sr_numbers(new_sr)
    assert numbers["Summed stress score"] == [12.0]
    assert numbers["Summed difference score"] == [12.0]
    assert sr_numbers(report_folder / "sr.dcm")["Summed stress score"] == [10.0]  # kept
    sr = pydicom.dcmread(new_sr)
    assert sr.SOPInstanceUID != original_sr.SOPInstanceUID
    [predecessor] = sr.PredecessorDocumentsSequence
    referenced = predecessor.ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert referenced.ReferencedSOPInstanceUID == original_sr.SOPInstanceUID
    assert sr.PatientID == original_sr.PatientID
    assert sr.StudyInstanceUID == original_sr.StudyInstanceUID
    assert dciodvfy_errors(new_sr) == []
    entries = AuditLog(report_folder / "audit.sqlite").entries()
    assert [e.action for e in entries] == ["analyze", "amend"]
    assert entries[1].overrides[0]["target"] == "stress segment 7"
    assert verify(report_folder / "audit.sqlite").ok


def test_lesion_exclusion_and_reassignment_recompute_agatston_and_cac_drs(report_folder):
    amended = amend_report(report_folder, user="Dr Reader", changes=[LesionArtery(2, "LCx")])
    calcium = amended["calcium"]
    assert calcium["per_artery"]["RCA"]["agatston"] == 0.0
    assert calcium["per_artery"]["LCx"]["agatston"] == 30.0
    assert calcium["lesions"][1]["artery_automated"] == "RCA"
    assert calcium["cac_drs"]["label"] == "CAC-DRS A2/N2"
    amended = amend_report(report_folder, user="Dr Reader", changes=[LesionExclusion(1)])
    calcium = amended["calcium"]
    # LAD lesion (Agatston 150, 120 mm3, 25 mg) excluded: 30 left, category 1-99, A1/N1
    assert calcium["agatston"] == 30.0 and calcium["volume_mm3"] == 25.0
    assert calcium["mass_mg"] == 5.0
    assert calcium["per_artery"]["LAD"] == {"agatston": 0.0, "volume_mm3": 0.0, "mass_mg": 0.0}
    assert calcium["category"] == "1-99"
    assert calcium["cac_drs"] == {"category": 1, "vessels": 1, "label": "CAC-DRS A1/N1"}
    assert any("CAC-DRS A1/N1" in i for i in amended["narrative"]["impression"])
    numbers = sr_numbers(report_folder / "sr_v3.dcm")
    assert numbers["Agatston score"][0] == 30.0  # total first, then per artery
    assert sorted(numbers["Agatston score"][1:]) == [0.0, 0.0, 0.0, 30.0]
    page = (report_folder / "report.html").read_text()
    assert "excluded by physician" in page
    assert "Lesions amended: lesion 1 excluded; lesion 2 now LCx (scores above recomputed)" in page
    assert "LCx (automated: RCA)" in page
    with pytest.raises(ParameterError, match="already excluded"):
        amend_report(report_folder, user="Dr Reader", changes=[LesionExclusion(1)])
    with pytest.raises(ParameterError, match="lesions 1-2"):
        amend_report(report_folder, user="Dr Reader", changes=[LesionExclusion(5)])


def _colour_pixels(png: bytes) -> dict[str, int]:
    """Pixels of each overlay colour (pure RGB, the lesions' fill) in a PNG."""
    rgb = plt.imread(io.BytesIO(png))[..., :3]
    colours = {name: matplotlib.colors.to_rgb(c) for name, c in ARTERY_COLOURS.items() if name}
    return {
        name: int(np.all(np.abs(rgb - np.asarray(c)) < 0.02, axis=-1).sum())
        for name, c in colours.items()
    }


def _with_calcium_overlay(folder: Path) -> None:
    """Give the report folder the overlay of a small CT: lesion 1 (LAD) on slices 3-4,
    lesion 2 (RCA) on slice 4, drawn and kept as the pipeline does."""
    ct = np.full((6, 32, 32), -50.0)
    labels = np.zeros((6, 32, 32), int)
    labels[2:4, 4:14, 4:14] = 1
    labels[3, 18:28, 18:28] = 2
    ct[labels > 0] = 400.0
    source = fig.calcium_overlay_source(ct, [1, 2], lesion_labels=labels)
    data = load_report(folder)
    figures = {"calcium_overlay": fig.draw_calcium_overlay(source, {1: "LAD", 2: "RCA"})}
    write_report(folder, data, figures, {"calcium_overlay": source.to_npz()})


def test_calcium_overlay_is_redrawn_after_reassignment_and_exclusion(report_folder):
    _with_calcium_overlay(report_folder)
    png = report_folder / "figures" / "calcium_overlay.png"
    before = _colour_pixels(png.read_bytes())
    assert before["LAD"] > 100 and before["RCA"] > 100 and before["LCx"] == 0
    amend_report(report_folder, user="Dr Reader", changes=[LesionArtery(2, "LCx")])
    after = _colour_pixels(png.read_bytes())
    assert after["RCA"] == 0 and after["LCx"] > 100  # lesion 2 now in the LCx colour
    assert after["LAD"] == pytest.approx(before["LAD"], rel=0.05)  # legend size aside
    page = (report_folder / "report.html").read_text()
    assert base64.b64encode(png.read_bytes()).decode("ascii") in page
    assert "Lesions amended: lesion 2 now LCx (image redrawn, scores above recomputed)" in page
    amend_report(report_folder, user="Dr Reader", changes=[LesionExclusion(1)])
    excluded = _colour_pixels(png.read_bytes())
    assert excluded["LAD"] == 0  # lesion 1 outlined only
    assert excluded["LCx"] == pytest.approx(after["LCx"], rel=0.05)
    assert (report_folder / "figures" / "calcium_overlay.npz").is_file()
    assert not any("overlay" in f["message"] for f in load_report(report_folder)["quality_flags"])


def test_redrawn_overlay_loads_in_chromium_at_1280_px(report_folder, tmp_path):
    _with_calcium_overlay(report_folder)
    amend_report(
        report_folder, user="Dr Reader", changes=[LesionArtery(2, "LCx"), LesionExclusion(1)]
    )
    html_path = report_folder / "report.html"
    dom = dump_dom(html_path, tmp_path / "profile", width=1280)
    assert 'data-images-loaded="true"' in dom and 'data-image-count="1"' in dom
    png = (report_folder / "figures" / "calcium_overlay.png").read_bytes()
    match = re.search(r'<img id="fig-calcium_overlay"[^>]*data-rendered-width="(\d+)"', dom)
    assert match and int(match[1]) >= MIN_SCALE * plt.imread(io.BytesIO(png)).shape[1]
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    screenshot(html_path, ARTEFACTS / "report_amended_overlay_1280.png", tmp_path / "p2")


def test_an_overlay_without_its_source_is_dropped_not_left_stale(report_folder):
    _with_calcium_overlay(report_folder)
    (report_folder / "figures" / "calcium_overlay.npz").unlink()  # a report of an older version
    amended = amend_report(report_folder, user="Dr Reader", changes=[LesionArtery(2, "LCx")])
    assert not (report_folder / "figures" / "calcium_overlay.png").exists()
    [flag] = [f for f in amended["quality_flags"] if "overlay" in f["message"]]
    assert flag["severity"] == "info" and "cannot be redrawn" in flag["message"]


def test_impression_override_is_shown_above_the_automated_one(report_folder):
    amend_report(report_folder, user="Dr Reader", changes=[Impression("Attenuation artefact.")])
    data = load_report(report_folder)
    assert data["physician"]["impression"] == "Attenuation artefact."
    page = (report_folder / "report.html").read_text()
    assert page.index("Attenuation artefact.") < page.index("Automated impression")


def test_moved_and_copied_report_folders_amend_their_own_audit_log(report_folder, tmp_path):
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    shutil.move(report_folder, moved)
    copy = tmp_path / "copy"
    shutil.copytree(moved, copy)
    assert load_report(moved)["provenance"]["audit"]["db"] == "audit.sqlite"
    amend_report(moved, user="Dr A", text="Moved.")
    amend_report(copy, user="Dr B", changes=[SegmentScore("rest", 3, 1)])
    moved_log = [e.user for e in AuditLog(moved / "audit.sqlite").entries()]
    copy_log = [e.user for e in AuditLog(copy / "audit.sqlite").entries()]
    assert moved_log == ["tester", "Dr A"] and copy_log == ["tester", "Dr B"]
    assert load_report(copy)["nuclear"]["rest"]["summed_score"] == 1
    assert load_report(moved)["nuclear"]["rest"]["summed_score"] == 0


def test_audit_reference_outside_the_folder_is_absolute(tmp_path):
    assert audit_reference(tmp_path / "out", tmp_path / "logs" / "a.sqlite") == str(
        (tmp_path / "logs" / "a.sqlite").resolve()
    )
    assert audit_reference(tmp_path / "out", tmp_path / "out" / "a.sqlite") == "a.sqlite"


def test_final_sign_off_locks_and_later_changes_are_addenda(report_folder):
    signed = sign_report(report_folder, reader="Jane Doe", status="final", organization="Clinic")
    signoff = signed["physician"]["signoff"]
    assert signoff["status"] == "final" and signoff["reader"] == "Jane Doe"
    sr = pydicom.dcmread(report_folder / signoff["sr"])
    assert sr.PreliminaryFlag == "FINAL" and sr.VerificationFlag == "VERIFIED"
    assert str(sr.VerifyingObserverSequence[0].VerifyingObserverName) == "Doe^Jane"
    assert dciodvfy_errors(report_folder / signoff["sr"]) == []
    locked = (report_folder / "report.signed.json").read_text()
    with pytest.raises(ParameterError, match="locked"):
        amend_report(report_folder, user="Dr B", changes=[SegmentScore("stress", 7, 3)])
    with pytest.raises(ParameterError, match="already signed final"):
        sign_report(report_folder, reader="Jane Doe", status="final")
    added = amend_report(
        report_folder, user="Dr B", changes=[SegmentScore("stress", 7, 3)], addendum=True
    )
    assert added["physician"]["amendments"][-1]["kind"] == "addendum"
    assert added["nuclear"]["stress"]["summed_score"] == 11
    assert (report_folder / "report.signed.json").read_text() == locked
    assert json.loads(locked)["nuclear"]["stress"]["summed_score"] == 10
    page = (report_folder / "report.html").read_text()
    assert "Addendum" in page and "Jane Doe" in page
    actions = [e.action for e in AuditLog(report_folder / "audit.sqlite").entries()]
    assert actions == ["analyze", "sign", "addendum"]
    validate_report(added)


def test_addendum_needs_a_final_report_and_preliminary_sign_off_is_reset(report_folder):
    with pytest.raises(ParameterError, match="not final"):
        amend_report(report_folder, user="Dr B", text="x", addendum=True)
    sign_report(report_folder, reader="Jane Doe", status="preliminary")
    amended = amend_report(report_folder, user="Dr B", text="Changed after preliminary.")
    assert amended["physician"]["signoff"] is None


def test_cli_amend_and_sign(report_folder, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "report",
                "amend",
                str(report_folder),
                "--user",
                "Dr C",
                "--segment-score",
                "stress:13=0",
                "--lesion-artery",
                "2=lcx",
                "--impression",
                "Small LAD ischemia.",
            ]
        )
    assert exit_info.value.code in (0, None)
    out = capsys.readouterr().out
    assert "stress segment 13: 2 -> 0" in out and "stress summed score 8" in out
    assert "SDS 8" in out and "new DICOM SR" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "sign", str(report_folder), "--reader", "Dr C", "--status", "final"])
    assert exit_info.value.code in (0, None)
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "amend", str(report_folder), "--user", "Dr C", "--text", "late"])
    assert exit_info.value.code == 2
    assert "addendum" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spec", "message"),
    [("stress:18=1", "1-17"), ("stress:3=5", "0-4"), ("post:3=1", "STATE:SEGMENT=SCORE")],
)
def test_segment_score_specs_are_checked(spec, message):
    with pytest.raises(ParameterError, match=message):
        parse_segment_score(spec)


def test_lesion_artery_spec():
    assert parse_lesion_artery("3=lcx") == LesionArtery(3, "LCx")
    with pytest.raises(ParameterError, match="LM, LAD, LCx, RCA"):
        parse_lesion_artery("3=OM1")


def test_a_report_written_before_the_rule_finds_its_log_in_its_folder(report_folder):
    """Older reports stored the log relative to the working directory (demo_output/audit.sqlite)."""
    data = load_report(report_folder)
    data["provenance"]["audit"] = {"db": "demo_output/audit.sqlite"}
    write_report(report_folder, data, {})
    amend_report(report_folder, user="Dr A", text="Old report.")
    assert [e.user for e in AuditLog(report_folder / "audit.sqlite").entries()] == [
        "tester",
        "Dr A",
    ]


def test_automated_values_undo_every_recorded_change(report_folder):
    automated = load_report(report_folder)
    amend_report(report_folder, user="Dr Reader", changes=[SegmentScore("stress", 7, 4)])
    amend_report(
        report_folder,
        user="Dr Reader",
        changes=[SegmentScore("stress", 7, 0), LesionArtery(2, "LCx"), LesionExclusion(1)],
    )
    amended = amend_report(report_folder, user="Dr Reader", changes=[Impression("Artefact.")])
    assert amended["nuclear"]["stress"]["summed_score"] == 8  # 10 - 2 + 0
    assert amended["calcium"]["agatston"] == 30.0
    original = automated_values(amended)
    assert original["nuclear"] == automated["nuclear"]  # SSS 10 / SRS 0 / SDS 10 again
    assert [x["artery"] for x in original["calcium"]["lesions"]] == ["LAD", "RCA"]
    assert not any(x.get("excluded") for x in original["calcium"]["lesions"])
    # LAD 150 + RCA 30 (Agatston AS et al., JACC 1990: the sum of the lesion scores)
    assert original["calcium"]["agatston"] == 180.0
    assert original["calcium"]["per_artery"]["RCA"]["agatston"] == 30.0
    assert original["calcium"]["cac_drs"] == automated["calcium"]["cac_drs"]
    assert original["physician"].get("impression") is None
    assert load_report(report_folder) == amended  # the report itself is untouched
