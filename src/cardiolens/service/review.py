"""The review page's edits as typed report changes, and its view of a report.

An edit posted by the page or a REST client (``kind`` plus its fields) becomes one
typed change of :mod:`cardiolens.report.changes`:

* ``segment_score`` (state, segment, score): :class:`~cardiolens.report.changes.SegmentScore`;
* ``lesion_exclusion`` (lesion, 1-based): :class:`~cardiolens.report.changes.LesionExclusion`;
* ``lesion_artery`` (lesion, artery): :class:`~cardiolens.report.changes.LesionArtery`;
* ``impression`` (text): :class:`~cardiolens.report.changes.Impression`.

The report folder is the single source of truth: :func:`cardiolens.pipeline.amend_report`
recomputes SSS/SRS/SDS, Agatston per artery and CAC-DRS, rewrites ``report.json`` and
``report.html`` and writes a new SR; :func:`review_state` only reads the numbers back,
next to the automated ones (:func:`cardiolens.report.changes.automated_values`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cardiolens.core.aha import SEGMENT_NAMES
from cardiolens.core.errors import ParameterError
from cardiolens.report.changes import (
    Change,
    Impression,
    LesionArtery,
    LesionExclusion,
    SegmentScore,
    automated_values,
)

__all__ = ["parse_change", "review_state"]

_FIELDS: dict[str, tuple[type, tuple[str, ...]]] = {
    "segment_score": (SegmentScore, ("state", "segment", "score")),
    "lesion_exclusion": (LesionExclusion, ("lesion",)),
    "lesion_artery": (LesionArtery, ("lesion", "artery")),
    "impression": (Impression, ("text",)),
}


def parse_change(edit: Mapping[str, Any]) -> Change:
    """The typed change of an edit; :class:`ParameterError` naming what is missing or wrong."""
    kind = edit.get("kind")
    if kind not in _FIELDS:
        raise ParameterError(f"unknown change kind {kind!r} ({', '.join(_FIELDS)})")
    change, fields = _FIELDS[kind]
    missing = [name for name in fields if edit.get(name) is None]
    if missing:
        raise ParameterError(f"a {kind} change needs {', '.join(missing)}")
    return change(*(edit[name] for name in fields))


def _values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The reviewable values of a report as written (no recomputation)."""
    nuclear = data.get("nuclear") or {}
    states = {state: nuclear[state] for state in ("stress", "rest") if nuclear.get(state)}
    calcium = data.get("calcium")
    physician = data["physician"]
    values: dict[str, Any] = {
        "segment_scores": {name: list(state["segment_scores"]) for name, state in states.items()},
        "sss": states["stress"]["summed_score"] if "stress" in states else None,
        "srs": states["rest"]["summed_score"] if "rest" in states else None,
        "sds": nuclear.get("sds"),
        "has_calcium": calcium is not None,
        "lesions": [
            {
                "number": number,
                "artery": lesion.get("artery"),
                "agatston": lesion["agatston"],
                "volume_mm3": lesion["volume_mm3"],
                "excluded": bool(lesion.get("excluded")),
            }
            for number, lesion in enumerate((calcium or {}).get("lesions", []), 1)
        ],
        "impression": (
            [physician["impression"]]
            if physician.get("impression")
            else list((data.get("narrative") or {}).get("impression", []))
        ),
        "segment_names": [SEGMENT_NAMES[segment] for segment in range(1, 18)],
    }
    if calcium is not None:
        values |= {
            "agatston": calcium["agatston"],
            "agatston_per_artery": {
                artery: scores["agatston"]
                for artery, scores in (calcium.get("per_artery") or {}).items()
            },
            "agatston_category": calcium["category"],
            "cac_drs": calcium["cac_drs"],
        }
    return values


def review_state(data: Mapping[str, Any]) -> dict[str, Any]:
    """``{"original", "current", "physician"}``: the automated and the current values of a
    report (scores as the report holds them) and its physician section (amendments,
    sign-off)."""
    return {
        "original": _values(automated_values(data)),
        "current": _values(data),
        "physician": data["physician"],
    }
