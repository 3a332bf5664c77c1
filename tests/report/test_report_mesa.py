"""The calcium stage's MESA percentile (``calcium["mesa"]``) in the report: schema, HTML,
narrative and terminal, and after an amendment changes the Agatston score. cardiolens's
report does not compute it; these dicts stand in for the calcium stage's."""

from __future__ import annotations

import pytest

from cardiolens.cli import main
from cardiolens.core.errors import SchemaError
from cardiolens.report.changes import LesionExclusion, apply_changes, automated_values
from cardiolens.report.document import write_report
from cardiolens.report.html import render_html
from cardiolens.report.narrative import build_narrative, mesa_percentile_text, mesa_statement
from cardiolens.report.schema import validate_report
from tests.report.fakes import calcium_json, report_dict


def _mesa(percentile: float | None = 88.4) -> dict:
    return {
        "percentile": percentile,
        "age_years": 67,
        "sex": "female",
        "race_ethnicity": "white",
        "reference": "McClelland RL et al., Circulation 2006;113:30-37",
    }


def _report(percentile: float | None = 88.4) -> dict:
    calcium = calcium_json()  # LAD 150 + RCA 30 = Agatston 180
    calcium["mesa"] = _mesa(percentile)
    data = report_dict(calcium=calcium)
    data["narrative"] = build_narrative(data).to_json()
    return data


def test_schema_declares_the_mesa_percentile():
    validate_report(_report())
    validate_report(_report(None))  # not computable (age outside 45-84): not shown
    data = _report(120.0)
    with pytest.raises(SchemaError, match="calcium/mesa"):
        validate_report(data)


def test_html_and_narrative_quote_percentile_population_and_reference():
    data = _report()
    page = render_html(data, {})
    assert "<b>MESA percentile: 88</b> (age 67, female, white)" in page
    assert "McClelland RL et al., Circulation 2006;113:30-37" in page
    finding = " ".join(data["narrative"]["findings"])
    assert "MESA percentile 88 (age 67, female, white)." in finding
    absent = _report(None)
    assert "MESA" not in render_html(absent, {})
    assert "MESA" not in " ".join(absent["narrative"]["findings"])


@pytest.mark.parametrize(
    ("percentile", "text"), [(0.0, "0"), (0.4, "<1"), (50.5, "50"), (99.0, "99"), (99.7, ">99")]
)
def test_percentile_is_a_whole_number_never_a_100th(percentile, text):
    assert mesa_percentile_text(percentile) == text
    assert f"<b>MESA percentile: {text}</b>".replace("<1", "&lt;1").replace(
        ">99", "&gt;99"
    ) in render_html(_report(percentile), {})


def test_an_amended_score_does_not_borrow_the_percentile_of_the_automated_one():
    amended, records = apply_changes(_report(), [LesionExclusion(1)])  # Agatston 180 -> 30
    assert amended["calcium"]["mesa"]["for_agatston"] == 180.0
    assert amended["calcium"]["mesa"]["percentile"] == 88.4  # the stage's, unchanged
    note = (
        "computed for the automated Agatston score 180.0; not recomputed for the amended score 30.0"
    )
    assert note in " ".join(amended["narrative"]["findings"])
    assert note in render_html(amended, {})
    # with the change undone the percentile fits the score again: quoted plainly
    amended["physician"]["amendments"].append({"changes": records})
    original = automated_values(amended)
    assert original["calcium"]["agatston"] == 180.0
    assert mesa_statement(original["calcium"]) == "MESA percentile 88 (age 67, female, white)"


def test_terminal_prints_the_percentile_after_an_amendment(tmp_path, capsys):
    out = tmp_path / "report"
    write_report(out, _report(), {})
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "amend", str(out), "--user", "Dr C", "--exclude-lesion", "2"])
    assert exit_info.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "Agatston 150.0" in printed
    assert "MESA percentile 88 (age 67, female, white), computed for the automated" in printed
