"""``score_calcium``: coronary calcium and epicardial fat of a calcium-scoring CT.

The steps and the module that owns each convention:

1. calcium voxels and 3D groups: :mod:`cardiolens.ct.agatston`, :mod:`cardiolens.ct.lesions`;
2. phantom QA mode (:mod:`cardiolens.ct.qrm`) or heart (:mod:`cardiolens.ct.heart`),
   pericardium and fat (:mod:`cardiolens.ct.eat`), coronary candidates and arteries
   (:mod:`cardiolens.ct.candidates`), or a user's label mask (:data:`LABEL_ARTERY` code);
3. scores per lesion, per artery and in total; categories (:mod:`cardiolens.ct.categories`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.errors import GeometryError, InputError, ModalityError
from cardiolens.core.volume import Volume
from cardiolens.ct.agatston import AgatstonConvention
from cardiolens.ct.body import CONNECTIVITY_26
from cardiolens.ct.calibration import default_mass_calibration
from cardiolens.ct.candidates import classify_candidates, heart_frame, locate_metal
from cardiolens.ct.categories import agatston_category, cac_drs
from cardiolens.ct.eat import EpicardialFat, epicardial_fat, segment_pericardium
from cardiolens.ct.heart import CONTRAST_BLOOD_POOL_HU, find_heart, thoracic_cavity
from cardiolens.ct.lesions import (
    LABEL_ARTERY,
    Artery,
    CalciumLesion,
    calcium_components,
    measure_lesions,
)
from cardiolens.ct.metal import MetalFinding, metal_groups, near_metal
from cardiolens.ct.noise import MIN_LOCAL_SNR, MIN_RAW_SNR, noise_spikes
from cardiolens.ct.qrm import find_phantom_inserts
from cardiolens.ct.result import ArteryScores, CalciumResult

__all__ = ["check_label_codes", "load_calcium_ct", "score_calcium"]

logger = logging.getLogger(__name__)


def load_calcium_ct(path: str | Path) -> Volume:
    """The CT volume (HU) of a calcium-scoring study folder or file.

    Raises
    ------
    ModalityError
        When the study holds no CT series (for example an NM file); a NIfTI/NRRD image is
        taken as CT when it holds air (1st percentile below -500 HU).
    GeometryError
        When slices are missing (the reader would interpolate them, which would
        invent calcium scores).
    """
    from cardiolens.core.study import SeriesRole
    from cardiolens.io import load_study

    study = load_study(path)
    cts = [s for s in study.series if s.modality == "CT"]
    # NIfTI/NRRD carry no modality: accept an image that holds air at about -1000 HU.
    cts = cts or [s for s in study.series if s.modality == "OT" and _looks_like_hu(s.volume)]
    if not cts:
        found = ", ".join(sorted({s.modality for s in study.series})) or "nothing"
        hint = (
            "; an image without a modality (NIfTI/NRRD) is taken as CT only when it holds air "
            "(1st percentile below -500 HU): store HU, not raw scanner values"
            if "OT" in found
            else ""
        )
        raise ModalityError(f"calcium scoring needs a CT series; found {found}{hint}", path)
    series = next((s for s in cts if s.role == SeriesRole.CT_CALCIUM), cts[0])
    volume = series.volume
    gaps = volume.metadata.get("interpolated_slices")
    if gaps:
        problems = (
            "; ".join(w for w in series.warnings if "missing" in w) or f"{len(gaps)} slice(s)"
        )
        raise GeometryError(
            f"series {series.series_uid} has missing slices ({problems}); calcium scores need every "
            "slice: re-export the complete series",
            path,
        )
    return volume


def _looks_like_hu(volume: Volume) -> bool:
    values = np.asarray(volume.array)[::4, ::8, ::8]
    # nanpercentile: NaN voxels are refused by the scorer with their own message.
    return bool(values.size and np.nanpercentile(values, 1) < -500.0)


def _check_input(volume: Volume) -> None:
    if volume.modality not in ("CT", "OT"):
        raise ModalityError(f"calcium scoring needs CT in HU; got modality {volume.modality}")
    gaps = volume.metadata.get("interpolated_slices")
    if gaps:
        raise GeometryError(
            f"{len(gaps)} slice(s) were missing and filled by interpolation; calcium scores need "
            "every acquired slice: re-export the complete series"
        )
    values = np.asarray(volume.array)
    if np.issubdtype(values.dtype, np.floating):
        bad = ~np.isfinite(values)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(
                f"{int(bad.sum())} voxel(s) are NaN or infinite (first at z, y, x = {first}); "
                "calcium scores need a finite HU value in every voxel"
            )
    units = volume.metadata.get("units", "HU")
    if units not in ("HU", None, ""):
        raise ModalityError(f"calcium scoring needs CT values in HU; got units {units!r}")


def check_label_codes(labels: Volume, path: str | Path | None = None) -> None:
    """Refuse a lesion label mask that is not an artery mask (values 0 and :data:`LABEL_ARTERY`).

    A mask resampled with linear interpolation holds values such as 1.5 between LM (1)
    and LAD (2); truncating them would assign lesions to the wrong artery. A value outside
    the artery codes (for example 7) has no artery, and a lesion-ID mask (one value per
    lesion, 1..n) passed as an artery mask would relabel its lesions as arteries: both
    are refused rather than guessed.

    Raises
    ------
    InputError
        Naming ``path`` when given.
    """
    raw = np.asarray(labels.array)
    if raw.dtype.kind == "f":
        fractional = raw[np.isfinite(raw) & (raw != np.round(raw))]
        if fractional.size or not np.isfinite(raw).all():
            example = f"{float(fractional[0]):g}" if fractional.size else "NaN"
            raise InputError(
                f"the label mask holds non-integer values (e.g. {example}); artery codes must be "
                "whole numbers: resample it with nearest-neighbour, not linear, interpolation",
                path,
            )
    values = np.unique(raw)
    bad = values[~np.isin(values, [0, *LABEL_ARTERY])]
    if bad.size:
        codes = ", ".join(f"{k} {a.value}" for k, a in LABEL_ARTERY.items())
        shown = ", ".join(f"{float(v):g}" for v in bad[:5]) + (", ..." if bad.size > 5 else "")
        hint = (
            "; it looks like a lesion-ID mask (one value per lesion), not an artery mask"
            if values.max() > max(LABEL_ARTERY) and np.all(values == np.arange(values.size))
            else ""
        )
        raise InputError(
            f"the label mask holds value(s) {shown} outside the artery codes (0 background, "
            f"{codes}){hint}",
            path,
        )


def _user_labels(labels: Volume, calcium: np.ndarray) -> tuple[np.ndarray, dict[int, Artery]]:
    """Split each label value of a user's mask (checked by :func:`check_label_codes`) into
    3D lesions, keeping the artery code."""
    values = np.asarray(labels.array).astype(np.int64)
    out = np.zeros(values.shape, dtype=np.int32)
    arteries: dict[int, Artery] = {}
    for value in np.unique(values[calcium & (values > 0)]):
        parts, n = ndi.label(calcium & (values == value), structure=CONNECTIVITY_26)
        first = int(out.max())
        out[parts > 0] = parts[parts > 0] + first
        for k in range(first + 1, first + n + 1):
            arteries[k] = LABEL_ARTERY[int(value)]
    return out, arteries


def score_calcium(
    volume: Volume,
    *,
    phantom: bool = False,
    labels: Volume | None = None,
    kvp: float | None = None,
    kv_specific_threshold: bool = False,
) -> CalciumResult:
    """Agatston, volume and mass scores, CAC-DRS and epicardial fat of a non-contrast CT.

    Parameters
    ----------
    volume
        CT in HU, ``(z, y, x)``; ``spacing_mm[0]`` is the slice increment and
        ``metadata["slice_thickness_mm"]`` the reconstructed thickness.
    phantom
        Scanner QA mode for calcium phantoms (no heart; inserts reported with artery None).
    labels
        A user's lesion label mask on the same grid (1 LM, 2 LAD, 3 LCx, 4 RCA; any
        other value is refused, see :func:`check_label_codes`). Replaces the automatic
        candidates.
    kvp
        Tube voltage; read from the metadata when ``None``.
    kv_specific_threshold
        Use the kV-specific calcium threshold of :func:`cardiolens.ct.agatston.kvp_threshold_hu`.

    Returns
    -------
    CalciumResult
    """
    _check_input(volume)
    kvp = kvp if kvp is not None else volume.metadata.get("kvp")
    convention = AgatstonConvention.for_kvp(kvp) if kv_specific_threshold else AgatstonConvention()
    flags: list[str] = []
    thickness = volume.metadata.get("slice_thickness_mm")
    increment = volume.spacing_mm[0]
    if thickness and increment > float(thickness) * 1.05:
        flags.append(
            f"slice gaps: increment {increment:g} mm > thickness {float(thickness):g} mm; calcium may be missed"
        )
    if thickness and abs(float(thickness) - 3.0) > 0.1:
        flags.append(
            f"slice thickness {float(thickness):g} mm (Agatston is defined on 3 mm); scores normalised by increment/3 mm"
        )
    # Same 0.01 mm tolerance as cardiolens.io.read_mask, which loads the CLI's --labels.
    if labels is not None and not labels.same_geometry(volume, tol_mm=0.01):
        raise GeometryError(
            "the label mask is not on the CT's grid (shape, spacing, origin, direction)"
        )
    if labels is not None:
        check_label_codes(labels)
    slice_labels, components, n = calcium_components(volume, convention)
    eat = None
    metal: tuple[MetalFinding, ...] = ()
    heart_centre: tuple[float, float, float] | None = None
    excluded: dict[str, int] = {}
    review: frozenset[int] = frozenset()
    if phantom:
        findings = find_phantom_inserts(volume, components, n, kvp=kvp)
        lesion_labels, arteries, calibration = findings.insert_labels, {}, findings.calibration
        excluded = findings.excluded
        flags.extend(findings.quality_flags)
    else:
        calibration = default_mass_calibration(kvp)
        flags.append(
            f"mass calibration: {calibration.source} (no calibration rods in a patient scan)"
        )
        patient = _score_patient(volume, components, automatic=labels is None)
        eat, metal, heart_centre = patient.eat, patient.metal, patient.heart_centre_mm
        flags.extend(patient.flags)
        excluded = patient.excluded
        lesion_labels, arteries, review = patient.lesion_labels, patient.arteries, patient.review
    if labels is not None:  # the user's corrected lesions replace the automatic ones
        lesion_labels, arteries = _user_labels(labels, slice_labels > 0)
        review = frozenset()
    lesions = tuple(
        lesion.with_assignment(lesion.artery, lesion.lesion_id in review)
        for lesion in measure_lesions(
            volume,
            lesion_labels,
            calibration=calibration,
            convention=convention,
            slice_labels=slice_labels,
            arteries=arteries,
        )
    )
    if any(lesion.needs_review for lesion in lesions):
        flags.append(
            f"{sum(lesion.needs_review for lesion in lesions)} lesion(s) need review (artery or location uncertain)"
        )
    result = _assemble(
        lesions, calibration, eat, flags, excluded, lesion_labels, metal, per_vessel=not phantom
    )
    return replace(result, heart_centre_mm=heart_centre)


@dataclass(frozen=True)
class _PatientFindings:
    heart_centre_mm: tuple[float, float, float]
    eat: EpicardialFat
    flags: tuple[str, ...]
    excluded: dict[str, int]
    metal: tuple[MetalFinding, ...]
    lesion_labels: np.ndarray | None
    arteries: dict[int, Artery]
    review: frozenset[int]


def _score_patient(volume: Volume, components: np.ndarray, *, automatic: bool) -> _PatientFindings:
    """Heart, pericardium, fat, metal and (when ``automatic``) the coronary candidates."""
    flags: list[str] = []
    heart = find_heart(volume)
    flags.extend(heart.warnings)
    if heart.contrast_enhanced:
        flags.append(
            f"contrast-enhanced scan: blood pool {heart.blood_pool_hu:.0f} HU > "
            f"{CONTRAST_BLOOD_POOL_HU:.0f} HU; calcium scores are only valid on non-contrast CT"
        )
    pericardium = segment_pericardium(volume, heart)
    eat = epicardial_fat(volume, pericardium)
    metal_ids = metal_groups(volume, components)
    frame = heart_frame(volume, pericardium.sac_mask)
    metal = []
    for label in metal_ids:
        points = volume.index_to_physical(np.argwhere(components == label))
        location, artery = locate_metal(points, pericardium, frame)
        values = np.asarray(volume.array)[components == label]
        metal.append(MetalFinding(location, artery, int(values.size), float(values.max())))
    flags.extend(f.description for f in metal)
    flags.extend(
        f"stent present in the {a.value}: score not interpretable"
        for a in sorted({f.artery for f in metal if f.artery is not None}, key=list(Artery).index)
    )
    excluded: dict[str, int] = {}
    if not automatic:
        return _PatientFindings(
            heart.centre_mm, eat, tuple(flags), excluded, tuple(metal), None, {}, frozenset()
        )
    left_out = near_metal(volume, components, metal_ids)
    if left_out:
        excluded["metal"] = len(left_out)
    spikes, threshold = noise_spikes(volume, components, heart.core)
    spikes -= left_out
    if spikes:
        excluded["noise"] = len(spikes)
        flags.append(
            f"{len(spikes)} noise spike(s) left out (smoothed peak below {threshold:.0f} HU, "
            f"raw peak below {MIN_RAW_SNR:g} noise standard deviations above the heart and "
            f"below {MIN_LOCAL_SNR:g} above its surroundings)"
        )
    candidates = np.where(_member(components, left_out | spikes), 0, components)
    decision = classify_candidates(
        volume, candidates, pericardium, thoracic_cavity(heart.lungs), frame=frame
    )
    lesion_labels = np.where(_member(components, set(decision.arteries)), components, 0)
    for reason in decision.excluded.values():
        excluded[reason] = excluded.get(reason, 0) + 1
    return _PatientFindings(
        heart.centre_mm,
        eat,
        tuple(flags),
        excluded,
        tuple(metal),
        lesion_labels,
        decision.arteries,
        decision.needs_review,
    )


def _member(components: np.ndarray, labels: set[int]) -> np.ndarray:
    """``np.isin(components, labels)`` by a look-up table (no sort of the whole volume)."""
    table = np.zeros(int(components.max()) + 1, dtype=bool)
    table[list(labels)] = True
    return table[components]


def _assemble(
    lesions, calibration, eat, flags, excluded, lesion_labels, metal, *, per_vessel: bool
) -> CalciumResult:
    per_artery = {artery: _sum([x for x in lesions if x.artery == artery]) for artery in Artery}
    total = _sum(list(lesions))
    vessels = (
        sum(1 for scores in per_artery.values() if scores.agatston > 0) if per_vessel else None
    )
    return CalciumResult(
        agatston=total.agatston,
        volume_mm3=total.volume_mm3,
        mass_mg=total.mass_mg,
        mass_calibration=calibration,
        category=agatston_category(total.agatston),
        cac_drs=cac_drs(total.agatston, vessels),
        per_artery=per_artery,
        lesions=lesions,
        eat=eat,
        quality_flags=tuple(flags),
        excluded=excluded,
        lesion_labels=lesion_labels,
        metal=tuple(metal),
    )


def _sum(lesions: list[CalciumLesion]) -> ArteryScores:
    return ArteryScores(
        agatston=float(sum(x.agatston for x in lesions)),
        volume_mm3=float(sum(x.volume_mm3 for x in lesions)),
        mass_mg=float(sum(x.mass_mg for x in lesions)),
    )
