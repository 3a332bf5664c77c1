"""AHA 17-segment values and coronary territories of a polar map.

Segments and territories follow :mod:`cardiolens.core.aha` (Cerqueira MD et al.,
Circulation 2002;105:539-542): LAD 1, 2, 7, 8, 13, 14, 17; RCA 3, 4, 9, 10, 15;
LCx 5, 6, 11, 12, 16.
"""

from __future__ import annotations

import numpy as np

from cardiolens.core.aha import SEGMENT_TERRITORY, Territory
from cardiolens.nuclear.polar import PolarMap

__all__ = ["segment_average", "segment_values_pct", "territory_mask", "dominant_territory"]


def segment_average(values: np.ndarray, polar: PolarMap) -> np.ndarray:
    """Area-weighted mean of a per-sample map in each AHA segment, shape (17,).

    Segment ``s`` is at index ``s - 1``; a segment with no sample is NaN.
    """
    out = np.full(17, np.nan)
    for seg in range(1, 18):
        inside = polar.segment == seg
        weight = polar.area_weight[inside]
        if weight.sum() > 0:
            out[seg - 1] = float(np.sum(values[inside] * weight) / weight.sum())
    return out


def segment_values_pct(polar: PolarMap) -> np.ndarray:
    """Mean normalised uptake (% of maximum) of the 17 AHA segments, shape (17,)."""
    return segment_average(polar.values_pct, polar)


def territory_mask(polar: PolarMap, territory: Territory | str) -> np.ndarray:
    """Boolean map of the samples supplied by a coronary territory."""
    territory = Territory(territory)
    segments = [s for s, t in SEGMENT_TERRITORY.items() if t == territory]
    return np.isin(polar.segment, segments)


def dominant_territory(per_territory: dict[str, float]) -> str | None:
    """The territory with the largest value, or None when all are 0."""
    name, value = max(per_territory.items(), key=lambda item: item[1])
    return name if value > 0 else None
