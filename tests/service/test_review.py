"""Review edits as typed report changes; the page's view reads the recomputed report back."""

from __future__ import annotations

import pytest

from cardiolens.core.errors import ParameterError
from cardiolens.report.changes import (
    Impression,
    LesionArtery,
    LesionExclusion,
    SegmentScore,
    apply_changes,
)
from cardiolens.service.review import parse_change, review_state
from tests.report.fakes import calcium_json, report_dict, reversible_lad_nuclear


def _amended(changes):
    """A report (SSS 10 / SRS 0, calcium LAD 150 + RCA 30) with ``changes`` made and
    recorded as one amendment, as :func:`cardiolens.report.amendments.amend_folder` does."""
    data = report_dict(nuclear=reversible_lad_nuclear(), calcium=calcium_json())
    amended, records = apply_changes(data, changes)
    amended["physician"]["amendments"].append({"user": "dr", "changes": records})
    return amended


def test_edits_become_typed_changes():
    assert parse_change(
        {"kind": "segment_score", "state": "stress", "segment": 7, "score": 4}
    ) == SegmentScore("stress", 7, 4)
    assert parse_change({"kind": "lesion_exclusion", "lesion": 2}) == LesionExclusion(2)
    assert parse_change({"kind": "lesion_artery", "lesion": 2, "artery": "LCx"}) == (
        LesionArtery(2, "LCx")
    )
    assert parse_change({"kind": "impression", "text": "Artefact."}) == Impression("Artefact.")


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"kind": "segment_score", "state": "stress", "segment": 18, "score": 1}, "1-17"),
        ({"kind": "segment_score", "state": "stress", "segment": 3, "score": 5}, "0-4"),
        ({"kind": "segment_score", "state": "stress", "segment": 3}, "needs score"),
        ({"kind": "lesion_artery", "lesion": 1, "artery": "PDA"}, "artery must be"),
        ({"kind": "lesion_exclusion"}, "needs lesion"),
        ({"kind": "impression", "text": " "}, "needs text"),
        ({"kind": "delete"}, "unknown change kind"),
    ],
)
def test_invalid_edits_are_refused_with_the_reason(edit, message):
    with pytest.raises(ParameterError, match=message):
        parse_change(edit)


def test_review_state_reads_the_recomputed_report_next_to_the_automated_values():
    state = review_state(
        _amended([SegmentScore("stress", 7, 4), LesionExclusion(1), Impression("LAD ischaemia.")])
    )
    current, original = state["current"], state["original"]
    # segment 7 from 2 to 4: SSS 10 -> 12, SRS 0, SDS 12 (recomputed by apply_changes)
    assert (current["sss"], current["srs"], current["sds"]) == (12, 0, 12)
    assert (original["sss"], original["srs"], original["sds"]) == (10, 0, 10)
    assert current["segment_scores"]["stress"][6] == 4
    assert original["segment_scores"]["stress"][6] == 2
    # LAD lesion (150) excluded: 30 left, category 1-99, CAC-DRS A1/N1
    assert current["agatston"] == 30.0 and original["agatston"] == 180.0
    assert current["agatston_per_artery"]["LAD"] == 0.0
    assert original["agatston_per_artery"]["LAD"] == 150.0
    assert current["cac_drs"]["label"] == "CAC-DRS A1/N1"
    assert original["cac_drs"]["label"] == "CAC-DRS A2/N2"
    assert [x["excluded"] for x in current["lesions"]] == [True, False]
    assert [x["number"] for x in current["lesions"]] == [1, 2]
    assert current["impression"] == ["LAD ischaemia."]
    assert state["physician"].get("signoff") is None
