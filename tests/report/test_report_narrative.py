"""Narrative rules against hand-worked cases (ASNC and CAC-DRS language)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cardiolens.nuclear.scores import ScoreThresholds, score_from_uptake
from cardiolens.report.narrative import SCORE_WORDS, NarrativeThresholds, build_narrative, cac_drs
from tests.report.fakes import (
    UPTAKE_OF_SCORE,
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
    assert (
        "medium-sized defect, worst segment score 2 (moderately reduced uptake), in the LAD "
        "territory (mid anterior score 2, 70%; mid anteroseptal score 2, 70%; apical anterior "
        "score 2, 70%; apical septal score 2, 70%)" in text
    )
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


# ASNC imaging guidelines (Dorbala 2018): the uptake word of each segment score.
_ASNC = {
    0: "normal",
    1: "mildly reduced",
    2: "moderately reduced",
    3: "severely reduced",
    4: "absent uptake",
}


@pytest.mark.parametrize("score", range(5))
def test_uptake_words_follow_the_score_for_every_score(score):
    assert SCORE_WORDS[score].startswith(_ASNC[score].replace(" uptake", ""))
    # four anterior-wall segments at this score, each at the fakes' uptake of that score
    state = perfusion_state({1: score, 7: score, 13: score, 2: score}, tpd_pct=4.0 * score)
    rest = perfusion_state({}, tpd_pct=0.0)
    text = " ".join(
        build_narrative(
            report_dict(
                nuclear={
                    "stress": state,
                    "rest": rest,
                    "sds": 4 * score,
                    "ischemic_tpd_pct": 4.0 * score,
                    "tid": 1.0,
                }
            )
        ).findings
    )
    [stress] = [f for f in text.split(". ") if f.startswith("Stress perfusion")]
    if score == 0:
        assert stress.startswith("Stress perfusion is normal")
    else:
        assert SCORE_WORDS[score] in stress
    others = [w for s, w in SCORE_WORDS.items() if s not in (0, score)]
    assert not any(word in stress for word in others), stress
    if score >= 2:  # each defect segment quoted with its score and uptake
        assert f"apical anterior score {score}, {UPTAKE_OF_SCORE[score]:.0f}%" in stress


def test_uptake_words_never_contradict_the_quoted_uptake_or_the_normal_limits():
    """Property over uptake and normal limits: score by the nuclear rule, word by the
    narrative; the word must fit the uptake the sentence quotes (nuclear.scores)."""
    rng = np.random.default_rng(14)
    limits = ScoreThresholds()
    seen = set()
    for uptake, mean, sd in zip(
        rng.uniform(0, 100, 300), rng.uniform(50, 95, 300), rng.uniform(5, 20, 300), strict=True
    ):
        score = int(score_from_uptake(np.array([uptake]), np.array([mean]), np.array([sd]))[0])
        state = perfusion_state({10: score}, tpd_pct=5.0 if score else 0.0)
        state["segments"][9] = round(float(uptake), 1)
        nuclear = {"stress": state, "rest": None, "sds": None, "ischemic_tpd_pct": None}
        text = " ".join(build_narrative(report_dict(nuclear=nuclear)).findings)
        [stress] = [f for f in text.split(". ") if f.startswith("Stress perfusion")]
        quoted = re.search(r"mid inferior score (\d), (\d+)%", stress)
        below_limit = (mean - uptake) / sd >= limits.segment_sd_cutoffs[0]
        assert below_limit == (score > 0)
        seen.add(score)
        if score < 2:  # not named as a defect: no word of a worse score may appear
            assert quoted is None, stress
            assert not any(SCORE_WORDS[s] in stress for s in (2, 3, 4)), stress
            continue
        assert int(quoted[1]) == score, stress
        shown = float(quoted[2])
        # "absent uptake" only near background; below it never a milder word
        assert (SCORE_WORDS[4] in stress) == (score == 4), stress
        if SCORE_WORDS[4] in stress:
            assert shown <= limits.absent_uptake_max_pct, stress
        if shown >= limits.absent_uptake_max_pct + 0.5:
            assert SCORE_WORDS[4] not in stress, stress
    assert seen == {0, 1, 2, 3, 4}


def test_phase_sd_and_bandwidth_against_the_normals_of_the_patients_sex():
    nuclear = reversible_lad_nuclear()
    nuclear["stress"]["function"].update(phase_sd_deg=20.0, phase_bandwidth_deg=45.0)
    data = report_dict(nuclear=nuclear)
    # Chen 2005: women SD 11.8 + 2 x 5.2 = 22.2, bandwidth 30.6 + 2 x 9.6 = 49.8 (-> 50)
    data["study"]["patient"] = {"values": {"sex": "female"}, "sources": {"sex": "DICOM"}}
    text = " ".join(build_narrative(data).findings)
    assert "Phase analysis (stress): SD 20.0 deg, bandwidth 45 deg: normal" in text
    assert "SD <= 22.2, bandwidth <= 50 deg" in text
    nuclear["stress"]["function"]["phase_bandwidth_deg"] = 55.0
    text = " ".join(build_narrative(data).findings)
    assert "bandwidth 55 deg: above the normal range (LV mechanical dyssynchrony)" in text
    # men: 14.2 + 10.2 = 24.4 and 38.7 + 23.6 = 62.3: the same values are normal
    data["study"]["patient"]["values"]["sex"] = "male"
    text = " ".join(build_narrative(data).findings)
    assert "bandwidth 55 deg: normal (normal for male patients" in text
    del data["study"]["patient"]
    text = " ".join(build_narrative(data).findings)
    assert "male: SD <= 24.4, bandwidth <= 62; female: SD <= 22.2, bandwidth <= 50" in text


def test_mesa_percentile_of_the_calcium_stage_is_quoted():
    calcium = calcium_json()
    calcium["mesa"] = {
        "percentile": 88.4,
        "age_years": 67,
        "sex": "female",
        "race_ethnicity": "white",
        "reference": "McClelland 2006",
    }
    text = " ".join(build_narrative(report_dict(calcium=calcium)).findings)
    assert "MESA percentile 88 (age 67, female, white)." in text
    assert "MESA" not in " ".join(build_narrative(report_dict(calcium=calcium_json())).findings)
