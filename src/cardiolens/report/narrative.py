"""Deterministic, rule-based findings and impression built only from the report's numbers.

The wording and thresholds follow the published reporting standards:

* Perfusion and function: Dorbala S et al., "Single photon emission computed
  tomography (SPECT) myocardial perfusion imaging guidelines: instrumentation,
  acquisition, processing, and interpretation", J Nucl Cardiol 2018;25:1784-1846
  (ASNC imaging guidelines for SPECT), and Tilkemeier PL et al., "ASNC imaging
  guidelines for nuclear cardiology procedures: Standardized reporting of nuclear
  cardiology procedures", J Nucl Cardiol 2017;24:2064-2128. Summed-score bands
  (SSS < 4 normal, 4-8 mildly, 9-13 moderately, > 13 severely abnormal) and the
  ischemia bands of the SDS (2-4 mild, 5-6 moderate, >= 7 severe, i.e. >= 10 % of
  the myocardium) are those of Hachamovitch R et al., Circulation 1998;97:535-543
  and Circulation 2003;107:2900-2907. Defect extent as % of the LV myocardium: small
  < 10 %, medium 10-19 %, large >= 20 % (ASNC reporting guideline).
* TPD: Slomka PJ et al., "Automated quantification of myocardial perfusion SPECT
  using simplified normal limits", J Nucl Cardiol 2005;12:66-77 (abnormal >= 3 %).
* Phase SD and bandwidth: normal mean + 2 SD by sex from Chen J et al., J Nucl Cardiol
  2005;12:687-695 (:data:`PHASE_NORMALS`).
* TID: Abidov A et al., JACC 2003;42:1818-1825 (abnormal above about 1.2; the
  cut-off depends on the protocol and is configurable).
* Coronary calcium: Hecht HS et al., "CAC-DRS: Coronary Artery Calcium Data and
  Reporting System. An expert consensus document of the Society of Cardiovascular
  Computed Tomography (SCCT)", J Cardiovasc Comput Tomogr 2018;12:185-191.

Segment scores are worded as the ASNC guidelines define them (0 normal, 1 mildly
reduced, 2 moderately reduced, 3 severely reduced, 4 absent uptake; :data:`SCORE_WORDS`),
always next to the score and the segment's uptake (% of maximum) they describe.
Only warning and error quality flags count as raised; info flags are notes.

Every sentence quotes the number it rests on, so a reader can check it against the
report's measurement tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from cardiolens.core.aha import SEGMENT_NAMES, SEGMENT_TERRITORY, Territory

__all__ = [
    "PHASE_NORMALS",
    "REFERENCES",
    "SCORE_WORDS",
    "Narrative",
    "NarrativeThresholds",
    "build_narrative",
    "cac_drs",
    "mesa_percentile_text",
    "mesa_population",
    "mesa_statement",
]

REFERENCES: tuple[str, ...] = (
    "Dorbala S et al. ASNC imaging guidelines for SPECT nuclear cardiology procedures. "
    "J Nucl Cardiol 2018;25:1784-1846.",
    "Tilkemeier PL et al. ASNC imaging guidelines: standardized reporting of nuclear "
    "cardiology procedures. J Nucl Cardiol 2017;24:2064-2128.",
    "Slomka PJ et al. Automated quantification of myocardial perfusion SPECT using "
    "simplified normal limits. J Nucl Cardiol 2005;12:66-77.",
    "Chen J et al. Onset of left ventricular mechanical contraction as determined by phase "
    "analysis of ECG-gated myocardial perfusion SPECT imaging. J Nucl Cardiol 2005;12:687-695.",
    "Hecht HS et al. CAC-DRS: Coronary Artery Calcium Data and Reporting System. "
    "J Cardiovasc Comput Tomogr 2018;12:185-191.",
)

_MAX_SUMMED_SCORE = 68  # 17 segments x score 4
#: Uptake words of the segment scores (ASNC imaging guidelines, Dorbala 2018; Cerqueira 2002).
SCORE_WORDS = {
    0: "normal uptake",
    1: "mildly reduced uptake",
    2: "moderately reduced uptake",
    3: "severely reduced uptake",
    4: "absent uptake",
}
_CAC_DRS_RISK = {
    0: "very low risk",
    1: "mildly increased risk",
    2: "moderately increased risk",
    3: "moderately to severely increased risk",
}
# Hecht et al. 2018, table 2: treatment recommendations by CAC-DRS category.
_CAC_DRS_RECOMMENDATION = {
    0: "statin therapy generally not recommended",
    1: "moderate-intensity statin",
    2: "moderate- to high-intensity statin and aspirin 81 mg",
    3: "high-intensity statin and aspirin 81 mg",
}


@dataclass(frozen=True)
class NarrativeThresholds:
    """Cut-offs used by the narrative (defaults from the guidelines in the module docstring).

    Attributes
    ----------
    sss_abnormal
        Summed score from which perfusion is abnormal (Hachamovitch 1998: >= 4).
    sss_moderate, sss_severe
        Lower bounds of the moderately (9) and severely (14) abnormal bands.
    tpd_abnormal_pct
        TPD from which perfusion is abnormal (Slomka 2005: 3 %).
    tpd_borderline_pct
        Upper end of the borderline TPD band used for "probably" (5 %).
    sds_ischemia
        SDS from which ischemia is reported (2).
    sds_moderate, sds_severe
        Lower bounds of moderate (5) and severe (7, about 10 % myocardium) ischemia.
    extent_medium_pct, extent_large_pct
        Defect size bands as % of LV myocardium (10 %, 20 %).
    lvef_normal_pct, lvef_mild_pct, lvef_moderate_pct
        LVEF lower limits of normal (50 %), mildly (40 %) and moderately (30 %) reduced.
    tid_abnormal
        TID ratio above which dilation is reported (1.2).
    segment_abnormal_score
        Segment score from which a segment counts as part of a defect (2).
    """

    sss_abnormal: int = 4
    sss_moderate: int = 9
    sss_severe: int = 14
    tpd_abnormal_pct: float = 3.0
    tpd_borderline_pct: float = 5.0
    sds_ischemia: int = 2
    sds_moderate: int = 5
    sds_severe: int = 7
    extent_medium_pct: float = 10.0
    extent_large_pct: float = 20.0
    lvef_normal_pct: float = 50.0
    lvef_mild_pct: float = 40.0
    lvef_moderate_pct: float = 30.0
    tid_abnormal: float = 1.2
    segment_abnormal_score: int = 2


@dataclass(frozen=True)
class Narrative:
    """Findings and impression sentences and the documents they follow."""

    findings: tuple[str, ...]
    impression: tuple[str, ...]
    references: tuple[str, ...] = REFERENCES

    def to_json(self) -> dict[str, list[str]]:
        """JSON-ready dict for the report's ``narrative`` section."""
        return {key: list(value) for key, value in asdict(self).items()}


def cac_drs(agatston: float, n_vessels: int | None) -> str:
    """CAC-DRS label (Hecht et al. 2018): ``A<0-3>`` from the Agatston score, ``/N<n>`` vessels.

    A0: 0, A1: 1-99, A2: 100-299, A3: >= 300. The vessel modifier is omitted when
    the score is 0 or the vessel count is unknown.
    """
    category = _cac_category(agatston)
    if category == 0 or n_vessels is None:
        return f"A{category}"
    return f"A{category}/N{n_vessels}"


def _cac_category(agatston: float) -> int:
    if agatston <= 0:
        return 0
    if agatston < 100:
        return 1
    return 2 if agatston < 300 else 3


def _fmt(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}"


def _summed_band(score: int, t: NarrativeThresholds) -> str:
    if score < t.sss_abnormal:
        return "normal"
    if score < t.sss_moderate:
        return "mildly abnormal"
    return "moderately abnormal" if score < t.sss_severe else "severely abnormal"


def _extent_word(extent_pct: float, t: NarrativeThresholds) -> str:
    if extent_pct < t.extent_medium_pct:
        return "small"
    return "medium-sized" if extent_pct < t.extent_large_pct else "large"


def _defect_location(
    scores: Sequence[int], uptake_pct: Sequence[float], t: NarrativeThresholds
) -> tuple[str, int]:
    """Text naming the abnormal segments by territory, each with its score and uptake
    (% of maximum), and the worst score."""
    abnormal = [s for s in range(1, 18) if scores[s - 1] >= t.segment_abnormal_score]
    if not abnormal:
        return "", 0
    parts = []
    for territory in Territory:
        names = [
            f"{SEGMENT_NAMES[s]} score {scores[s - 1]}, {_fmt(float(uptake_pct[s - 1]), 0)}%"
            for s in abnormal
            if SEGMENT_TERRITORY[s] == territory
        ]
        if names:
            parts.append(f"the {territory.value} territory ({'; '.join(names)})")
    return " and ".join(parts), max(scores[s - 1] for s in abnormal)


@dataclass(frozen=True)
class _StateReading:
    """Interpretation of one perfusion state (stress or rest)."""

    abnormal: bool
    borderline: bool
    sentence: str


def _read_state(name: str, state: Mapping[str, Any], t: NarrativeThresholds) -> _StateReading:
    score = int(state["summed_score"])
    tpd = float(state["tpd_pct"])
    score_name = "SSS" if name == "stress" else "SRS"
    sss_abnormal = score >= t.sss_abnormal
    tpd_abnormal = tpd >= t.tpd_abnormal_pct
    numbers = (
        f"{score_name} {score} ({_fmt(100.0 * score / _MAX_SUMMED_SCORE)}% of myocardium, "
        f"{_summed_band(score, t)}), {name} TPD {_fmt(tpd)}%"
    )
    location, worst = _defect_location(state["segment_scores"], state["segments"], t)
    if not (sss_abnormal or tpd_abnormal):
        return _StateReading(False, False, f"{name.capitalize()} perfusion is normal: {numbers}.")
    borderline = (sss_abnormal != tpd_abnormal) and (
        score <= t.sss_abnormal or tpd < t.tpd_borderline_pct
    )
    if location:
        defect = (
            f"a {_extent_word(tpd, t)} defect, worst segment score {worst} "
            f"({SCORE_WORDS[worst]}), in {location}"
        )
    else:
        defect = f"{SCORE_WORDS[1]} (score 1) without a segment scored 2 or more"
    return _StateReading(True, borderline, f"{name.capitalize()} perfusion: {numbers}; {defect}.")


def _reversibility(nuclear: Mapping[str, Any], t: NarrativeThresholds) -> tuple[str, str]:
    """(finding, impression) on reversibility from SDS and ischemic TPD."""
    sds = nuclear.get("sds")
    if sds is None:
        return "", ""
    ischemic_tpd = nuclear.get("ischemic_tpd_pct")
    rest_score = int(nuclear["rest"]["summed_score"])
    stress_score = int(nuclear["stress"]["summed_score"])
    numbers = f"SDS {sds} ({_fmt(100.0 * sds / _MAX_SUMMED_SCORE)}% of myocardium ischemic)"
    if ischemic_tpd is not None:
        numbers += f", ischemic TPD {_fmt(ischemic_tpd)}%"
    if sds < t.sds_ischemia:
        if stress_score >= t.sss_abnormal:
            return (
                f"Reversibility: {numbers}; the stress defect is fixed "
                "(scar or attenuation artefact; no ischemia).",
                "fixed defect without ischemia",
            )
        return f"Reversibility: {numbers}; no ischemia.", ""
    burden = (
        "mild"
        if sds < t.sds_moderate
        else ("moderate" if sds < t.sds_severe else "severe (>= 10% of myocardium)")
    )
    kind = "reversible" if rest_score < t.sss_abnormal else "partially reversible"
    return (
        f"Reversibility: {numbers}; the defect is {kind}, consistent with {burden} ischemia.",
        f"{kind} defect consistent with {burden} ischemia",
    )


def _function_sentences(
    nuclear: Mapping[str, Any], t: NarrativeThresholds
) -> list[tuple[str, str]]:
    """(finding, impression or "" when normal) for each gated LVEF and the TID ratio."""
    sentences = []
    for name in ("stress", "rest"):
        state = nuclear.get(name)
        function = state.get("function") if state else None
        if not function or function.get("lvef_pct") is None:
            continue
        lvef = float(function["lvef_pct"])
        if lvef >= t.lvef_normal_pct:
            band = "normal"
        elif lvef >= t.lvef_mild_pct:
            band = "mildly reduced"
        elif lvef >= t.lvef_moderate_pct:
            band = "moderately reduced"
        else:
            band = "severely reduced"
        volumes = ""
        if function.get("edv_ml") is not None and function.get("esv_ml") is not None:
            volumes = (
                f", EDV {_fmt(function['edv_ml'], 0)} mL, ESV {_fmt(function['esv_ml'], 0)} mL"
            )
        finding = (
            f"Gated {name} function: LVEF {_fmt(lvef, 0)}% ({band} LV systolic function){volumes}."
        )
        impression = (
            ""
            if band == "normal"
            else f"{band.capitalize()} LV systolic function ({name} LVEF {_fmt(lvef, 0)}%)."
        )
        sentences.append((finding, impression))
    tid = nuclear.get("tid")
    if tid is not None:
        dilated = tid > t.tid_abnormal
        state = "abnormal (transient ischemic dilation)" if dilated else "normal"
        sentences.append(
            (
                f"TID ratio {tid:.2f}: {state} (cut-off {t.tid_abnormal:.2f}).",
                f"Transient ischemic dilation (TID {tid:.2f}): a marker of severe and extensive "
                "CAD."
                if dilated
                else "",
            )
        )
    return sentences


#: Normal phase SD and bandwidth (deg, mean and SD) by sex: Chen J et al., "Onset of left
#: ventricular mechanical contraction as determined by phase analysis of ECG-gated
#: myocardial perfusion SPECT imaging", J Nucl Cardiol 2005;12:687-695.
PHASE_NORMALS = {
    "male": {"sd_deg": (14.2, 5.1), "bandwidth_deg": (38.7, 11.8)},
    "female": {"sd_deg": (11.8, 5.2), "bandwidth_deg": (30.6, 9.6)},
}


def _phase_sentences(nuclear: Mapping[str, Any], sex: str | None) -> list[str]:
    """Phase SD and bandwidth of each gated state against the normal mean + 2 SD of the
    patient's sex (Chen 2005); both sexes' limits quoted when the sex is unknown."""
    sentences = []
    for name in ("stress", "rest"):
        function = (nuclear.get(name) or {}).get("function") or {}
        sd, bandwidth = function.get("phase_sd_deg"), function.get("phase_bandwidth_deg")
        if sd is None or bandwidth is None:
            continue
        numbers = f"Phase analysis ({name}): SD {_fmt(sd)} deg, bandwidth {_fmt(bandwidth, 0)} deg"
        normals = PHASE_NORMALS.get(str(sex or "").lower())
        if normals is None:
            limits = "; ".join(
                f"{who}: SD <= {_fmt(v['sd_deg'][0] + 2 * v['sd_deg'][1])}, bandwidth <= "
                f"{_fmt(v['bandwidth_deg'][0] + 2 * v['bandwidth_deg'][1], 0)}"
                for who, v in PHASE_NORMALS.items()
            )
            sentences.append(f"{numbers} (normal, mean + 2 SD, Chen 2005: {limits}).")
            continue
        sd_limit = normals["sd_deg"][0] + 2 * normals["sd_deg"][1]
        bw_limit = normals["bandwidth_deg"][0] + 2 * normals["bandwidth_deg"][1]
        above = sd > sd_limit or bandwidth > bw_limit
        verdict = "above the normal range (LV mechanical dyssynchrony)" if above else "normal"
        sentences.append(
            f"{numbers}: {verdict} (normal for {str(sex).lower()} patients, mean + 2 SD, Chen "
            f"2005: SD <= {_fmt(sd_limit)}, bandwidth <= {_fmt(bw_limit, 0)} deg)."
        )
    return sentences


def _nuclear_narrative(
    nuclear: Mapping[str, Any], t: NarrativeThresholds, stress_failed: bool = False
) -> tuple[list[str], list[str]]:
    findings: list[str] = []
    stress, rest = nuclear.get("stress"), nuclear.get("rest")
    readings = {
        name: _read_state(name, state, t)
        for name, state in (("stress", stress), ("rest", rest))
        if state is not None
    }
    findings += [reading.sentence for reading in readings.values()]
    if stress is None:
        cause = "could not be analysed" if stress_failed else "are absent"
        findings.append(
            f"Stress images {cause}: ischemia (reversibility), SDS and TID cannot be "
            "assessed; findings are from the rest study only."
        )
    if rest is None and stress is not None:
        findings.append(
            "Rest images are absent: a stress defect cannot be called fixed or reversible."
        )
    reversibility, reversibility_impression = (
        _reversibility(nuclear, t) if stress and rest else ("", "")
    )
    if reversibility:
        findings.append(reversibility)
    function = _function_sentences(nuclear, t)
    findings += [sentence for sentence, _ in function]

    primary = readings.get("stress") or readings.get("rest")
    study = "myocardial perfusion study" if stress else "rest-only myocardial perfusion study"
    if not primary.abnormal:
        impression = f"Normal {study}."
    elif primary.borderline:
        impression = f"Probably normal {study} (summed score and TPD disagree; borderline)."
    else:
        impression = f"Abnormal {study}"
        impression += f": {reversibility_impression}." if reversibility_impression else "."
    return findings, [impression] + [summary for _, summary in function if summary]


def mesa_population(mesa: Mapping[str, Any]) -> str:
    """The reference group of a MESA percentile: ``"age 67, female, white"``."""
    parts = [f"age {mesa['age_years']}"] if mesa.get("age_years") is not None else []
    parts += [str(mesa[k]) for k in ("sex", "race_ethnicity") if mesa.get(k) is not None]
    return ", ".join(parts)


def mesa_percentile_text(percentile: float) -> str:
    """A MESA percentile as a whole number; ``<1`` and ``>99`` at the ends, where rounding
    would print a 0th or 100th percentile that a score above zero cannot have."""
    if 0 < percentile < 1:
        return "<1"
    if percentile > 99:
        return ">99"
    return f"{percentile:.0f}"


def mesa_statement(calcium: Mapping[str, Any]) -> str | None:
    """``"MESA percentile 88 (age 67, female, white)"`` from the calcium stage's
    ``calcium["mesa"]`` (McClelland RL et al., Circulation 2006;113:30-37; cardiolens
    does not compute it here), or None when there is none.

    After an amendment changed the Agatston score the percentile is the calcium stage's,
    for the score it was computed for (``for_agatston``): the text says so rather than
    quote it as the amended score's.
    """
    mesa = calcium.get("mesa") or {}
    if mesa.get("percentile") is None:
        return None
    who = mesa_population(mesa)
    text = f"MESA percentile {mesa_percentile_text(float(mesa['percentile']))}" + (
        f" ({who})" if who else ""
    )
    computed_for = mesa.get("for_agatston")
    agatston = float(calcium["agatston"])
    if computed_for is not None and round(float(computed_for), 1) != round(agatston, 1):
        text += (
            f", computed for the automated Agatston score {_fmt(float(computed_for))}; "
            f"not recomputed for the amended score {_fmt(agatston)}"
        )
    return text


def _calcium_narrative(calcium: Mapping[str, Any], phantom: bool) -> tuple[list[str], list[str]]:
    agatston = float(calcium["agatston"])
    volume = float(calcium["volume_mm3"])
    mass = calcium.get("mass_mg")
    scores = f"Agatston {_fmt(agatston)}, volume {_fmt(volume)} mm3" + (
        f", mass {_fmt(float(mass))} mg" if mass is not None else ""
    )
    if phantom:
        n_lesions = len(calcium["lesions"])
        return (
            [f"Calcium phantom (scanner QA mode): {n_lesions} calcified inserts scored; {scores}."],
            [f"Calcium phantom QA: total {scores}."],
        )
    per_artery = {
        name: values
        for name, values in (calcium.get("per_artery") or {}).items()
        if float(values["agatston"]) > 0
    }
    n_vessels = len(per_artery)
    label = cac_drs(agatston, n_vessels)
    category = _cac_category(agatston)
    finding = f"Coronary artery calcium: {scores}"
    if per_artery:
        finding += "; by artery " + ", ".join(
            f"{name} {_fmt(float(v['agatston']))}" for name, v in per_artery.items()
        )
    mesa = mesa_statement(calcium)
    if mesa:
        finding += f"; {mesa}"
    finding += "."
    eat = calcium.get("eat")
    findings = [finding]
    if eat:
        mean = "" if eat["mean_hu"] is None else f", mean {_fmt(float(eat['mean_hu']))} HU"
        findings.append(f"Epicardial adipose tissue: {_fmt(float(eat['volume_ml']))} mL{mean}.")
    impression = (
        f"CAC-DRS {label}: {_CAC_DRS_RISK[category]}"
        + (f" ({n_vessels} vessel{'s' if n_vessels != 1 else ''} with calcium)" if category else "")
        + f"; CAC-DRS recommendation: {_CAC_DRS_RECOMMENDATION[category]}."
    )
    return findings, [impression]


def _risk_narrative(risk: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    probability = float(risk["probability"])
    interval = risk["interval"]
    confidence = interval.get("confidence")
    level = f"{confidence * 100:.0f}% " if confidence else ""
    contributors = ", ".join(
        f"{c['feature']} ({'+' if c['contribution'] >= 0 else '-'}{abs(c['contribution']):.3f})"
        for c in risk["top_contributors"][:3]
    )
    finding = (
        f"Model-estimated probability {probability * 100:.0f}% "
        f"({level}interval {interval['lower'] * 100:.0f}-{interval['upper'] * 100:.0f}%), "
        f"model {risk['model_id']}"
        + (f"; largest contributions: {contributors}" if contributors else "")
        + "."
    )
    impressions = []
    if risk["needs_review"]:
        impressions.append(
            "The risk model cannot decide at the requested confidence: physician review required."
        )
    return [finding], impressions


def build_narrative(
    report: Mapping[str, Any], thresholds: NarrativeThresholds | None = None
) -> Narrative:
    """Findings and impression from the ``nuclear``, ``calcium``, ``risk`` and flag sections.

    Parameters
    ----------
    report
        The report dict (see :func:`cardiolens.report.schema.load_schema`); only its
        numbers are used.
    thresholds
        Cut-offs; the defaults are the guideline values of the module docstring.
    """
    t = thresholds or NarrativeThresholds()
    findings: list[str] = []
    impression: list[str] = []
    if report.get("nuclear"):
        stress_failed = any(
            flag.get("code") == "stress_failed" for flag in report.get("quality_flags") or []
        )
        more_findings, more_impression = _nuclear_narrative(report["nuclear"], t, stress_failed)
        sex = (((report.get("study") or {}).get("patient") or {}).get("values") or {}).get("sex")
        findings += more_findings + _phase_sentences(report["nuclear"], sex)
        impression += more_impression
    if report.get("pet_flow"):
        findings.append(report["pet_flow"]["summary"])
        low = (report["pet_flow"].get("mfr") or {}).get("territories_below_2") or []
        if low:
            impression.append(f"Reduced myocardial flow reserve (MFR < 2) in {', '.join(low)}.")
    if report.get("calcium"):
        phantom = bool(report.get("provenance", {}).get("parameters", {}).get("calcium_phantom"))
        more_findings, more_impression = _calcium_narrative(report["calcium"], phantom)
        findings += more_findings
        impression += more_impression
    if report.get("risk"):
        more_findings, more_impression = _risk_narrative(report["risk"])
        findings += more_findings
        impression += more_impression
    failed = report.get("failed") or []
    if failed:
        findings.append(
            f"{len(failed)} file(s) or series could not be analysed and are listed under "
            "'Not analysed'."
        )
    flags = report.get("quality_flags") or []
    raised = [f for f in flags if f.get("severity", "warning") != "info"]
    if raised:
        impression.append(f"{len(raised)} quality flag(s) raised: review before signing.")
    if not findings:
        findings.append("No analysable cardiac images were found in this study.")
    return Narrative(findings=tuple(findings), impression=tuple(impression))
