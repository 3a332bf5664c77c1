"""One call from stress and/or rest images to perfusion scores, function and quality flags.

``analyze_perfusion`` chains localisation, reorientation, surface fitting,
polar map, comparison with a normal database, gated function and quality
checks, and keeps every intermediate (axes, surfaces, polar maps, masks) on the
result for reports and DICOM SEG.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cardiolens.core.errors import AnalysisError, InputError, ModalityError, ParameterError
from cardiolens.core.study import Series
from cardiolens.core.volume import Volume
from cardiolens.nuclear.function import MIN_GATES, GatedFunction, gated_function
from cardiolens.nuclear.localize import LvLocation, localize_lv
from cardiolens.nuclear.normals import NormalDatabase
from cardiolens.nuclear.orientation import (
    OrientationHandling,
    detect_orientation,
    short_axis_pose,
)
from cardiolens.nuclear.polar import PolarMap, polar_map
from cardiolens.nuclear.protocols import (
    DatabaseChoice,
    StudyProtocol,
    choose_normal_database,
    given_database,
    read_protocol,
)
from cardiolens.nuclear.quality import (
    QualityFlag,
    extracardiac_activity,
    implausible_lv,
    low_counts,
    motion_between_gates,
    too_few_gates,
    truncation,
)
from cardiolens.nuclear.reorient import LvAxes, estimate_lv_axes
from cardiolens.nuclear.scores import (
    PerfusionDeficit,
    ScoreThresholds,
    perfusion_deficit,
    segment_scores,
    summed_difference_score,
    summed_score,
)
from cardiolens.nuclear.segment import LvSurfaces, fit_surfaces, myocardium_mask, refine_lv_axes
from cardiolens.nuclear.segments import segment_values_pct

__all__ = [
    "ImageInput",
    "PerfusionImageResult",
    "PerfusionStudyResult",
    "analyze_image",
    "analyze_perfusion",
    "prepare_polar_map",
]

logger = logging.getLogger(__name__)

ImageInput = Series | Volume | Sequence[Volume]
_EMISSION_MODALITIES = {"NM", "PT", "OT"}


@dataclass(frozen=True, eq=False)
class PerfusionImageResult:
    """Analysis of one perfusion image (stress or rest).

    Attributes
    ----------
    state
        ``stress`` or ``rest``.
    volume
        The (summed) transaxial input image.
    location, axes, surfaces
        LV found, its frame and its fitted surfaces.
    polar
        Polar map (% of maximum).
    segments_pct
        17 AHA segment uptakes, % of maximum.
    segment_scores
        17 segment scores 0-4.
    summed_score
        SSS (stress) or SRS (rest).
    deficit
        Total perfusion deficit.
    function
        Gated function, or None when not gated.
    quality_flags
        Quality problems found.
    """

    state: str
    volume: Volume
    location: LvLocation
    axes: LvAxes
    surfaces: LvSurfaces
    polar: PolarMap
    segments_pct: np.ndarray
    segment_scores: np.ndarray
    summed_score: int
    deficit: PerfusionDeficit
    function: GatedFunction | None
    quality_flags: tuple[QualityFlag, ...]
    input_volume: Volume | None = None

    def myocardium_mask(self) -> Volume:
        """LV myocardium mask (1) on the input image's grid (its own geometry, for a
        short-axis input analysed in a synthetic pose: ``input_volume``)."""
        mask = myocardium_mask(self.surfaces, self.volume)
        if self.input_volume is None:
            return mask
        return self.input_volume.with_array(mask.array)

    def to_json(self) -> dict[str, Any]:
        """The per-state object of ``cardiolens nuclear --json``."""
        return {
            "segments": [round(float(v), 1) for v in self.segments_pct],
            "segment_scores": [int(v) for v in self.segment_scores],
            "summed_score": self.summed_score,
            "tpd_pct": round(self.deficit.tpd_pct, 1),
            "territory_tpd_pct": {
                k: round(v, 1) for k, v in self.deficit.territory_tpd_pct.items()
            },
            "function": None if self.function is None else self.function.to_json(),
            "quality_flags": [f.to_json() for f in self.quality_flags],
        }


@dataclass(frozen=True, eq=False)
class PerfusionStudyResult:
    """Stress and/or rest analysis with the combined indices.

    Attributes
    ----------
    stress, rest
        Per-image results (None when absent).
    normals
        The normal database of the stress image (else of the rest image).
    databases, protocols
        Per state: the normal database chosen and why, and the protocol read from the header.
    sds
        Summed difference score, sum of max(0, stress - rest) segment scores
        (:func:`~cardiolens.nuclear.scores.summed_difference_score`; both present).
    ischemic_tpd_pct
        Stress TPD - rest TPD (both present).
    tid
        Transient ischaemic dilation: stress / rest cavity volume of the summed images.
    """

    stress: PerfusionImageResult | None
    rest: PerfusionImageResult | None
    normals: NormalDatabase
    sds: int | None
    ischemic_tpd_pct: float | None
    tid: float | None
    databases: dict[str, DatabaseChoice] = field(default_factory=dict)
    protocols: dict[str, StudyProtocol] = field(default_factory=dict)
    orientations: dict[str, OrientationHandling] = field(default_factory=dict)

    def reversibility_map(self) -> PolarMap | None:
        """Rest minus stress uptake (percentage points) on the stress polar map grid."""
        if self.stress is None or self.rest is None:
            return None
        return self.stress.polar.with_values(
            self.rest.polar.values_pct - self.stress.polar.values_pct
        )

    def to_json(self) -> dict[str, Any]:
        """The object printed by ``cardiolens nuclear --json``."""
        out: dict[str, Any] = {}
        for result in (self.stress, self.rest):
            if result is not None:
                out[result.state] = result.to_json()
        if self.stress is not None and self.rest is not None:
            out["sds"] = self.sds
            out["ischemic_tpd_pct"] = round(float(self.ischemic_tpd_pct), 1)
            out["tid"] = round(float(self.tid), 3)
        states = ("stress", "rest")
        out["normal_database"] = {
            s: self.databases[s].to_json() if s in self.databases else None for s in states
        }
        out["protocol"] = {
            s: self.protocols[s].to_json() if s in self.protocols else None for s in states
        }
        out["orientation"] = {
            s: self.orientations[s].to_json() if s in self.orientations else None for s in states
        }
        return out


def _in_short_axis_pose(image: ImageInput, handling: OrientationHandling) -> ImageInput:
    """``image`` with every volume in the synthetic short-axis pose (:mod:`.orientation`)."""
    if isinstance(image, Series):
        return replace(
            image,
            volume=short_axis_pose(image.volume, handling),
            gates=[short_axis_pose(g, handling) for g in image.gates],
        )
    if isinstance(image, Volume):
        return short_axis_pose(image, handling)
    return [short_axis_pose(g, handling) for g in image]


def _as_images(image: ImageInput, state: str) -> tuple[Volume, list[Volume]]:
    """(summed volume, gates) of an input, checking that it is an emission image."""
    if isinstance(image, Series):
        summed, gates, modality = image.volume, list(image.gates), image.modality
    elif isinstance(image, Volume):
        summed, gates, modality = image, [], image.modality
    else:
        gates = list(image)
        if not gates or not all(isinstance(g, Volume) for g in gates):
            raise ParameterError(f"{state}: expected a Series, a Volume or a list of gate Volumes")
        reference = gates[0]
        if not all(g.same_geometry(reference) for g in gates):
            raise ParameterError(f"{state}: the gate volumes are not on one grid")
        summed = reference.with_array(np.sum([g.array.astype(np.float32) for g in gates], axis=0))
        modality = reference.modality
    if modality.upper() not in _EMISSION_MODALITIES:
        raise ModalityError(
            f"{state}: nuclear perfusion analysis needs a SPECT (NM) or PET (PT) image; "
            f"got modality {modality}"
        )
    for volume in (summed, *gates):
        n_bad = int(np.count_nonzero(~np.isfinite(volume.array)))
        if n_bad:
            raise InputError(
                f"{state}: the image holds {n_bad} NaN or infinite voxels; counts must be finite"
            )
    return summed, gates


#: Counts are capped at this multiple of the LV shell's mean count (extracardiac hot spots).
COUNT_CEILING_FACTOR = 2.5


def _lv_axes(
    summed: Volume, location: LvLocation, long_axis_lps: tuple[float, float, float] | None
) -> LvAxes:
    """LV axes: estimated and refined, or from the manual long axis (not refined)."""
    axes = estimate_lv_axes(summed, location, long_axis_lps=long_axis_lps)
    if long_axis_lps is not None:
        return axes
    return refine_lv_axes(summed, axes, count_ceiling=_ceiling(location))


def _ceiling(location: LvLocation) -> float:
    """Count cap of the summed image (image units)."""
    return COUNT_CEILING_FACTOR * location.shell_mean_counts


def prepare_polar_map(
    image: ImageInput, *, long_axis_lps: tuple[float, float, float] | None = None
) -> PolarMap:
    """The polar map of an image alone (for building normal databases)."""
    summed, _ = _as_images(image, "image")
    location = localize_lv(summed)
    axes = _lv_axes(summed, location, long_axis_lps)
    return polar_map(fit_surfaces(summed, axes, count_ceiling=_ceiling(location)))


def analyze_image(
    image: ImageInput,
    *,
    state: str,
    normals: NormalDatabase,
    thresholds: ScoreThresholds | None = None,
    long_axis_lps: tuple[float, float, float] | None = None,
    extra_flags: Sequence[QualityFlag] = (),
    input_volume: Volume | None = None,
) -> PerfusionImageResult:
    """Analyse one perfusion image (see :func:`analyze_perfusion`); ``extra_flags`` are kept."""
    summed, gates = _as_images(image, state)
    location = localize_lv(summed)
    axes = _lv_axes(summed, location, long_axis_lps)
    surfaces = fit_surfaces(summed, axes, count_ceiling=_ceiling(location))
    polar = polar_map(surfaces)
    normals.check_grid(polar)
    segments = segment_values_pct(polar)
    if np.isnan(segments).any():
        empty = [int(i) + 1 for i in np.flatnonzero(np.isnan(segments))]
        raise AnalysisError(
            f"{state}: the LV segmentation left AHA segment(s) {empty} without samples; "
            "check the reorientation (try a manual long axis)"
        )
    scores = segment_scores(polar, normals, thresholds)
    flags = [*extra_flags] + [
        flag
        for flag in (
            implausible_lv(surfaces),
            low_counts(polar),
            extracardiac_activity(summed, surfaces),
            truncation(summed, surfaces),
            too_few_gates(len(gates), MIN_GATES),
            motion_between_gates(gates, np.asarray(location.center_lps)),
        )
        if flag is not None
    ]
    function = None
    if len(gates) >= MIN_GATES:
        total = float(np.sum(summed.array, dtype=float))
        ceilings = [_ceiling(location) * float(np.sum(g.array, dtype=float)) / total for g in gates]
        function = gated_function(gates, axes, surfaces, polar, count_ceilings=ceilings)
    return PerfusionImageResult(
        state=state,
        volume=summed,
        location=location,
        axes=axes,
        surfaces=surfaces,
        polar=polar,
        segments_pct=segments,
        segment_scores=scores,
        summed_score=summed_score(scores),
        deficit=perfusion_deficit(polar, normals, thresholds),
        function=function,
        quality_flags=tuple(flags),
        input_volume=input_volume,
    )


def analyze_perfusion(
    *,
    stress: ImageInput | None = None,
    rest: ImageInput | None = None,
    normals: NormalDatabase | None = None,
    rest_normals: NormalDatabase | None = None,
    thresholds: ScoreThresholds | None = None,
    long_axis_lps: tuple[float, float, float] | None = None,
    sex: str | None = None,
    orientation: str = "auto",
) -> PerfusionStudyResult:
    """Quantify a myocardial perfusion study (SPECT or PET).

    Parameters
    ----------
    stress, rest
        A :class:`~cardiolens.core.study.Series` (its summed volume and gates), a
        3D :class:`~cardiolens.core.volume.Volume` (not gated) or a list of gate
        volumes. At least one is needed.
    normals
        Normal database for the stress image (and the rest image unless
        ``rest_normals`` is given); default: the shipped database chosen from
        each image's header (:func:`~cardiolens.nuclear.protocols.choose_normal_database`),
        a flag ``normal_database_mismatch`` naming what does not match.
    sex
        ``female`` or ``male`` from the clinical input (recorded with the database choice).
    orientation
        ``auto`` (from the header), ``transaxial`` or ``short-axis`` (a series already
        reoriented by the camera; :mod:`cardiolens.nuclear.orientation`).
    thresholds
        Score thresholds (cited defaults in :class:`~cardiolens.nuclear.scores.ScoreThresholds`).
    long_axis_lps
        Manual override of the LV long axis (apex to base, LPS).

    Returns
    -------
    PerfusionStudyResult

    Raises
    ------
    ModalityError
        A CT or MR image was given.
    AnalysisError
        No LV-like structure was found.
    """
    if stress is None and rest is None:
        raise ParameterError("analyze_perfusion needs a stress image, a rest image or both")
    options = {"thresholds": thresholds, "long_axis_lps": long_axis_lps}
    results: dict[str, PerfusionImageResult | None] = {"stress": None, "rest": None}
    databases: dict[str, DatabaseChoice] = {}
    protocols: dict[str, StudyProtocol] = {}
    orientations: dict[str, OrientationHandling] = {}
    for state, image, given in (
        ("stress", stress, normals),
        ("rest", rest, rest_normals or normals),
    ):
        if image is None:
            continue
        summed, _ = _as_images(image, state)
        protocols[state] = read_protocol(summed)
        orientations[state] = detect_orientation(summed, orientation)
        input_volume = None
        if orientations[state].short_axis:
            image, input_volume = _in_short_axis_pose(image, orientations[state]), summed
        databases[state] = (
            given_database(given)
            if given is not None
            else choose_normal_database(protocols[state], sex)
        )
        mismatch = databases[state].mismatches
        flags = (
            [QualityFlag("normal_database_mismatch", "Normal database: " + "; ".join(mismatch))]
            if mismatch
            else []
        )
        results[state] = analyze_image(
            image,
            state=state,
            normals=databases[state].database,
            extra_flags=flags,
            input_volume=input_volume,
            **options,
        )
    stress_result, rest_result = results["stress"], results["rest"]
    sds = ischemic = tid = None
    if stress_result is not None and rest_result is not None:
        sds = summed_difference_score(stress_result.segment_scores, rest_result.segment_scores)
        ischemic = stress_result.deficit.tpd_pct - rest_result.deficit.tpd_pct
        tid = stress_result.surfaces.cavity_volume_ml / rest_result.surfaces.cavity_volume_ml
    return PerfusionStudyResult(
        stress=stress_result,
        rest=rest_result,
        normals=(databases.get("stress") or databases["rest"]).database,
        sds=sds,
        ischemic_tpd_pct=ischemic,
        tid=tid,
        databases=databases,
        protocols=protocols,
        orientations=orientations,
    )
