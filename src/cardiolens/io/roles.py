"""Clinical role of each series (calcium CT, CCTA, attenuation CT, stress/rest SPECT or PET).

Roles come from the header's free text first (SeriesDescription, ImageID,
ProtocolName, StudyDescription: ``source="header"``), then from acquisition
parameters (``source="inferred"``, lower confidence). Parameter rules:

* calcium scoring CT: non-contrast, 120 kVp, 2.5-3 mm slices (Agatston et al.,
  JACC 1990; SCCT guideline for coronary artery calcium scoring, Hecht et al.,
  JCCT 2017);
* CCTA: contrast agent recorded, or thin (<= 1 mm) slices; the blood-pool check
  (aortic HU > ~200) belongs to the CT stage;
* attenuation CT: low dose (CTDIvol < 3 mGy) or a CT beside NM/PET series.

A user override (``--role SERIES_UID=ROLE``) always wins (``source="override"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cardiolens.core.study import Series, SeriesRole, Study

__all__ = ["RoleGuess", "assign_roles", "infer_role", "stress_or_rest"]

STRESS_WORDS = frozenset(
    {
        "stress", "str", "strs", "stres", "adenosine", "adeno", "regadenoson", "lexiscan",
        "dipyridamole", "persantine", "dobutamine", "exercise", "esforco", "estresse", "belastung",
    }
)  # fmt: skip
REST_WORDS = frozenset({"rest", "rst", "repouso", "ruhe", "reposo"})
CALCIUM_WORDS = frozenset({"calcium", "cac", "cacs", "casc", "cascore", "agatston", "score"})
CCTA_WORDS = frozenset({"cta", "ccta", "angio", "angiography", "coronary", "coronaries"})
ATTENUATION_WORDS = frozenset({"ctac", "ac", "attenuation", "attn", "mumap", "ldct", "lowdose"})

#: Header fields read for roles, with the confidence a keyword found there earns.
TEXT_FIELDS = (
    ("series_description", 0.9),
    ("image_id", 0.9),
    ("protocol_name", 0.7),
    ("study_description", 0.5),
)


@dataclass(frozen=True)
class RoleGuess:
    """A role with its confidence in [0, 1], source and the reason."""

    role: SeriesRole
    confidence: float
    source: str
    reason: str


def _tokens(text: str) -> set[str]:
    """Lower-case words of ``text``, splitting camel case (``ReconRest-1`` -> recon, rest, 1)."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", text)
    tokens = {w.lower() for w in words}
    if re.search(r"low[\s_-]*dose", text, flags=re.IGNORECASE):
        tokens.add("lowdose")
    return tokens


def stress_or_rest(metadata: dict) -> tuple[str | None, float, str]:
    """``("stress" | "rest" | None, confidence, reason)`` from the header text fields."""
    for field, confidence in TEXT_FIELDS:
        tokens = _tokens(str(metadata.get(field, "")))
        stress, rest = tokens & STRESS_WORDS, tokens & REST_WORDS
        if stress and not rest:
            return "stress", confidence, f"{field} {metadata[field]!r} says stress"
        if rest and not stress:
            return "rest", confidence, f"{field} {metadata[field]!r} says rest"
    return None, 0.0, "no stress/rest keyword in the header"


def _ct_keywords(metadata: dict) -> RoleGuess | None:
    for field, confidence in TEXT_FIELDS:
        tokens = _tokens(str(metadata.get(field, "")))
        for words, role in (
            (ATTENUATION_WORDS, SeriesRole.CT_ATTENUATION),
            (CALCIUM_WORDS, SeriesRole.CT_CALCIUM),
            (CCTA_WORDS, SeriesRole.CCTA),
        ):
            if tokens & words:
                reason = f"{field} {metadata[field]!r} names {role.value}"
                return RoleGuess(role, confidence, "header", reason)
    return None


def _ct_role(metadata: dict) -> RoleGuess:
    if metadata.get("contrast_agent"):
        return RoleGuess(
            SeriesRole.CCTA, 0.8, "header", f"contrast agent {metadata['contrast_agent']!r}"
        )
    by_keyword = _ct_keywords(metadata)
    if by_keyword is not None:
        return by_keyword
    ctdi = metadata.get("ctdi_vol_mgy")
    if ctdi is not None and ctdi < 3.0:
        return RoleGuess(SeriesRole.CT_ATTENUATION, 0.6, "inferred", f"low dose CTDIvol {ctdi} mGy")
    kvp, thickness = metadata.get("kvp"), metadata.get("slice_thickness_mm")
    if kvp is not None and abs(kvp - 120) < 1 and thickness and 2.4 <= thickness <= 3.1:
        reason = f"120 kVp, {thickness} mm slices, no contrast agent recorded"
        return RoleGuess(SeriesRole.CT_CALCIUM, 0.6, "inferred", reason)
    if thickness and thickness <= 1.0:
        return RoleGuess(SeriesRole.CCTA, 0.4, "inferred", f"thin {thickness} mm slices")
    return RoleGuess(SeriesRole.UNKNOWN, 0.0, "inferred", "no CT role rule matched")


def infer_role(series: Series) -> RoleGuess:
    """The most likely clinical role of ``series`` from its header metadata."""
    metadata = series.metadata
    if series.modality == "CT":
        return _ct_role(metadata)
    if series.modality == "PT" and series.frames:
        return RoleGuess(SeriesRole.PET_DYNAMIC, 0.8, "inferred", f"{len(series.frames)} frames")
    if series.modality in ("NM", "PT"):
        kind, confidence, reason = stress_or_rest(metadata)
        if kind is None:
            return RoleGuess(SeriesRole.UNKNOWN, 0.0, "inferred", reason)
        prefix = "spect" if series.modality == "NM" else "pet"
        return RoleGuess(SeriesRole(f"{prefix}_{kind}"), confidence, "header", reason)
    return RoleGuess(SeriesRole.UNKNOWN, 0.0, "inferred", f"modality {series.modality}")


def assign_roles(study: Study, overrides: dict[str, str] | None = None) -> None:
    """Set every series' role from its header, the study context, then ``overrides``.

    A CT without a header-named role beside NM or PET series is taken as the
    attenuation CT of a hybrid study. Unknown override UIDs raise ParameterError.
    """
    has_emission = any(s.modality in ("NM", "PT") for s in study.series)
    for series in study.series:
        guess = infer_role(series)
        if series.modality == "CT" and has_emission and guess.source != "header":
            guess = RoleGuess(
                SeriesRole.CT_ATTENUATION, 0.6, "inferred", "CT in a study with NM/PET series"
            )
        series.set_role(guess.role, source=guess.source, confidence=guess.confidence)
        series.metadata["role_reason"] = guess.reason
    if overrides:
        study.override_roles(overrides)
