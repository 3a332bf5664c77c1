"""A physician's review edits and the summaries recomputed from them.

Edits (each kept with its user and time; the automated report is never changed):

* ``segment_score``: a stress or rest 17-segment score (0-4) changed;
* ``lesion``: a calcium lesion excluded (not coronary calcium) or reassigned to an artery;
* ``impression``: the impression text replaced.

:func:`reviewed_summary` applies the edits in order to the report's values and
recomputes SSS/SRS (sum of the 17 segment scores,
:func:`cardiolens.nuclear.scores.summed_score`), SDS = SSS - SRS (Berman DS et al., J
Nucl Cardiol 2004), total and per-artery Agatston as the sum of the included lesions'
scores (Agatston AS et al., JACC 1990: the total is the sum of the lesion scores),
the Agatston category and CAC-DRS (:mod:`cardiolens.ct.categories`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from cardiolens.core.aha import SEGMENT_NAMES
from cardiolens.core.errors import ParameterError
from cardiolens.ct.categories import agatston_category, cac_drs
from cardiolens.ct.lesions import Artery
from cardiolens.nuclear.scores import summed_score

__all__ = ["describe_edit", "reviewed_summary", "validate_edit"]

ARTERIES = tuple(a.value for a in Artery)


def _summary(data: Mapping[str, Any]) -> dict[str, Any]:
    """The reviewable values of a report, before any edit."""
    nuclear = data.get("nuclear") or {}
    calcium = data.get("calcium")
    return {
        "segment_scores": {
            state: list(nuclear[state]["segment_scores"])
            for state in ("stress", "rest")
            if nuclear.get(state)
        },
        "lesions": [
            {
                "index": index,
                "artery": lesion.get("artery"),
                "agatston": lesion["agatston"],
                "volume_mm3": lesion["volume_mm3"],
                "excluded": False,
            }
            for index, lesion in enumerate((calcium or {}).get("lesions", []))
        ],
        "has_calcium": calcium is not None,
        "count_vessels": bool(calcium and calcium["cac_drs"].get("vessels") is not None),
        "impression": list((data.get("narrative") or {}).get("impression", [])),
        "segment_names": [SEGMENT_NAMES[segment] for segment in range(1, 18)],
    }


def _scores(values: dict[str, Any]) -> dict[str, Any]:
    """SSS/SRS/SDS and the calcium totals of (edited) values."""
    segments = values["segment_scores"]
    sss = summed_score(segments["stress"]) if "stress" in segments else None
    srs = summed_score(segments["rest"]) if "rest" in segments else None
    result: dict[str, Any] = {
        "sss": sss,
        "srs": srs,
        "sds": None if sss is None or srs is None else sss - srs,
    }
    if values["has_calcium"]:
        included = [lesion for lesion in values["lesions"] if not lesion["excluded"]]
        per_artery = {
            artery: round(sum(x["agatston"] for x in included if x["artery"] == artery), 2)
            for artery in ARTERIES
        }
        total = round(sum(x["agatston"] for x in included), 2)
        vessels = sum(score > 0 for score in per_artery.values())
        result |= {
            "agatston": total,
            "agatston_per_artery": per_artery,
            "agatston_category": agatston_category(total),
            "cac_drs": cac_drs(total, vessels if values["count_vessels"] else None).to_json(),
        }
    return result


def validate_edit(data: Mapping[str, Any], edit: Mapping[str, Any]) -> dict[str, Any]:
    """The edit, checked against the report; :class:`ParameterError` naming the problem."""
    values = _summary(data)
    kind = edit.get("kind")
    if kind == "segment_score":
        state, segment, score = edit.get("state"), edit.get("segment"), edit.get("score")
        if state not in values["segment_scores"]:
            raise ParameterError(f"the report has no {state} segment scores")
        if not isinstance(segment, int) or not 1 <= segment <= 17:
            raise ParameterError(f"segment must be 1-17; got {segment!r}")
        if not isinstance(score, int) or not 0 <= score <= 4:
            raise ParameterError(f"a segment score is 0-4; got {score!r}")
        return {"kind": kind, "state": state, "segment": segment, "score": score}
    if kind == "lesion":
        index = edit.get("lesion")
        if not isinstance(index, int) or not 0 <= index < len(values["lesions"]):
            raise ParameterError(f"no calcium lesion {index!r} in the report")
        exclude, artery = edit.get("exclude"), edit.get("artery")
        if (exclude is None) == (artery is None):
            raise ParameterError("a lesion edit either excludes/includes or reassigns an artery")
        if artery is not None and artery not in ARTERIES:
            raise ParameterError(f"artery must be one of {', '.join(ARTERIES)}; got {artery!r}")
        return {"kind": kind, "lesion": index, "exclude": exclude, "artery": artery}
    if kind == "impression":
        text = edit.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ParameterError("the impression text is empty")
        return {"kind": kind, "text": text.strip()}
    raise ParameterError(f"unknown edit kind {kind!r} (segment_score, lesion or impression)")


def _apply(values: dict[str, Any], edit: Mapping[str, Any]) -> None:
    if edit["kind"] == "segment_score":
        values["segment_scores"][edit["state"]][edit["segment"] - 1] = edit["score"]
    elif edit["kind"] == "lesion":
        lesion = values["lesions"][edit["lesion"]]
        if edit["exclude"] is not None:
            lesion["excluded"] = bool(edit["exclude"])
        else:
            lesion["artery"] = edit["artery"]
    else:
        values["impression"] = [edit["text"]]


def reviewed_summary(data: Mapping[str, Any], edits: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"original": ..., "current": ...}``: the values and scores before and after the edits."""
    original = _summary(data)
    current = copy.deepcopy(original)
    for edit in edits:
        _apply(current, edit)
    return {
        "original": {**original, **_scores(original)},
        "current": {**current, **_scores(current)},
    }


def describe_edit(
    data: Mapping[str, Any], edits: Sequence[Mapping[str, Any]], edit: Mapping[str, Any]
) -> tuple[str, str]:
    """``(amendment text, override)`` for a new edit on top of ``edits``."""
    before = reviewed_summary(data, edits)["current"]
    after = reviewed_summary(data, [*edits, edit])["current"]
    if edit["kind"] == "segment_score":
        state, segment = edit["state"], edit["segment"]
        name = "SSS" if state == "stress" else "SRS"
        key = name.lower()
        old = before["segment_scores"][state][segment - 1]
        text = (
            f"{state.capitalize()} segment {segment} ({SEGMENT_NAMES[segment]}) score "
            f"{old} -> {edit['score']}: {name} {before[key]} -> {after[key]}"
        )
        if after["sds"] is not None:
            text += f", SDS {before['sds']} -> {after['sds']}"
        return text + ".", f"{state} segment {segment} score {old} -> {edit['score']}"
    if edit["kind"] == "lesion":
        lesion = before["lesions"][edit["lesion"]]
        label = f"calcium lesion {edit['lesion'] + 1} ({lesion['artery'] or 'unassigned'})"
        if edit["exclude"] is not None:
            action = "excluded" if edit["exclude"] else "included again"
        else:
            action = f"reassigned to {edit['artery']}"
        per_artery = ", ".join(f"{a} {v:g}" for a, v in after["agatston_per_artery"].items())
        text = (
            f"{label[0].upper()}{label[1:]} {action}: Agatston {before['agatston']:g} -> "
            f"{after['agatston']:g} (by artery {per_artery}), {after['cac_drs']['label']}."
        )
        return text, f"{label} {action}"
    return f"Impression: {edit['text']}", "impression edited"
