"""Noise spikes: calcium groups that image noise alone explains.

On low-dose scans (PET/CT and SPECT/CT attenuation CT, non-gated chest CT) the noise
standard deviation reaches 30-60 HU, and blood or myocardium at 40 HU crosses the 130 HU
Agatston threshold by noise alone in groups of several pixels (>= 1 mm^2). The decision is
taken per 3D calcium group, never per voxel: a group kept keeps all its voxels. A group
is a noise spike only when all three tests below find no signal beyond the noise measured
in the heart's core (:attr:`cardiolens.ct.heart.HeartRegion.core`; robust standard
deviation, 1.4826 x the median absolute deviation, so that valve calcium or papillary
muscles do not count):

1. **Smoothed contrast.** After a light in-plane smoothing (Gaussian, sigma 0.75 mm),
   which averages noise away but keeps a lesion's signal, its peak stays below the
   smoothed core's median + :data:`MIN_SNR` (5) smoothed standard deviations. With
   Gaussian noise a pixel exceeds 5 standard deviations once in 3.5 million (the ``QRM``
   phantom mode uses the same principle with 6 units around each insert,
   :mod:`cardiolens.ct.qrm`).
2. **Raw peak.** A group of one or two pixels loses its contrast in any smoothing, so a
   group is kept when its raw peak reaches :data:`MIN_RAW_SNR` (6) raw standard
   deviations above the core: the largest of 10 million Gaussian noise values lies near
   5.3 standard deviations.
3. **Local contrast.** A small faint lesion (a few pixels at 150-200 HU) fails both
   tests, yet it sits in the epicardial fat (-100 HU) beside its artery, where noise at
   30-40 HU cannot reach 130 HU, while a noise spike rises from blood or myocardium at
   40 HU. A group is kept when its raw peak stands :data:`MIN_LOCAL_SNR` (6) raw
   standard deviations above the median of its own surroundings (a 1-3 mm in-plane
   shell on its slices, calcium left out): the contrast a signal has over the tissue it
   lies in, which noise of that tissue reaches once in 10 million pixels, as in test 2.
   On 871 noise spikes of the eight 25-40 HU attenuation-CT phantoms of the benchmark
   sweep the largest local contrast was 5.4, and the smallest of their true lesions 7.0.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.volume import Volume
from cardiolens.ct.body import in_plane_disk, smooth_hu

__all__ = ["MIN_LOCAL_SNR", "MIN_RAW_SNR", "MIN_SNR", "SMOOTHING_MM", "noise_spikes"]

#: Smoothed contrast over the smoothed noise (standard deviations) a calcium group needs.
MIN_SNR = 5.0
#: Raw peak over the raw noise (standard deviations) that keeps a group however small.
MIN_RAW_SNR = 6.0
#: Raw peak over the median of its 1-3 mm surroundings (raw standard deviations) that keeps a group.
MIN_LOCAL_SNR = 6.0
#: In-plane Gaussian sigma of the smoothing (mm).
SMOOTHING_MM = 0.75
#: Inner and outer radius of the shell of surroundings (mm).
_SHELL_MM = (1.0, 3.0)


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
    peaks, raw_peaks = (_peaks(image, labels, present) for image in (smoothed, raw))
    noise = (peaks < threshold) & (raw_peaks < raw_centre + MIN_RAW_SNR * raw_spread)
    boxes = ndi.find_objects(labels)
    spikes = set()
    for k, peak in zip(present[noise], raw_peaks[noise], strict=True):
        around = _surroundings_hu(raw, labels, int(k), boxes[k - 1], volume.spacing_mm[1:])
        if peak < around + MIN_LOCAL_SNR * raw_spread:
            spikes.add(int(k))
    return spikes, threshold


def _peaks(image: np.ndarray, labels: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Highest value of ``image`` in each group of ``present`` (from the labelled voxels only)."""
    inside = labels > 0
    peaks = np.full(int(present.max()) + 1, -np.inf, dtype=np.float64)
    np.maximum.at(peaks, labels[inside], image[inside])
    return peaks[present]


def _surroundings_hu(
    raw: np.ndarray,
    labels: np.ndarray,
    label: int,
    box: tuple[slice, ...],
    pixel_mm: tuple[float, float],
) -> float:
    """Median HU of the 1-3 mm in-plane shell around group ``label``, calcium left out."""
    outer_disk = in_plane_disk(_SHELL_MM[1], pixel_mm)
    reach = outer_disk.shape[1] // 2 + 1, outer_disk.shape[2] // 2 + 1
    crop = (
        box[0],
        *(slice(max(b.start - r, 0), b.stop + r) for b, r in zip(box[1:], reach, strict=True)),
    )
    group = labels[crop] == label
    inner = ndi.binary_dilation(group, structure=in_plane_disk(_SHELL_MM[0], pixel_mm))
    shell = ndi.binary_dilation(group, structure=outer_disk) & ~inner & (labels[crop] == 0)
    return float(np.median(raw[crop][shell])) if shell.any() else np.inf
