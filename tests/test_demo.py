"""``cardiolens demo``: simulate, analyse, print measured vs true and the report path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cardiolens.audit import verify
from cardiolens.cli import main
from cardiolens.report.schema import validate_report


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
    stress = data["nuclear"]["stress"]
    assert abs(stress["function"]["lvef_pct"] - truth["lvef_pct"]) <= 10
    assert stress["territory_tpd_pct"]["LAD"] == max(stress["territory_tpd_pct"].values())
    assert data["nuclear"]["sds"] >= 2
    assert verify(tmp_path / "demo" / "audit.sqlite").ok
    assert (tmp_path / "demo" / "sr.dcm").is_file()
