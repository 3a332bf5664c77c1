"""Noise spikes: calcium groups that image noise alone explains.

On low-dose scans (PET/CT and SPECT/CT attenuation CT, non-gated chest CT) the noise
standard deviation reaches 30-60 HU, and blood or myocardium at 40 HU crosses the 130 HU
Agatston threshold by noise alone in groups of several pixels (>= 1 mm^2). Such a group
is told from calcium by its contrast after a light in-plane smoothing (Gaussian, sigma
0.75 mm), which averages noise away but keeps a lesion's signal: a group is a noise spike
when its smoothed peak stays below the smoothed heart core's median + :data:`MIN_SNR`
standard deviations (1.4826 x the median absolute deviation, robust to valve calcium),
both measured on the same smoothing inside the heart's core
(:attr:`cardiolens.ct.heart.HeartRegion.core`). With Gaussian noise a pixel exceeds 5
standard deviations once in 3.5 million, so pure noise is left out and a lesion needs a
smoothed contrast of 5 noise units (the ``QRM`` phantom mode uses the same principle with
6 units around each insert, :mod:`cardiolens.ct.qrm`). A group of one or two pixels loses
its contrast in any smoothing, so a group is also kept when its raw peak reaches
:data:`MIN_RAW_SNR` (6) raw standard deviations above the core: the largest of 10 million
Gaussian noise values lies near 5.3 standard deviations.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.volume import Volume
from cardiolens.ct.body import smooth_hu

__all__ = ["MIN_RAW_SNR", "MIN_SNR", "SMOOTHING_MM", "noise_spikes"]

#: Smoothed contrast over the smoothed noise (standard deviations) a calcium group needs.
MIN_SNR = 5.0
#: Raw peak over the raw noise (standard deviations) that keeps a group however small.
MIN_RAW_SNR = 6.0
#: In-plane Gaussian sigma of the smoothing (mm).
SMOOTHING_MM = 0.75


def _robust(values: np.ndarray) -> tuple[float, float]:
    """Median and standard deviation from the median absolute deviation (x 1.4826)."""
    centre = float(np.median(values))
    return centre, 1.4826 * float(np.median(np.abs(values - centre)))


def noise_spikes(
    volume: Volume, components: np.ndarray, core: np.ndarray
) -> tuple[set[int], float]:
    """Labels of the groups that noise explains, and the smoothed threshold (HU) used.

    Only groups whose bounding box meets the heart's bounding box (plus 30 mm) are
    tested; the others are left to the location rules.
    """
    z, y, x = np.nonzero(core)
    if z.size < 100:
        return set(), -np.inf
    margin = (2, *(int(np.ceil(30.0 / s)) for s in volume.spacing_mm[1:]))
    box = tuple(
        slice(max(int(c.min()) - m, 0), min(int(c.max()) + m + 1, n))
        for c, m, n in zip((z, y, x), margin, volume.shape, strict=True)
    )
    raw = np.asarray(volume.array[box], dtype=np.float32)
    smoothed = smooth_hu(raw, SMOOTHING_MM, volume.spacing_mm)
    # Robust statistics: valve calcium or papillary muscles in the core do not count.
    centre, spread = _robust(smoothed[core[box]])
    raw_centre, raw_spread = _robust(raw[core[box]])
    threshold = centre + MIN_SNR * spread
    labels = components[box]
    present = np.unique(labels[labels > 0])
    if present.size == 0:
        return set(), threshold
    peaks = np.asarray(ndi.maximum(smoothed, labels, present))
    raw_peaks = np.asarray(ndi.maximum(raw, labels, present))
    noise = (peaks < threshold) & (raw_peaks < raw_centre + MIN_RAW_SNR * raw_spread)
    return {int(k) for k in present[noise]}, threshold
