"""Typed physician changes to a report and the recomputation of what depends on them.

A change is one of:

* :class:`SegmentScore`: a perfusion segment score (0-4) of stress or rest;
* :class:`LesionExclusion`: a calcium lesion removed from the score (not coronary,
  artefact);
* :class:`LesionArtery`: a calcium lesion assigned to another artery;
* :class:`Impression`: the physician's impression, shown above the automated one.

:func:`apply_changes` returns a copy of the report with the changes made and every
dependent number recomputed from its definition:

* SSS / SRS = sum of the 17 segment scores, SDS = SSS - SRS (Berman DS et al.,
  J Nucl Cardiol 2004; :func:`cardiolens.nuclear.scores.summed_score`);
* Agatston, volume and mass totals = sums over the scored lesions, per artery
  the sums over that artery's lesions (Agatston AS et al., JACC 1990;15:827-832);
* Agatston category and CAC-DRS ``A<n>/N<vessels>`` with the vessels (LM, LAD,
  LCx, RCA) holding calcium (Hecht HS et al., J Cardiovasc Comput Tomogr
  2018;12:185-191; :mod:`cardiolens.ct.categories`);
* the narrative (findings, impression, TPD-derived text) rebuilt from the new
  numbers (:func:`cardiolens.report.narrative.build_narrative`).

TPD is a pixel-level measurement against the normal limits; a segment score
override does not change it (the narrative then quotes both, as they are).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cardiolens.core.errors import ParameterError
from cardiolens.ct.categories import agatston_category, cac_drs
from cardiolens.ct.lesions import Artery
from cardiolens.nuclear.scores import summed_score
from cardiolens.report.narrative import build_narrative

__all__ = [
    "Change",
    "Impression",
    "LesionArtery",
    "LesionExclusion",
    "SegmentScore",
    "apply_changes",
    "automated_values",
    "parse_lesion_artery",
    "parse_segment_score",
    "recompute_calcium",
    "recompute_nuclear",
]

_STATES = ("stress", "rest")
_ARTERIES = tuple(a.value for a in Artery)


@dataclass(frozen=True)
class SegmentScore:
    """Segment ``segment`` (1-17, AHA) of ``state`` (stress or rest) scored ``score`` (0-4)."""

    state: str
    segment: int
    score: int

    def __post_init__(self) -> None:
        if self.state not in _STATES:
            raise ParameterError(f"segment score: state must be stress or rest; got {self.state!r}")
        if not 1 <= self.segment <= 17:
            raise ParameterError(f"segment score: segment must be 1-17; got {self.segment}")
        if not 0 <= self.score <= 4:
            raise ParameterError(f"segment score: score must be 0-4; got {self.score}")


@dataclass(frozen=True)
class LesionExclusion:
    """Calcium lesion ``lesion`` (1-based, as numbered in the report) left out of the score."""

    lesion: int


@dataclass(frozen=True)
class LesionArtery:
    """Calcium lesion ``lesion`` (1-based) assigned to ``artery`` (LM, LAD, LCx, RCA)."""

    lesion: int
    artery: str

    def __post_init__(self) -> None:
        if self.artery not in _ARTERIES:
            raise ParameterError(
                f"lesion artery must be one of {', '.join(_ARTERIES)}; got {self.artery!r}"
            )


@dataclass(frozen=True)
class Impression:
    """The physician's impression (replaces an earlier physician impression)."""

    text: str

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ParameterError("an impression override needs text")


Change = SegmentScore | LesionExclusion | LesionArtery | Impression


def parse_segment_score(spec: str) -> SegmentScore:
    """``"stress:7=2"`` (state, AHA segment, score) as a :class:`SegmentScore`."""
    match = re.fullmatch(r"\s*(stress|rest)\s*:\s*(\d+)\s*=\s*(\d+)\s*", spec)
    if match is None:
        raise ParameterError(
            f"segment score {spec!r}: expected STATE:SEGMENT=SCORE, e.g. stress:7=2"
        )
    return SegmentScore(match[1], int(match[2]), int(match[3]))


def parse_lesion_artery(spec: str) -> LesionArtery:
    """``"3=LCx"`` (lesion number, artery) as a :class:`LesionArtery`."""
    match = re.fullmatch(r"\s*(\d+)\s*=\s*(\w+)\s*", spec)
    if match is None:
        raise ParameterError(f"lesion artery {spec!r}: expected LESION=ARTERY, e.g. 3=LCx")
    names = {a.lower(): a for a in _ARTERIES}
    return LesionArtery(int(match[1]), names.get(match[2].lower(), match[2]))


def recompute_nuclear(nuclear: dict[str, Any]) -> None:
    """Summed scores of each state and the SDS from the segment scores, in place."""
    for name in _STATES:
        state = nuclear.get(name)
        if state is not None:
            state["summed_score"] = summed_score(state["segment_scores"])
    if nuclear.get("stress") and nuclear.get("rest"):
        nuclear["sds"] = nuclear["stress"]["summed_score"] - nuclear["rest"]["summed_score"]


def _sums(lesions: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    masses = [lesion["mass_mg"] for lesion in lesions]
    return {
        "agatston": float(sum(lesion["agatston"] for lesion in lesions)),
        "volume_mm3": float(sum(lesion["volume_mm3"] for lesion in lesions)),
        "mass_mg": None if any(m is None for m in masses) else float(sum(masses)),
    }


def recompute_calcium(calcium: dict[str, Any]) -> None:
    """Totals, per-artery scores, category and CAC-DRS from the scored lesions, in place.

    Lesions marked ``excluded`` are left out; a lesion of unknown artery counts in
    the total only. The vessel count stays unknown (None) when it was (phantom mode).
    The MESA percentile is the calcium stage's and is not recomputed here: when the
    Agatston score changes it records the score it was computed for
    (``mesa["for_agatston"]``), which the report quotes with it.
    """
    before = float(calcium["agatston"])
    scored = [lesion for lesion in calcium["lesions"] if not lesion.get("excluded")]
    calcium.update(_sums(scored))
    mesa = calcium.get("mesa")
    if mesa and mesa.get("percentile") is not None and "for_agatston" not in mesa:
        if round(before, 1) != round(float(calcium["agatston"]), 1):
            mesa["for_agatston"] = before  # the stage's percentile is for this score
    arteries = list(dict.fromkeys([*(calcium.get("per_artery") or {}), *_ARTERIES]))
    calcium["per_artery"] = {
        name: _sums([lesion for lesion in scored if lesion["artery"] == name])
        for name in arteries
        if name in (calcium.get("per_artery") or {}) or any(x["artery"] == name for x in scored)
    }
    calcium["category"] = agatston_category(calcium["agatston"])
    known = (calcium.get("cac_drs") or {}).get("vessels") is not None
    vessels = sum(1 for v in calcium["per_artery"].values() if v["agatston"] > 0)
    calcium["cac_drs"] = cac_drs(calcium["agatston"], vessels if known else None).to_json()


def _lesion(data: Mapping[str, Any], number: int) -> dict[str, Any]:
    calcium = data.get("calcium")
    if not calcium:
        raise ParameterError("the report has no calcium score; a lesion cannot be changed")
    lesions = calcium["lesions"]
    if not 1 <= number <= len(lesions):
        raise ParameterError(f"lesion {number}: the report lists lesions 1-{len(lesions)}")
    return lesions[number - 1]


def _apply(data: dict[str, Any], change: Change) -> dict[str, Any]:
    """Make one change in place; return its record ``{kind, target, before, after}``."""
    if isinstance(change, SegmentScore):
        state = (data.get("nuclear") or {}).get(change.state)
        if state is None:
            raise ParameterError(f"the report has no {change.state} perfusion to rescore")
        before = state["segment_scores"][change.segment - 1]
        state["segment_scores"][change.segment - 1] = change.score
        target, after = f"{change.state} segment {change.segment}", change.score
        kind = "segment_score"
    elif isinstance(change, LesionExclusion):
        lesion = _lesion(data, change.lesion)
        if lesion.get("excluded"):
            raise ParameterError(f"lesion {change.lesion} is already excluded")
        lesion["excluded"] = True
        kind, target, before, after = (
            "lesion_exclusion",
            f"lesion {change.lesion}",
            "scored",
            "excluded",
        )
    elif isinstance(change, LesionArtery):
        lesion = _lesion(data, change.lesion)
        before, after = lesion["artery"], change.artery
        lesion["artery"] = change.artery
        lesion.setdefault("artery_automated", before)
        kind, target = "lesion_artery", f"lesion {change.lesion}"
    else:
        before = data["physician"].get("impression")
        data["physician"]["impression"] = change.text
        kind, target, after = "impression", "impression", change.text
    return {"kind": kind, "target": target, "before": before, "after": after}


def apply_changes(
    data: Mapping[str, Any], changes: Sequence[Change]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A copy of the report with ``changes`` made and every dependent number recomputed.

    Returns
    -------
    tuple
        ``(report, records)``: the new report dict (narrative rebuilt) and one
        ``{kind, target, before, after}`` record per change, in order.
    """
    amended = copy.deepcopy(dict(data))
    records = [_apply(amended, change) for change in changes]
    if amended.get("nuclear"):
        recompute_nuclear(amended["nuclear"])
    if amended.get("calcium") and any(
        isinstance(c, LesionExclusion | LesionArtery) for c in changes
    ):
        recompute_calcium(amended["calcium"])
    amended["narrative"] = build_narrative(amended).to_json()
    return amended, records


def _undo(data: dict[str, Any], record: Mapping[str, Any]) -> None:
    """Undo one recorded change (a ``{kind, target, before, after}`` of :func:`_apply`)."""
    number = int(record["target"].rsplit(" ", 1)[-1]) if record["kind"] != "impression" else 0
    if record["kind"] == "segment_score":
        state = record["target"].split(" ", 1)[0]
        data["nuclear"][state]["segment_scores"][number - 1] = record["before"]
    elif record["kind"] == "lesion_exclusion":
        data["calcium"]["lesions"][number - 1].pop("excluded", None)
    elif record["kind"] == "lesion_artery":
        data["calcium"]["lesions"][number - 1]["artery"] = record["before"]
    else:
        data["physician"]["impression"] = record["before"]


def automated_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an amended report with every recorded change undone, scores recomputed.

    The changes of ``physician.amendments`` are undone newest first, then SSS/SRS/SDS
    and, when a lesion was changed, the calcium totals, per-artery scores, category and
    CAC-DRS recomputed (:func:`recompute_nuclear`, :func:`recompute_calcium`): the
    automated values an amended report is compared with. The narrative is not rebuilt.
    """
    original = copy.deepcopy(dict(data))
    records = [
        record
        for entry in original["physician"].get("amendments") or []
        for record in entry.get("changes") or []
    ]
    for record in reversed(records):
        _undo(original, record)
    if original.get("nuclear"):
        recompute_nuclear(original["nuclear"])
    if original.get("calcium") and any(r["kind"].startswith("lesion") for r in records):
        recompute_calcium(original["calcium"])
    return original
