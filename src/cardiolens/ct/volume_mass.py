"""Volume score and mass score of calcified voxels.

* Volume score (Callister et al., Radiology 1998): number of calcium voxels (those kept by
  the Agatston threshold and minimum-area rule) times the voxel volume, where the voxel's
  z size is the slice increment (so overlapping reconstructions are not double counted).
* Mass score (McCollough et al., Radiology 2007): ``mass = c x mean HU x volume``
  = ``c x sum(HU) x voxel volume`` over the same voxels, ``c`` from
  :mod:`cardiolens.ct.calibration`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mass_score_mg", "volume_score_mm3"]


def volume_score_mm3(n_voxels: int, voxel_volume_mm3: float) -> float:
    """Volume score (mm^3) of ``n_voxels`` calcium voxels of ``voxel_volume_mm3`` each."""
    return float(n_voxels) * float(voxel_volume_mm3)


def mass_score_mg(
    hu_values: np.ndarray, voxel_volume_mm3: float, factor_mg_per_hu_mm3: float
) -> float:
    """Mass score (mg): ``c x mean HU x volume`` of the calcium voxels' HU values.

    Parameters
    ----------
    hu_values
        HU of the lesion's calcium voxels, any shape.
    voxel_volume_mm3
        Volume of one voxel (pixel area x slice increment).
    factor_mg_per_hu_mm3
        Calibration factor ``c``.
    """
    return float(factor_mg_per_hu_mm3 * np.sum(hu_values, dtype=np.float64) * voxel_volume_mm3)
