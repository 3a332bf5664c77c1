"""The REST service, started and stopped by the tests on localhost: auth, uploads, restart."""

from __future__ import annotations

import io
import json
import zipfile

import pydicom
import pytest

from cardiolens.audit import verify
from cardiolens.service.config import ServiceConfig
from cardiolens.service.store import JobStore
from cardiolens.service.worker import needs_review
from tests.service.server import Service


@pytest.fixture(scope="module")
def study_file(physionet_dicom_dir):
    return sorted(physionet_dicom_dir.glob("*.dcm"))[0]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    data = tmp_path_factory.mktemp("service") / "data"
    store = JobStore(ServiceConfig(data).store_path)
    tokens = {
        role: store.add_token(f"{role}.user", role) for role in ("reader", "physician", "admin")
    }
    running = Service(data, "--max-upload-mb", "1").start()
    running.tokens = tokens
    yield running
    running.stop()


@pytest.fixture(scope="module")
def done_job(service, study_file):
    corrupt = b"\0" * 128 + b"DICM" + b"\x00garbage" * 50  # a DICOM-looking file that fails
    status, job = service.upload(
        service.tokens["physician"],
        [(study_file.name, study_file.read_bytes()), ("Smith^John.dcm", corrupt)],
    )
    assert status == 202, job
    return service.wait_for(service.tokens["reader"], job["job_id"], ("done", "failed"))


def test_health_and_openapi_need_no_token(service):
    status, health = service.request("GET", "/health")
    assert status == 200 and health["status"] == "ok"
    status, spec = service.request("GET", "/openapi.json")
    assert status == 200 and "/studies" in spec["paths"] and "/jobs/{job_id}/amend" in spec["paths"]


def test_interactive_docs_load_nothing_from_outside(service):
    status, page = service.request("GET", "/docs")
    assert status == 200
    page = page.decode() if isinstance(page, bytes) else page
    assert "http://" not in page and "https://" not in page  # air-gapped sites
    for asset in ("/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css"):
        assert asset in page
        status, body = service.request("GET", asset)
        assert status == 200 and len(body) > 100_000


def test_no_token_or_unknown_token_is_401(service):
    for token in (None, "not-a-token"):
        status, answer = service.request("GET", "/jobs", token)
        assert status == 401, answer
    status, _ = service.upload(None, [("a.dcm", b"x")])
    assert status == 401


def test_job_is_analysed_and_its_files_fetched(service, done_job, study_file):
    assert done_job["status"] == "done", done_job
    reader = service.tokens["reader"]
    status, report = service.request("GET", f"/jobs/{done_job['job_id']}/report.json", reader)
    assert status == 200 and report["nuclear"]["rest"]["summed_score"] >= 0
    source = pydicom.dcmread(study_file, stop_before_pixels=True)
    assert report["study"]["study_uid"] == source.StudyInstanceUID == done_job["study_uid"]
    assert done_job["needs_review"] is needs_review(report) is True  # a file not analysed
    [failure] = report["failed"]
    assert failure["stage"] == "io" and failure["item"].endswith("00002.dcm")  # neutral name
    assert done_job["n_flags"] == len(report["quality_flags"])
    status, page = service.request("GET", f"/jobs/{done_job['job_id']}/report.html", reader)
    assert status == 200 and b"<html" in page[:500].lower()
    status, sr = service.request("GET", f"/jobs/{done_job['job_id']}/sr.dcm", reader)
    assert status == 200 and sr[128:132] == b"DICM"
    status, segs = service.request("GET", f"/jobs/{done_job['job_id']}/seg", reader)
    assert status == 200 and segs == ["seg.dcm"]
    status, seg = service.request("GET", f"/jobs/{done_job['job_id']}/seg/seg.dcm", reader)
    assert status == 200 and seg[128:132] == b"DICM"
    status, answer = service.request("GET", "/jobs/nope/report.json", reader)
    assert status == 404


def test_reader_cannot_submit_amend_or_administer(service, done_job, study_file):
    reader = service.tokens["reader"]
    status, answer = service.request(
        "POST", f"/jobs/{done_job['job_id']}/amend", reader, {"text": "Agree."}
    )
    assert status == 403 and "reader" in answer["detail"]
    status, _ = service.upload(reader, [(study_file.name, study_file.read_bytes())])
    assert status == 403
    status, _ = service.request("GET", "/audit", reader)
    assert status == 403
    status, _ = service.request("POST", f"/jobs/{done_job['job_id']}/sign", service.tokens["admin"])
    assert status == 403  # only a physician signs


@pytest.mark.parametrize(
    "files, expected, reason",
    [
        ([("notes.txt", b"no images here")], 422, "no DICOM, NIfTI or NRRD"),
        ([("big.dcm", b"\0" * (2 << 20))], 413, "larger than"),
        ([("study.zip", b"PK\x03\x04 truncated archive")], 400, "zip cannot be read"),
        ("traversal", 400, "unsafe path"),
    ],
)
def test_bad_upload_is_a_4xx_with_the_reason(service, files, expected, reason):
    if files == "traversal":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as bundle:
            bundle.writestr("../../etc/evil.dcm", b"DICM")
        files = [("study.zip", buffer.getvalue())]
    status, answer = service.upload(service.tokens["physician"], files)
    assert status == expected and reason in answer["detail"], answer


def test_physician_amends_signs_and_the_report_locks(service, done_job):
    physician, job_id = service.tokens["physician"], done_job["job_id"]
    before = service.request("GET", f"/jobs/{job_id}/report.json", physician)[1]
    rest = before["nuclear"]["rest"]["segment_scores"]
    new_score = 4 if rest[0] < 4 else 0
    status, state = service.request(
        "POST",
        f"/jobs/{job_id}/amend",
        physician,
        {
            "text": "Inferior attenuation.",
            "changes": [
                {"kind": "segment_score", "state": "rest", "segment": 1, "score": new_score}
            ],
        },
    )
    assert status == 200 and state["physician"]["free_text"] == "Inferior attenuation."
    srs = before["nuclear"]["rest"]["summed_score"] - rest[0] + new_score
    assert state["current"]["srs"] == srs and state["original"]["srs"] == sum(rest)
    report = service.request("GET", f"/jobs/{job_id}/report.json", physician)[1]
    assert report["nuclear"]["rest"]["summed_score"] == srs  # the report itself recomputed
    status, answer = service.request(
        "POST", f"/jobs/{job_id}/amend", physician, {"changes": [{"kind": "lesion_exclusion"}]}
    )
    assert status == 422 and "needs lesion" in answer["detail"]

    status, signed = service.request("POST", f"/jobs/{job_id}/sign", physician)
    signoff = signed["physician"]["signoff"]
    assert status == 200 and (signoff["reader"], signoff["status"]) == ("physician.user", "final")
    job = service.request("GET", f"/jobs/{job_id}", physician)[1]
    assert (job["signed_by"], job["signed_utc"]) == ("physician.user", signoff["time_utc"])
    status, answer = service.request("POST", f"/jobs/{job_id}/amend", physician, {"text": "Late."})
    assert status == 409 and "locked" in answer["detail"]
    assert service.request("POST", f"/jobs/{job_id}/sign", physician)[0] == 409
    status, state = service.request(
        "POST", f"/jobs/{job_id}/amend", physician, {"text": "Late.", "addendum": True}
    )
    assert status == 200 and state["physician"]["amendments"][-1]["kind"] == "addendum"

    status, entries = service.request("GET", f"/jobs/{job_id}/audit", physician)
    actions = [(e["action"], e["user"]) for e in entries]
    assert ("service.submit", "physician.user") in actions
    assert ("analyze", "physician.user") in actions
    assert actions[-3:] == [
        ("amend", "physician.user"),
        ("sign", "physician.user"),
        ("addendum", "physician.user"),
    ]
    [amended] = [e for e in entries if e["action"] == "amend"]
    assert amended["overrides"] == [
        {"kind": "segment_score", "target": "rest segment 1", "before": rest[0], "after": new_score}
    ]


def test_admin_adds_a_token_and_reads_the_audit(service):
    admin = service.tokens["admin"]
    status, created = service.request(
        "POST", "/tokens", admin, {"user": "dr.new", "role": "reader"}
    )
    assert status == 201 and len(created["token"]) >= 40
    assert service.request("GET", "/jobs", created["token"])[0] == 200
    status, users = service.request("GET", "/tokens", admin)
    assert {"dr.new", "admin.user"} <= {u["user"] for u in users}
    assert all("token" not in u for u in users)
    store_text = (service.data_dir / "service.sqlite").read_bytes()
    assert created["token"].encode() not in store_text  # stored hashed only
    status, entries = service.request("GET", "/audit?last=500", admin)
    assert status == 200 and any(e["action"] == "service.token_add" for e in entries)
    assert verify(service.data_dir / "audit.sqlite").ok


def test_no_phi_in_the_service_log(service, done_job, study_file):
    source = pydicom.dcmread(study_file, stop_before_pixels=True)
    log = service.log_path.read_text()
    assert done_job["job_id"] in log
    assert "00002.dcm" not in log  # the stages' warnings stay in the report
    for value in (
        "Smith",
        source.StudyInstanceUID,
        source.SeriesInstanceUID,
        study_file.name,
        str(source.get("PatientID", "")),
        str(source.get("PatientName", "")),
    ):
        if value:
            assert value not in log


def test_restart_keeps_jobs(service, done_job, study_file):
    physician = service.tokens["physician"]
    status, job = service.upload(physician, [(study_file.name, study_file.read_bytes())])
    assert status == 202
    service.wait_for(physician, job["job_id"], ("running",))
    service.stop()  # mid-analysis
    stored = JobStore(service.data_dir / "service.sqlite").job(job["job_id"])
    assert stored.status == "running"
    service.start()
    status, jobs = service.request("GET", "/jobs", physician)
    assert {done_job["job_id"], job["job_id"]} <= {j["job_id"] for j in jobs}
    finished = service.wait_for(physician, job["job_id"], ("done", "failed"))
    assert finished["status"] == "done" and finished["attempts"] == 2, finished
    status, first = service.request("GET", f"/jobs/{done_job['job_id']}", physician)
    assert first["signed_by"] == "physician.user"  # the earlier job and its sign-off survive
    assert json.loads(
        (service.data_dir / "jobs" / job["job_id"] / "out" / "report.json").read_text()
    )
