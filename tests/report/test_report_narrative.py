"""Narrative rules against hand-worked cases (ASNC and CAC-DRS language)."""

from __future__ import annotations

import pytest

from cardiolens.report.narrative import NarrativeThresholds, build_narrative, cac_drs
from tests.report.fakes import (
    calcium_json,
    perfusion_state,
    report_dict,
    rest_only_nuclear,
    reversible_lad_nuclear,
    risk_json,
)


def test_reversible_lad_defect_reads_as_abnormal_with_severe_ischemia():
    narrative = build_narrative(report_dict(nuclear=reversible_lad_nuclear()))
    text = " ".join(narrative.findings)
    # SSS 10 -> moderately abnormal; TPD 14% -> medium-sized; worst score 2 -> moderately reduced.
    assert "SSS 10 (14.7% of myocardium, moderately abnormal)" in text
    assert "medium-sized defect of moderately reduced uptake in the LAD territory" in text
    assert "SDS 10 (14.7% of myocardium ischemic), ischemic TPD 13.0%" in text
    assert "reversible, consistent with severe (>= 10% of myocardium) ischemia" in text
    assert "LVEF 52% (normal LV systolic function)" in text
    assert "TID ratio 1.05: normal" in text
    assert narrative.impression[0].startswith("Abnormal myocardial perfusion study: reversible")
    assert any("Dorbala" in r for r in narrative.references)


def test_normal_probably_normal_and_fixed():
    normal = {
        "stress": perfusion_state({}, tpd_pct=1.0),
        "rest": perfusion_state({}, tpd_pct=0.5),
        "sds": 0,
        "ischemic_tpd_pct": 0.5,
        "tid": 1.0,
    }
    assert (
        build_narrative(report_dict(nuclear=normal)).impression[0]
        == "Normal myocardial perfusion study."
    )
    borderline = dict(normal, stress=perfusion_state({4: 1, 10: 1}, tpd_pct=3.5))
    assert (
        build_narrative(report_dict(nuclear=borderline)).impression[0].startswith("Probably normal")
    )
    scar = perfusion_state({4: 3, 10: 3, 15: 2}, tpd_pct=12.0)
    fixed = {"stress": scar, "rest": scar, "sds": 0, "ischemic_tpd_pct": 0.0, "tid": 1.3}
    narrative = build_narrative(report_dict(nuclear=fixed))
    assert "fixed" in narrative.impression[0] and "RCA territory" in " ".join(narrative.findings)
    assert any("Transient ischemic dilation (TID 1.30)" in i for i in narrative.impression)


def test_rest_only_study_says_stress_is_absent():
    narrative = build_narrative(report_dict(nuclear=rest_only_nuclear()))
    assert any("Stress images are absent" in f for f in narrative.findings)
    assert narrative.impression[0] == "Normal rest-only myocardial perfusion study."


@pytest.mark.parametrize(
    ("agatston", "vessels", "label"),
    [
        (0, 0, "A0"),
        (0.5, 1, "A1/N1"),
        (99.9, 1, "A1/N1"),
        (100, 2, "A2/N2"),
        (299, 3, "A2/N3"),
        (300, 4, "A3/N4"),
    ],
)
def test_cac_drs_bands(agatston, vessels, label):
    assert cac_drs(agatston, vessels) == label


def test_calcium_and_risk_language():
    narrative = build_narrative(
        report_dict(calcium=calcium_json(), risk=risk_json(needs_review=True))
    )
    text = " ".join(narrative.findings + narrative.impression)
    assert "Agatston 180.0" in text and "LAD 150.0, RCA 30.0" in text
    assert "CAC-DRS A2/N2: moderately increased risk (2 vessels with calcium)" in text
    assert "Model-estimated probability 32% (90% interval 21-45%)" in text
    assert "physician review required" in text


def test_thresholds_are_configurable():
    nuclear = reversible_lad_nuclear()
    strict = NarrativeThresholds(lvef_normal_pct=55.0)
    narrative = build_narrative(report_dict(nuclear=nuclear), strict)
    assert any("LVEF 52% (mildly reduced" in f for f in narrative.findings)
