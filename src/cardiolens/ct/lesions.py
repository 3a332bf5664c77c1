"""Measure calcified lesions: Agatston, volume, mass and integrated mass of each lesion.

A lesion is a set of voxels given by a label image (3D connected calcium found
automatically, or a user's label mask). Its Agatston score is the sum over its slice
lesions (see :mod:`cardiolens.ct.agatston`) of area x density weight x
``slice_increment / 3 mm``; volume, mass and integrated mass follow
:mod:`cardiolens.ct.volume_mass` and :mod:`cardiolens.ct.integrated_mass`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.volume import Volume
from cardiolens.ct.agatston import (
    AgatstonConvention,
    density_weight,
    label_slice_lesions,
    slice_normalisation_factor,
)
from cardiolens.ct.body import CONNECTIVITY_26
from cardiolens.ct.calibration import MassCalibration
from cardiolens.ct.integrated_mass import IntegratedMassSettings, integrated_calcium_mass
from cardiolens.ct.volume_mass import mass_score_mg, volume_score_mm3

__all__ = ["Artery", "CalciumLesion", "LABEL_ARTERY", "calcium_components", "measure_lesions"]


class Artery(StrEnum):
    """Coronary arteries scored separately (SCCT: left main, LAD, circumflex, right)."""

    LM = "LM"
    LAD = "LAD"
    LCX = "LCx"
    RCA = "RCA"


#: Label values of a user's lesion mask (``--labels``) and the artery each stands for.
#: Any other value is refused (:func:`cardiolens.ct.score.check_label_codes`).
LABEL_ARTERY: dict[int, Artery] = {1: Artery.LM, 2: Artery.LAD, 3: Artery.LCX, 4: Artery.RCA}

_DEFAULT_CONVENTION = AgatstonConvention()
_DEFAULT_INTEGRATED = IntegratedMassSettings()


@dataclass(frozen=True)
class CalciumLesion:
    """One calcified lesion and its scores.

    Attributes
    ----------
    lesion_id
        Label value of the lesion in the label image it was measured on.
    artery
        Coronary artery, or ``None`` (phantom inserts, unknown).
    agatston
        Agatston score (3 mm normalised, dimensionless).
    volume_mm3
        Volume score (mm^3).
    mass_mg
        Mass score (mg HA), McCollough 2007.
    mass_integrated_mg
        Integrated calcium mass (mg HA), Molloi lab 2021.
    peak_hu
        Highest HU in the lesion.
    centroid_mm
        LPS centre ``(x, y, z)`` of the lesion's voxels (mm).
    n_voxels
        Calcium voxels in the lesion.
    needs_review
        True when the automatic artery assignment or classification is uncertain.
    """

    lesion_id: int
    artery: Artery | None
    agatston: float
    volume_mm3: float
    mass_mg: float
    mass_integrated_mg: float
    peak_hu: float
    centroid_mm: tuple[float, float, float]
    n_voxels: int
    needs_review: bool = False

    def with_assignment(self, artery: Artery | None, needs_review: bool) -> CalciumLesion:
        """A copy with another artery and review flag."""
        return replace(self, artery=artery, needs_review=needs_review)

    def to_json(self) -> dict[str, object]:
        """The lesion as printed by ``cardiolens calcium --json``."""
        return {
            "artery": None if self.artery is None else self.artery.value,
            "agatston": self.agatston,
            "volume_mm3": self.volume_mm3,
            "mass_mg": self.mass_mg,
            "mass_integrated_mg": self.mass_integrated_mg,
            "peak_hu": self.peak_hu,
            "centroid_mm": list(self.centroid_mm),
            "needs_review": self.needs_review,
        }


def calcium_components(
    volume: Volume, convention: AgatstonConvention
) -> tuple[np.ndarray, np.ndarray, int]:
    """Calcium voxels grouped into 3D lesions.

    Returns
    -------
    slice_labels, lesion_labels, n
        Slice lesions (see :func:`label_slice_lesions`); 3D lesions: slice lesions joined
        by 26-connectivity, labelled 1..n.
    """
    sz, sy, sx = volume.spacing_mm
    slice_labels, _ = label_slice_lesions(
        np.asarray(volume.array), pixel_area_mm2=sy * sx, convention=convention
    )
    lesion_labels, n = ndi.label(slice_labels > 0, structure=CONNECTIVITY_26)
    return slice_labels, lesion_labels.astype(np.int32), int(n)


def measure_lesions(
    volume: Volume,
    lesion_labels: np.ndarray,
    *,
    calibration: MassCalibration,
    convention: AgatstonConvention = _DEFAULT_CONVENTION,
    slice_labels: np.ndarray | None = None,
    integrated: IntegratedMassSettings = _DEFAULT_INTEGRATED,
    arteries: dict[int, Artery] | None = None,
) -> list[CalciumLesion]:
    """Scores of every labelled lesion, by the conventions of :mod:`cardiolens.ct.agatston`.

    Parameters
    ----------
    volume
        CT in HU, ``(z, y, x)``; ``spacing_mm[0]`` is the slice increment.
    lesion_labels
        Integer label image (0 background); only calcium voxels (>= threshold, in slice
        lesions >= the minimum area) inside a label count for it.
    calibration
        Mass-score calibration.
    convention
        Threshold, minimum area, reference thickness.
    slice_labels
        Precomputed slice lesions of ``volume`` (computed when ``None``).
    integrated
        Integrated-mass region sizes.
    arteries
        Artery of each label value (for a user's mask: :data:`LABEL_ARTERY`); others ``None``.

    Returns
    -------
    list of CalciumLesion
        One per label value with calcium, in label order.
    """
    hu = np.asarray(volume.array)
    sz, sy, sx = volume.spacing_mm
    if slice_labels is None:
        slice_labels, _ = label_slice_lesions(hu, pixel_area_mm2=sy * sx, convention=convention)
    labels = np.asarray(lesion_labels).astype(np.int64, copy=False)
    calcium = slice_labels > 0
    norm = slice_normalisation_factor(sz, convention.reference_thickness_mm)
    voxel_mm3 = sy * sx * sz
    # The crop holds the integrated mass's whole background ring (region + ring, plus one).
    reach_mm = integrated.dilation_mm + integrated.ring_mm
    margin = (
        integrated.dilation_slices + 1,
        int(np.ceil(reach_mm / sy)) + 1,
        int(np.ceil(reach_mm / sx)) + 1,
    )
    lesions: list[CalciumLesion] = []
    for lesion_id, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        pad = tuple(
            slice(max(b.start - p, 0), min(b.stop + p, n))
            for b, p, n in zip(box, margin, hu.shape, strict=True)
        )
        crop_hu = hu[pad]
        lesion = (labels[pad] == lesion_id) & calcium[pad]
        if not lesion.any():
            continue
        # Slice lesions split by the label boundary are scored as separate slice lesions.
        parts = slice_labels[pad][lesion]
        values = crop_hu[lesion].astype(np.float64)
        _, inverse = np.unique(parts, return_inverse=True)
        area = np.bincount(inverse) * sy * sx
        peak = np.full(area.size, -np.inf)
        np.maximum.at(peak, inverse, values)
        agatston = float(np.sum(area * density_weight(peak)) * norm)
        index = np.argwhere(lesion).mean(axis=0) + [p.start for p in pad]
        centroid = tuple(float(c) for c in volume.index_to_physical(index)[0])
        lesions.append(
            CalciumLesion(
                lesion_id=lesion_id,
                artery=(arteries or {}).get(lesion_id),
                agatston=agatston,
                volume_mm3=volume_score_mm3(values.size, voxel_mm3),
                mass_mg=mass_score_mg(values, voxel_mm3, calibration.factor_mg_per_hu_mm3),
                mass_integrated_mg=integrated_calcium_mass(
                    crop_hu,
                    lesion,
                    other_calcium=calcium[pad],
                    spacing_mm=volume.spacing_mm,
                    calibration=calibration,
                    settings=integrated,
                ),
                peak_hu=float(values.max()),
                centroid_mm=centroid,  # type: ignore[arg-type]
                n_voxels=int(values.size),
            )
        )
    return lesions
