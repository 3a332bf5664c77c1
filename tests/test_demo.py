"""``cardiolens demo``: simulate, analyse, print measured vs true and the report path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import highdicom as hd
import pytest

from cardiolens.audit import verify
from cardiolens.cli import main
from cardiolens.report.schema import validate_report
from tests.report.browser import dump_dom
from tests.report.test_report_dicom import dciodvfy_errors


@pytest.mark.slow
def test_demo_prints_table_and_report_path(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(tmp_path / "demo")])
    assert exit_info.value.code in (0, None)
    output = capsys.readouterr().out
    html_path = Path(output.strip().splitlines()[-1])
    assert html_path == tmp_path / "demo" / "report.html" and html_path.is_file()
    for quantity in ("LVEF", "stress TPD", "SDS", "Agatston"):
        assert quantity in output
    data = json.loads((tmp_path / "demo" / "report.json").read_text())
    validate_report(data)
    assert data["study"]["analyses"][:2] == ["nuclear", "calcium"]
    truth = json.loads(
        (tmp_path / "demo" / "simulation" / "spect" / "ground_truth.json").read_text()
    )
    # The table quotes the phantom's truth; accuracy itself is tested by the stages.
    assert f"{truth['lvef_pct']:.1f}" in output
    assert f"{truth['territory_extent_pct']['stress']['total']:.1f}" in output
    for key in ("summed_score", "tpd_pct", "function"):
        assert data["nuclear"]["stress"][key] is not None
    assert data["nuclear"]["sds"] is not None and data["calcium"]["agatston"] > 0
    assert verify(tmp_path / "demo" / "audit.sqlite").ok
    written = sorted((tmp_path / "demo").glob("*.dcm"))
    kinds = {hd.seg.segread(p).SegmentSequence[0].SegmentLabel for p in written if "seg" in p.name}
    assert {"LV myocardium (stress)", "LV myocardium (rest)", "calcified lesions"} == kinds
    assert (tmp_path / "demo" / "sr.dcm") in written
    if shutil.which("chromium"):
        dom = dump_dom(html_path, tmp_path / "profile")
        n_figures = len(list((tmp_path / "demo" / "figures").glob("*.png")))
        assert n_figures >= 8
        assert 'data-images-loaded="true"' in dom and f'data-image-count="{n_figures}"' in dom
    if shutil.which("dciodvfy"):
        for path in written:
            assert dciodvfy_errors(path) == [], path.name
