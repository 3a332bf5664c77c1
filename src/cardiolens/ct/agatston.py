"""Agatston score conventions: threshold, per-slice lesions, density weight, 3 mm normalisation.

Agatston et al., JACC 1990 ("Quantification of coronary artery calcium using ultrafast
computed tomography"): on contiguous 3 mm slices, a lesion is a connected region of
pixels >= 130 HU with an area of at least 1 mm^2; its score is area (mm^2) times a
density weight set by its peak HU (1: 130-199, 2: 200-299, 3: 300-399, 4: >= 400),
summed over lesions and slices.

Choices that the 1990 paper leaves open (van Ooijen et al., Eur Radiol 2005 show that they
change the score by 3-16 %), stated here once:

* connectivity: **8-connectivity in the axial plane** (pixels touching by an edge or a
  corner belong to one lesion); slices are never joined for the Agatston area;
* minimum area: a slice lesion is kept when its area is **>= 1.0 mm^2** (at 0.49 mm pixels
  that is 5 pixels; 4 pixels = 0.95 mm^2 is dropped);
* threshold: voxels **>= 130 HU** (``>=``, as in the paper's "130 HU or more");
* thickness normalisation: each slice's contribution is multiplied by
  ``slice_increment_mm / 3 mm``. For contiguous slices the increment equals the
  thickness; for overlapping reconstructions (increment < thickness) the **increment**
  is used, because every millimetre of the z axis is then sampled once per increment and
  summing all slices with the thickness would count overlapping calcium twice;
* kV-specific threshold (option): 147 HU at 100 kV (Nakazato et al., JCCT 2009), 130 HU
  at 120 kV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.errors import ParameterError
from cardiolens.ct.body import IN_PLANE_8

__all__ = [
    "AGATSTON_REFERENCE_THICKNESS_MM",
    "AgatstonConvention",
    "density_weight",
    "kvp_threshold_hu",
    "label_slice_lesions",
    "slice_normalisation_factor",
]

#: Slice thickness (mm) on which the Agatston score is defined.
AGATSTON_REFERENCE_THICKNESS_MM = 3.0

_KVP_THRESHOLD_HU = {100.0: 147.0, 120.0: 130.0}


@dataclass(frozen=True)
class AgatstonConvention:
    """The implementation choices of the Agatston, volume and mass scores.

    Attributes
    ----------
    threshold_hu
        Calcium threshold (voxels >= threshold), 130 HU by Agatston.
    min_area_mm2
        Smallest slice lesion kept (mm^2), 1.0.
    reference_thickness_mm
        Thickness the score is normalised to, 3.0 mm.
    """

    threshold_hu: float = 130.0
    min_area_mm2: float = 1.0
    reference_thickness_mm: float = AGATSTON_REFERENCE_THICKNESS_MM

    def __post_init__(self) -> None:
        if self.min_area_mm2 < 0 or self.reference_thickness_mm <= 0:
            raise ParameterError(
                "min_area_mm2 must be >= 0 and reference_thickness_mm > 0; got "
                f"{self.min_area_mm2} and {self.reference_thickness_mm}"
            )

    @classmethod
    def for_kvp(cls, kvp: float | None) -> AgatstonConvention:
        """The convention with the kV-specific threshold of :func:`kvp_threshold_hu`."""
        return cls(threshold_hu=kvp_threshold_hu(kvp))


def kvp_threshold_hu(kvp: float | None) -> float:
    """Calcium threshold (HU) for a tube voltage: 130 at 120 kV, 147 at 100 kV.

    Nakazato et al., JCCT 2009 matched 100 kV scores to 120 kV/130 HU with 147 HU. Other
    voltages have no validated threshold and raise :class:`ParameterError`.
    """
    kv = 120.0 if kvp is None else float(kvp)
    for volts, threshold in _KVP_THRESHOLD_HU.items():
        if abs(kv - volts) < 1.0:
            return threshold
    raise ParameterError(
        f"kvp={kv:g}: no validated kV-specific calcium threshold (known: "
        f"{', '.join(f'{v:g} kV' for v in _KVP_THRESHOLD_HU)}); use the 130 HU threshold"
    )


def density_weight(peak_hu: np.ndarray | float) -> np.ndarray:
    """Agatston density weight of a lesion from its peak HU.

    1 for 130-199 HU, 2 for 200-299, 3 for 300-399, 4 for >= 400 (peaks below 130 get 0).
    A peak of 199.9 HU weighs 1: the bands are half-open ``[130, 200)``, ``[200, 300)``...
    """
    peak = np.asarray(peak_hu, dtype=float)
    return np.digitize(peak, [130.0, 200.0, 300.0, 400.0]).astype(np.int64)


def slice_normalisation_factor(slice_increment_mm: float, reference_mm: float = 3.0) -> float:
    """Multiplier of every slice's area x weight: ``slice_increment_mm / 3 mm``.

    The slice increment (centre-to-centre spacing), not the nominal thickness, so that
    overlapping reconstructions are not counted twice (see the module docstring).
    """
    if not slice_increment_mm > 0:
        raise ParameterError(f"slice increment must be positive; got {slice_increment_mm} mm")
    return float(slice_increment_mm) / reference_mm


def label_slice_lesions(
    hu: np.ndarray, *, pixel_area_mm2: float, convention: AgatstonConvention
) -> tuple[np.ndarray, int]:
    """Label the Agatston slice lesions of a volume.

    Parameters
    ----------
    hu
        CT values in HU, shape ``(z, y, x)``.
    pixel_area_mm2
        Area of one pixel (mm^2).
    convention
        Threshold, minimum area.

    Returns
    -------
    labels, n
        ``labels`` (int32, same shape): 0 outside calcium, 1..n one per slice lesion
        (8-connected in-plane, never across slices) of area >= ``min_area_mm2``.
    """
    labels, n = ndi.label(hu >= convention.threshold_hu, structure=IN_PLANE_8)
    if n == 0:
        return labels.astype(np.int32), 0
    area = np.bincount(labels.ravel(), minlength=n + 1) * pixel_area_mm2
    # Relative tolerance so that an area of exactly 1 mm^2 built from pixels is kept.
    keep = area >= convention.min_area_mm2 * (1.0 - 1e-9)
    keep[0] = False
    new_ids = np.zeros(n + 1, dtype=np.int32)
    new_ids[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return new_ids[labels], int(keep.sum())
