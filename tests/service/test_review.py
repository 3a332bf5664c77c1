"""Review edits: summaries recomputed from their definitions, checked against hand sums."""

from __future__ import annotations

import pytest

from cardiolens.core.errors import ParameterError
from cardiolens.service.review import describe_edit, reviewed_summary, validate_edit

STRESS = [0, 0, 0, 0, 0, 0, 4, 4, 0, 0, 0, 0, 2, 0, 0, 0, 0]  # SSS 10
REST = [0] * 12 + [1] + [0] * 4  # SRS 1
LESIONS = [  # (artery, agatston, volume mm3)
    ("RCA", 231.28, 173.46),
    ("LAD", 266.56, 205.8),
    ("LCx", 41.16, 30.87),
    (None, 12.5, 10.0),
]


@pytest.fixture
def report():
    return {
        "nuclear": {
            "stress": {"segment_scores": list(STRESS), "summed_score": 10},
            "rest": {"segment_scores": list(REST), "summed_score": 1},
            "sds": 9,
        },
        "calcium": {
            "agatston": 551.5,
            "cac_drs": {"category": 3, "vessels": 3, "label": "CAC-DRS A3/N3"},
            "lesions": [{"artery": a, "agatston": s, "volume_mm3": v} for a, s, v in LESIONS],
        },
        "narrative": {"impression": ["Abnormal study."]},
    }


def test_without_edits_the_summary_is_the_report(report):
    original = reviewed_summary(report, [])["original"]
    assert (original["sss"], original["srs"], original["sds"]) == (10, 1, 9)
    assert original["agatston"] == pytest.approx(551.5)
    assert original["agatston_per_artery"] == pytest.approx(
        {"LM": 0.0, "LAD": 266.56, "LCx": 41.16, "RCA": 231.28}
    )
    assert original["cac_drs"]["label"] == "CAC-DRS A3/N3"


def test_segment_lesion_and_impression_edits(report):
    edits = [
        validate_edit(
            report, {"kind": "segment_score", "state": "stress", "segment": 7, "score": 1}
        ),
        validate_edit(report, {"kind": "lesion", "lesion": 0, "exclude": True}),
        validate_edit(report, {"kind": "lesion", "lesion": 3, "artery": "LAD"}),
        validate_edit(report, {"kind": "impression", "text": "  Ischemia in the LAD.  "}),
    ]
    summary = reviewed_summary(report, edits)
    current = summary["current"]
    assert (current["sss"], current["srs"], current["sds"]) == (7, 1, 6)  # 10 - 4 + 1
    # RCA lesion excluded, the unassigned one moved to the LAD: 266.56 + 12.5 + 41.16
    assert current["agatston"] == pytest.approx(320.22)
    assert current["agatston_per_artery"] == pytest.approx(
        {"LM": 0.0, "LAD": 279.06, "LCx": 41.16, "RCA": 0.0}
    )
    assert current["agatston_category"] == ">=300"
    assert current["cac_drs"]["vessels"] == 2 and current["cac_drs"]["category"] == 3
    assert current["impression"] == ["Ischemia in the LAD."]
    assert summary["original"]["sss"] == 10  # the automated values are kept
    assert report["nuclear"]["stress"]["segment_scores"] == STRESS


def test_amendment_text_names_the_change_and_the_new_summary(report):
    edit = validate_edit(
        report, {"kind": "segment_score", "state": "stress", "segment": 7, "score": 1}
    )
    text, override = describe_edit(report, [], edit)
    assert text == "Stress segment 7 (mid anterior) score 4 -> 1: SSS 10 -> 7, SDS 9 -> 6."
    assert override == "stress segment 7 score 4 -> 1"
    lesion = validate_edit(report, {"kind": "lesion", "lesion": 0, "exclude": True})
    text, override = describe_edit(report, [edit], lesion)
    assert text == (
        "Calcium lesion 1 (RCA) excluded: Agatston 551.5 -> 320.22 "
        "(by artery LM 0, LAD 266.56, LCx 41.16, RCA 0), CAC-DRS A3/N2."
    )
    assert override == "calcium lesion 1 (RCA) excluded"


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"kind": "segment_score", "state": "stress", "segment": 18, "score": 1}, "1-17"),
        ({"kind": "segment_score", "state": "stress", "segment": 3, "score": 5}, "0-4"),
        ({"kind": "lesion", "lesion": 9, "exclude": True}, "no calcium lesion"),
        ({"kind": "lesion", "lesion": 0, "artery": "PDA"}, "artery must be"),
        ({"kind": "lesion", "lesion": 0}, "either excludes"),
        ({"kind": "impression", "text": " "}, "empty"),
        ({"kind": "delete"}, "unknown edit kind"),
    ],
)
def test_invalid_edits_are_refused_with_the_reason(report, edit, message):
    with pytest.raises(ParameterError, match=message):
        validate_edit(report, edit)
