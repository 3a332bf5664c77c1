"""Polar maps: maximal-count samples of the LV myocardium on a standard grid.

Each sample is the maximum count along a ray normal to the mid-myocardium
(maximal-count circumferential profiles; Garcia EV et al., J Nucl Med
1985;26:17-26), expressed as % of the LV maximum. The apical dome is sampled
spherically, so the apex cap (AHA segment 17) is the centre of the map
(Cerqueira MD et al., Circulation 2002;105:539-542).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from cardiolens.nuclear.segment import LvSurfaces, RayGrid

__all__ = ["PolarMap", "polar_map"]


@dataclass(frozen=True, eq=False)
class PolarMap:
    """A polar map on a :class:`~cardiolens.nuclear.segment.RayGrid`.

    Arrays are ``(n_rings, n_angles)``: ring 0 at the apex, the last ring at
    the valve plane; angles 0 anterior, 90 septal, 180 inferior, 270 lateral.

    Attributes
    ----------
    values_pct
        Uptake as % of the map maximum.
    long_axis_fraction
        AHA long-axis fraction of each sample (< 0: apex cap).
    segment
        AHA segment (1-17) of each sample.
    area_weight
        Fraction of the myocardial surface represented by each sample (sums to 1).
    grid
        The sampling grid.
    max_counts
        Counts (image units) that 100 % corresponds to.
    """

    values_pct: np.ndarray
    long_axis_fraction: np.ndarray
    segment: np.ndarray
    area_weight: np.ndarray
    grid: RayGrid
    max_counts: float

    @property
    def angle_deg(self) -> np.ndarray:
        """Angle of each column, degrees."""
        return self.grid.angle_deg

    def with_values(self, values_pct: np.ndarray) -> PolarMap:
        """The same geometry with other values (for example a reversibility map)."""
        return PolarMap(
            values_pct=np.asarray(values_pct, dtype=float),
            long_axis_fraction=self.long_axis_fraction,
            segment=self.segment,
            area_weight=self.area_weight,
            grid=self.grid,
            max_counts=self.max_counts,
        )


def polar_map(surfaces: LvSurfaces) -> PolarMap:
    """The polar map of fitted LV surfaces, normalised to its maximum.

    The maximum is taken after a 3x3 moving average (wrap-around in angle), so
    that a single noisy sample does not set the 100 % level.
    """
    counts = surfaces.max_counts.astype(float)
    padded = np.pad(counts, ((0, 0), (1, 1)), mode="wrap")
    smooth = ndi.uniform_filter(padded, size=3, mode="nearest")[:, 1:-1]
    top = float(smooth.max())
    area = surfaces.area_mm2()
    return PolarMap(
        values_pct=100.0 * counts / top,
        long_axis_fraction=surfaces.long_axis_fraction(),
        segment=surfaces.segment_map(),
        area_weight=area / area.sum(),
        grid=surfaces.grid,
        max_counts=top,
    )
