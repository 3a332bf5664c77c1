"""The report carries the audit head after its own entry, and the entry hashes the report."""

from __future__ import annotations

import hashlib
import json

from cardiolens.audit import AuditLog, head, verify
from cardiolens.pipeline import analyze_study


def test_report_carries_the_head_of_its_own_entry(qrm_ct_dir, tmp_path):
    report = analyze_study(sorted(qrm_ct_dir.glob("*.dcm"))[0], tmp_path / "out", progress=False)
    data = json.loads(report.json_path.read_text())
    receipt = data["provenance"]["audit"]["head"]
    entry = AuditLog(report.audit_db).entries()[-1]
    assert receipt == entry.head == "{}:{}".format(*head(report.audit_db))
    assert entry.details["report_id"] == data["report_id"]
    assert verify(report.audit_db, head=receipt).ok
    # the entry hashed report.json as written before the receipt was added
    del data["provenance"]["audit"]["head"]
    before = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
    assert hashlib.sha256(before).hexdigest() == entry.output_hashes["report.json"]
