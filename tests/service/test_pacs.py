"""PACS round trip with a real Orthanc: C-STORE in, analysed once stable, SR/SEG stored back,
and a physician's amended SR stored back too."""

from __future__ import annotations

import shutil
import time

import pydicom
import pytest

from cardiolens.service.config import ServiceConfig
from cardiolens.service.store import JobStore
from tests.report.fakes import sr_numbers
from tests.report.test_report_dicom import dciodvfy_errors
from tests.service.orthanc import ORTHANC, Orthanc
from tests.service.server import Service, free_port

pytestmark = pytest.mark.skipif(not shutil.which(ORTHANC), reason="Orthanc is not installed")


def _service(folder, *extra):
    store = JobStore(ServiceConfig(folder).store_path)
    token = store.add_token("dr.pacs", "physician")
    return Service(folder, *extra), token


def _wait(condition, timeout_s=120.0, every_s=0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError("timed out")


def test_stable_study_is_analysed_once_and_sr_seg_stored_back(physionet_dicom_dir, tmp_path):
    source = sorted(physionet_dicom_dir.glob("*.dcm"))[1]
    header = pydicom.dcmread(source, stop_before_pixels=True)
    orthanc = Orthanc(tmp_path / "orthanc").start()
    service, token = _service(tmp_path / "service", "--orthanc", orthanc.url, "--watch-pacs")
    try:
        service.start()
        assert orthanc.c_store([source]) == [0]
        study = {"StudyInstanceUID": header.StudyInstanceUID}
        [sr_series] = _wait(lambda: orthanc.find("Series", {**study, "Modality": "SR"}))
        [seg_series] = _wait(lambda: orthanc.find("Series", {**study, "Modality": "SEG"}))

        [sr_instance] = orthanc.get(f"/series/{sr_series}")["Instances"]
        sr_path = tmp_path / "sr.dcm"
        sr_path.write_bytes(orthanc.raw(f"/instances/{sr_instance}/file"))
        assert dciodvfy_errors(sr_path) == []
        sr = pydicom.dcmread(sr_path)
        evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
        assert {s.SeriesInstanceUID for s in evidence} == {header.SeriesInstanceUID}
        [seg_instance] = orthanc.get(f"/series/{seg_series}")["Instances"]
        seg = pydicom.dcmread(
            pydicom.filebase.DicomBytesIO(orthanc.raw(f"/instances/{seg_instance}/file"))
        )
        assert {s.SeriesInstanceUID for s in seg.ReferencedSeriesSequence} == {
            header.SeriesInstanceUID
        }

        status, jobs = service.request("GET", "/jobs", token)
        [job] = jobs
        assert job["source"] == "pacs" and job["study_uid"] == header.StudyInstanceUID
        job = service.wait_for(token, job["job_id"], ("done", "failed"))
        assert job["status"] == "done", job
        time.sleep(orthanc.config["StableAge"] + 3)  # the stored SR/SEG re-stabilise the study
        assert len(service.request("GET", "/jobs", token)[1]) == 1  # analysed once
        status, entries = service.request("GET", f"/jobs/{job['job_id']}/audit", token)
        assert "service.pacs_store" in [e["action"] for e in entries]

        # a physician's amendment: its new SR (superseding the first) is stored back too
        first_report = service.request("GET", f"/jobs/{job['job_id']}/report.json", token)[1]
        rest = first_report["nuclear"]["rest"]
        new_score = 4 if rest["segment_scores"][0] < 4 else 0
        change = {"kind": "segment_score", "state": "rest", "segment": 1, "score": new_score}
        status, state = service.request(
            "POST", f"/jobs/{job['job_id']}/amend", token, {"changes": [change]}
        )
        assert status == 200 and state["pacs"] == {"stored": "sr_v2.dcm"}, state

        def both_srs():
            series = orthanc.find("Series", {**study, "Modality": "SR"})
            found = [i for s in series for i in orthanc.get(f"/series/{s}")["Instances"]]
            return found if len(found) == 2 else None

        instances = _wait(both_srs)
        stored = [
            pydicom.dcmread(pydicom.filebase.DicomBytesIO(orthanc.raw(f"/instances/{i}/file")))
            for i in instances
        ]
        new_sr_path = service.data_dir / "jobs" / job["job_id"] / "out" / "sr_v2.dcm"
        new_sr = pydicom.dcmread(new_sr_path)
        [amended] = [sr for sr in stored if sr.SOPInstanceUID == new_sr.SOPInstanceUID]
        [predecessor] = amended.PredecessorDocumentsSequence
        referenced = predecessor.ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
        assert referenced.ReferencedSOPInstanceUID == sr.SOPInstanceUID
        srs = rest["summed_score"] - rest["segment_scores"][0] + new_score
        assert sr_numbers(new_sr_path)["Summed rest score"] == [srs]

        # the same study asked for by its UID is fetched from Orthanc and analysed again
        status, again = service.request(
            "POST", "/studies/pacs", token, {"study_uid": header.StudyInstanceUID}
        )
        assert status == 202
        again = service.wait_for(token, again["job_id"], ("done", "failed"))
        assert again["status"] == "done", again
        first = first_report  # as analysed, before the amendment
        second = service.request("GET", f"/jobs/{again['job_id']}/report.json", token)[1]
        assert (
            second["nuclear"]["rest"]["segment_scores"]
            == first["nuclear"]["rest"]["segment_scores"]
        )
        assert second["nuclear"]["rest"]["tpd_pct"] == first["nuclear"]["rest"]["tpd_pct"]
    finally:
        service.stop()
        orthanc.stop()


def test_pacs_down_is_retried_then_the_job_fails_with_the_reason(tmp_path):
    down = f"http://127.0.0.1:{free_port()}"
    service, token = _service(
        tmp_path / "service", "--orthanc", down, "--pacs-attempts", "3", "--pacs-delay", "0.2"
    )
    try:
        service.start()
        status, job = service.request(
            "POST", "/studies/pacs", token, {"study_uid": "1.2.826.0.1.3680043.8.498.1"}
        )
        assert status == 202
        job = service.wait_for(token, job["job_id"], ("done", "failed"), timeout_s=60)
        assert job["status"] == "failed"
        assert f"the PACS at {down} is unreachable after 3 attempts" in job["error"]
        log = service.log_path.read_text()
        assert "attempt 1 of 3 failed" in log and "attempt 2 of 3 failed" in log
        status, jobs = service.request("GET", "/jobs", token)
        assert [j["job_id"] for j in jobs] == [job["job_id"]]  # kept, not lost
        status, answer = service.request("POST", "/studies/pacs", token, {"study_uid": "x; DROP"})
        assert status == 422
    finally:
        service.stop()
