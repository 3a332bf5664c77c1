"""End to end: real studies through analyze_study, report, SR/SEG, amendments and audit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import highdicom as hd
import numpy as np
import pandas as pd
import pytest

from cardiolens.audit import AuditLog, verify
from cardiolens.cli import main
from cardiolens.pipeline import amend_report, analyze_study
from cardiolens.report.schema import validate_report
from tests.report.test_report_dicom import dciodvfy_errors


def _physionet_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.dcm"))
    assert len(files) == 4
    return files


@pytest.fixture(scope="module")
def risk_model_dir(tmp_path_factory) -> Path:
    """A small risk model over age and rest TPD (synthetic patients, quick settings).

    The model's schema allows the range seen in training, so TPD spans 0-100 %.
    """
    from cardiolens.trust.workflow import train_risk_model

    rng = np.random.default_rng(0)
    n = 240
    age = rng.normal(60, 10, n).round()
    tpd = rng.uniform(0.0, 100.0, n).round(1)  # the schema's allowed range is the data's
    tpd[:2] = 0.0, 100.0
    risk = 1 / (1 + np.exp(-(-4 + 0.04 * age + 0.05 * tpd)))
    table = pd.DataFrame(
        {"age": age, "rest_tpd_pct": tpd, "cad": (rng.random(n) < risk).astype(int)}
    )
    out = tmp_path_factory.mktemp("model")
    train_risk_model(table, "cad", outer_folds=2, n_boot=10, out=out)
    return out


@pytest.fixture(scope="module")
def mixed_folder_report(physionet_dicom_dir, risk_model_dir, tmp_path_factory):
    """A folder holding one good PhysioNet study and one corrupt file, analysed once
    with a risk model and clinical variables."""
    folder = tmp_path_factory.mktemp("mixed")
    good = _physionet_files(physionet_dicom_dir)[0]
    shutil.copy(good, folder / good.name)
    (folder / "corrupt.dcm").write_bytes(b"DICM" + b"\x00garbage" * 50)
    out = tmp_path_factory.mktemp("mixed_out")
    return analyze_study(
        folder, out, clinical={"age": 67}, model_dir=risk_model_dir, user="tester", progress=False
    )


def test_risk_section_uses_clinical_and_imaging_features(mixed_folder_report):
    data = mixed_folder_report.data
    risk = data["risk"]
    assert risk["features_used"] == {"age": 67, "rest_tpd_pct": data["nuclear"]["rest"]["tpd_pct"]}
    assert 0 <= risk["interval"]["lower"] <= risk["probability"] <= risk["interval"]["upper"] <= 1
    assert {c["feature"] for c in risk["top_contributors"]} <= {"age", "rest_tpd_pct"}
    [model] = [m for m in data["provenance"]["models"] if m["name"].startswith("risk")]
    assert model["version"] == risk["model_id"] and len(model["sha256"]) == 64
    assert isinstance(risk["base_value"], float)  # SHAP base value (log-odds) for the waterfall
    assert (mixed_folder_report.out_dir / "figures" / "shap_waterfall.png").is_file()
    assert "risk" in data["study"]["analyses"]


def test_corrupt_file_is_listed_and_good_study_reported(mixed_folder_report):
    data = mixed_folder_report.data
    validate_report(data)
    assert json.loads(mixed_folder_report.json_path.read_text()) == data
    failed = [f for f in data["failed"] if f["stage"] == "io"]
    assert len(failed) == 1 and failed[0]["item"].endswith("corrupt.dcm")
    assert data["nuclear"]["rest"] is not None and data["nuclear"]["stress"] is None
    assert any("Stress images are absent" in f for f in data["narrative"]["findings"])
    assert any(f.get("code") == "stress_absent" for f in data["quality_flags"])
    assert "corrupt.dcm" in mixed_folder_report.html_path.read_text()
    inputs = {i["path"] for i in data["provenance"]["inputs"]}
    assert "corrupt.dcm" in inputs and len(inputs) == 2


def test_sr_and_seg_reference_the_source_and_validate(mixed_folder_report):
    report = mixed_folder_report
    source_uid = report.data["study"]["series"][0]["series_uid"]
    assert report.sr_path is not None and len(report.seg_paths) == 1
    seg = hd.seg.segread(report.seg_paths[0])
    assert {s.SeriesInstanceUID for s in seg.ReferencedSeriesSequence} == {source_uid}
    assert seg.number_of_segments == 1
    sr = hd.sr.srread(report.sr_path)
    assert sr.StudyInstanceUID == report.data["study"]["study_uid"]
    assert dciodvfy_errors(report.sr_path) == []
    assert dciodvfy_errors(report.seg_paths[0]) == []


def test_amendment_keeps_the_original_and_is_audited(mixed_folder_report, capsys):
    out = mixed_folder_report.out_dir
    original = mixed_folder_report.data
    amended = amend_report(
        out,
        text="Inferior wall attenuation suspected.",
        user="dr.reader",
        overrides=["rejected automated segmentation"],
    )
    assert amended["narrative"] == original["narrative"]
    assert amended["nuclear"] == original["nuclear"]
    [amendment] = amended["physician"]["amendments"]
    assert amendment["user"] == "dr.reader"
    assert amendment["overrides"] == ["rejected automated segmentation"]
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "amend", str(out), "--user", "dr.second", "--text", "Agree."])
    assert exit_info.value.code in (0, None)
    entries = AuditLog(mixed_folder_report.audit_db).entries()
    assert [e.action for e in entries] == ["analyze", "amend", "amend"]
    assert entries[1].overrides == ["rejected automated segmentation"]
    assert entries[0].details["report_id"] == original["report_id"]
    assert verify(mixed_folder_report.audit_db).ok
    page = (out / "report.html").read_text()
    assert "rejected automated segmentation" in page and "Agree." in page


def test_real_study_segment_override_recomputes_and_supersedes_the_sr(
    physionet_dicom_dir, tmp_path
):
    """On a real PhysioNet study: a rest segment rescored, SRS and a new SR recomputed from
    the old SR alone (the study folder is gone), in a report folder moved elsewhere."""
    from cardiolens.report.changes import SegmentScore
    from tests.report.fakes import sr_numbers

    source = tmp_path / "study"
    source.mkdir()
    shutil.copy(_physionet_files(physionet_dicom_dir)[0], source)
    report = analyze_study(source, tmp_path / "out", progress=False)
    shutil.rmtree(source)
    moved = tmp_path / "moved"
    shutil.move(report.out_dir, moved)
    rest = report.data["nuclear"]["rest"]
    segment = int(np.argmin(rest["segment_scores"])) + 1
    before = rest["segment_scores"][segment - 1]
    new_score = 4 if before < 4 else 0
    amended = amend_report(
        moved, user="dr.reader", changes=[SegmentScore("rest", segment, new_score)]
    )
    expected = rest["summed_score"] - before + new_score
    assert amended["nuclear"]["rest"]["summed_score"] == expected
    assert any(f"SRS {expected} " in f for f in amended["narrative"]["findings"])
    new_sr = moved / amended["physician"]["amendments"][0]["sr"]
    assert sr_numbers(new_sr)["Summed rest score"] == [float(expected)]
    assert sr_numbers(moved / "sr.dcm")["Summed rest score"] == [float(rest["summed_score"])]
    sr = hd.sr.srread(new_sr)
    assert sr.StudyInstanceUID == report.data["study"]["study_uid"]
    assert dciodvfy_errors(new_sr) == []
    assert [e.action for e in AuditLog(moved / "audit.sqlite").entries()] == ["analyze", "amend"]


@pytest.mark.parametrize("index", range(4))
def test_each_physionet_rest_study(physionet_dicom_dir, tmp_path, index):
    source = _physionet_files(physionet_dicom_dir)[index]
    report = analyze_study(source, tmp_path / "out", progress=False)
    rest = report.data["nuclear"]["rest"]
    assert rest is not None and report.data["nuclear"]["stress"] is None
    assert 0 <= rest["summed_score"] <= 68 and len(rest["segment_scores"]) == 17
    assert any(f.startswith("Rest perfusion") for f in report.data["narrative"]["findings"])
    assert any("Stress images are absent" in f for f in report.data["narrative"]["findings"])
    assert report.html_path.is_file() and verify(report.audit_db).ok
    figures = {path.stem for path in (report.out_dir / "figures").glob("*.png")}
    assert {"polar_rest", "extent_rest", "bullseye_rest", "slices"} <= figures
    assert report.data["nuclear"]["extent_pct"]["rest"] >= 0.0
    assert report.data["study"]["acquisitions"][0]["modality"] == "NM"
    [normals] = [m for m in report.data["provenance"]["models"] if "normal" in m["name"]]
    assert len(normals["sha256"]) == 64


def test_qrm_phantom_ct_reports_calcium(qrm_ct_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "analyze",
                str(qrm_ct_dir),
                "--out",
                str(tmp_path / "out"),
                "--calcium-phantom",
                "--quiet",
            ]
        )
    assert exit_info.value.code in (0, None)
    html_path = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert html_path.name == "report.html"
    data = json.loads((html_path.parent / "report.json").read_text())
    assert data["calcium"] is not None and data["nuclear"] is None
    assert data["calcium"]["agatston"] > 0 and len(data["calcium"]["lesions"]) >= 4
    assert any("Calcium phantom" in f for f in data["narrative"]["findings"])


def test_folder_without_images_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(SystemExit) as exit_info:
        main(["analyze", str(tmp_path / "empty"), "--out", str(tmp_path / "out"), "--quiet"])
    assert exit_info.value.code == 2
    assert "cardiolens: error:" in capsys.readouterr().err


def test_failing_series_is_listed_and_the_other_reported(
    physionet_dicom_dir, tmp_path, monkeypatch
):
    """Stress analysis raising an AnalysisError leaves a rest-only report with the failure."""
    import pydicom
    from pydicom.uid import generate_uid

    import cardiolens.nuclear.analysis as analysis
    from cardiolens.core.errors import AnalysisError

    folder = tmp_path / "study"
    folder.mkdir()
    source = _physionet_files(physionet_dicom_dir)[1]
    shutil.copy(source, folder / "rest.dcm")
    stress = pydicom.dcmread(source)
    stress.SeriesInstanceUID, stress.SOPInstanceUID = generate_uid(), generate_uid()
    stress.file_meta.MediaStorageSOPInstanceUID = stress.SOPInstanceUID
    stress.save_as(folder / "stress.dcm")
    real = analysis.analyze_perfusion

    def stress_fails(*, stress=None, rest=None, **options):
        if stress is not None:
            raise AnalysisError("no LV-like structure found in the stress image")
        return real(stress=stress, rest=rest, **options)

    monkeypatch.setattr(analysis, "analyze_perfusion", stress_fails)
    report = analyze_study(
        folder,
        tmp_path / "out",
        role_overrides={stress.SeriesInstanceUID: "spect_stress"},
        progress=False,
    )
    data = report.data
    assert data["nuclear"]["rest"] is not None and data["nuclear"]["stress"] is None
    [failure] = data["failed"]
    assert failure["item"] == stress.SeriesInstanceUID and failure["stage"] == "nuclear"
    assert "no LV-like structure" in failure["error"]
    assert "no LV-like structure" in report.html_path.read_text()
    assert any("Stress images could not be analysed" in f for f in data["narrative"]["findings"])


def test_nifti_needs_a_role_and_gets_no_dicom_outputs(physionet_masks_dir, tmp_path):
    image = physionet_masks_dir / "patient001_0000.nii.gz"
    unknown = analyze_study(image, tmp_path / "unknown", progress=False)
    assert unknown.data["nuclear"] is None
    assert any("--role patient001_0000=ROLE" in f["message"] for f in unknown.data["quality_flags"])
    report = analyze_study(
        image, tmp_path / "rest", role_overrides={"patient001_0000": "spect_rest"}, progress=False
    )
    assert report.data["nuclear"]["rest"] is not None
    assert report.sr_path is None and report.seg_paths == ()
    assert any("not DICOM" in f["message"] for f in report.data["quality_flags"])


def test_risk_input_error_is_listed_not_fatal(physionet_dicom_dir, risk_model_dir, tmp_path):
    source = _physionet_files(physionet_dicom_dir)[2]
    report = analyze_study(
        source, tmp_path / "out", clinical={"age": 400}, model_dir=risk_model_dir, progress=False
    )
    assert report.data["risk"] is None and report.data["nuclear"]["rest"] is not None
    [failure] = report.data["failed"]
    assert failure["stage"] == "risk" and "age" in failure["error"]
