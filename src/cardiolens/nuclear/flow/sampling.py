"""Myocardial and blood-pool time-activity curves from dynamic PET frames.

The LV is segmented once, on the late (uptake) image, by the nuclear stage's
localisation, reorientation and surface fit (:func:`cardiolens.nuclear.analysis.analyze_image`);
each frame is then sampled at the same places (the surfaces are fixed):

* myocardium: the value at the mid-wall (the late image's count-maximum radius,
  where partial-volume loss is smallest) on every ray of the polar grid;
* LV blood pool (input function): voxels within ``max(r_inner - 6 mm, 3 mm)`` of the
  long axis, between 40 % and 85 % of the way from the apical origin to the valve
  plane (mid-basal cavity, away from the apical wall);
* RV blood pool (for septal spillover): a 6-mm ball at the hottest point of the
  first pass (frames up to the LV peak) found 3-40 mm outside the septal epicardium.

For O-15 water, which is not retained, the late image is replaced by a tissue
image: the coefficient of a one-tissue response in a per-voxel regression on blood
curves and that response (the basis-function idea of parametric water imaging, e.g.
Harms HJ et al., Eur J Nucl Med Mol Imaging 2011;38:930-9), so the blood pools
vanish and the myocardium stands out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cardiolens.core.errors import AnalysisError
from cardiolens.core.volume import Volume
from cardiolens.nuclear.segment import LvSurfaces

__all__ = ["BloodPools", "late_image", "sample_myocardium", "blood_pools"]

#: Frames starting at or after this time (s) make the late image, by tracer.
LATE_START_S = {"rb82": 120.0, "nh3": 240.0, "h2o": 120.0}


def _weighted_mean(frames: list[Volume], durations: np.ndarray, keep: np.ndarray) -> np.ndarray:
    weights = durations[keep] / durations[keep].sum()
    chosen = [f.array for f, k in zip(frames, keep, strict=True) if k]
    return np.tensordot(weights, np.asarray(chosen, dtype=np.float64), axes=1)


def _water_tissue_image(
    frames: list[Volume], starts_s: np.ndarray, durations_s: np.ndarray
) -> np.ndarray:
    """Tissue-coefficient image of water: per voxel ``C(t) = a B(t) + a' B'(t) + b g(t)``, the map of ``b``.

    ``B`` is the blood curve of the hottest first-pass voxels (above half the maximum of
    the mean first-pass image: mostly the RV), ``B'`` the same delayed and dispersed by
    5 s (``B`` through a 12/min compartment: the LV cavity comes later), ``g`` its
    one-tissue response at MBF 1 mL/min/g (``k2 = 1 / 0.91`` per min); least squares
    weighted by frame duration. Blood pools get ``b`` near 0, the slowly exchanging body
    a small ``b``, the myocardium a large one.
    """
    from cardiolens.nuclear.flow.kinetics import WATER_PARTITION_ML_G, frame_tissue_curves

    data = np.asarray([f.array for f in frames], dtype=np.float64).reshape(len(frames), -1)
    peaks = np.percentile(data, 99.9, axis=1)
    first_pass = np.arange(len(frames)) <= int(np.argmax(peaks)) + 1
    blood_image = np.average(data[first_pass], axis=0, weights=durations_s[first_pass])
    pools = blood_image >= 0.5 * blood_image.max()
    blood = data[:, pools].mean(axis=1)
    tissue = frame_tissue_curves(blood, starts_s, durations_s, 1.0, 1.0 / WATER_PARTITION_ML_G)
    delayed = frame_tissue_curves(blood, starts_s, durations_s, 12.0, 12.0)
    design = np.column_stack([blood, delayed, tissue]) * np.sqrt(durations_s)[:, None]
    coefficients = np.linalg.lstsq(design, data * np.sqrt(durations_s)[:, None], rcond=None)[0]
    return np.clip(coefficients[2], 0.0, None).reshape(frames[0].shape)


def late_image(
    frames: list[Volume], starts_s: np.ndarray, durations_s: np.ndarray, tracer: str
) -> Volume:
    """The image the LV is segmented on (duration-weighted mean of the late frames)."""
    keep = starts_s >= LATE_START_S[tracer]
    if keep.sum() == 0:
        keep = np.arange(len(starts_s)) >= len(starts_s) // 2
    late = _weighted_mean(frames, durations_s, keep)
    if tracer == "h2o":
        late = _water_tissue_image(frames, starts_s, durations_s)
    return frames[0].with_array(late.astype(np.float32), modality="PT")


def sample_myocardium(frames: list[Volume], surfaces: LvSurfaces) -> np.ndarray:
    """Mid-wall (count-maximum radius) TACs, shape ``(n_frames, n_rings, n_angles)``, image units."""
    points = surfaces.points_lps(surfaces.r_mid_mm).reshape(-1, 3)
    index = frames[0].physical_to_index(points).T
    out = np.empty((len(frames), *surfaces.r_mid_mm.shape))
    for k, frame in enumerate(frames):
        values = ndimage.map_coordinates(
            frame.array.astype(np.float64), index, order=1, mode="nearest"
        )
        out[k] = values.reshape(surfaces.r_mid_mm.shape)
    return out


@dataclass(frozen=True)
class BloodPools:
    """LV and RV blood-pool curves (image units) and their ROIs (boolean arrays on the frame grid)."""

    lv: np.ndarray
    rv: np.ndarray
    lv_roi: np.ndarray
    rv_roi: np.ndarray
    rv_centre_lps: tuple[float, float, float]

    def roi_ml(self, spacing_mm: tuple[float, float, float]) -> tuple[float, float]:
        """LV and RV ROI volumes (mL)."""
        voxel = float(np.prod(spacing_mm)) / 1000.0
        return float(self.lv_roi.sum()) * voxel, float(self.rv_roi.sum()) * voxel


def _curve(frames: list[Volume], roi: np.ndarray) -> np.ndarray:
    return np.array([float(np.mean(f.array[roi], dtype=np.float64)) for f in frames])


def blood_pools(frames: list[Volume], surfaces: LvSurfaces, path=None) -> BloodPools:
    """LV input and RV curves from ROIs placed on the LV surfaces (see the module doc)."""
    reference = frames[0]
    g = surfaces.grid
    index = np.indices(reference.shape).reshape(3, -1).T
    height, rho, _ = surfaces.axes.to_lv(reference.index_to_physical(index))
    valve = float(np.median(surfaces.valve_height_mm))
    inner = float(np.median(surfaces.r_inner_mm[g.n_apical :]))
    radius = max(inner - 6.0, 3.0)
    lv_roi = ((height >= 0.4 * valve) & (height <= 0.85 * valve) & (rho <= radius)).reshape(
        reference.shape
    )
    if lv_roi.sum() < 5:
        raise AnalysisError(
            f"LV blood-pool ROI holds {int(lv_roi.sum())} voxels: the LV cavity is too small "
            "for an input function",
            path,
        )
    lv = _curve(frames, lv_roi)
    peak = int(np.argmax(lv))
    heights = np.linspace(0.3, 0.7, 5) * valve
    angles = np.arange(60.0, 121.0, 10.0)
    outer = float(np.median(surfaces.r_outer_mm[g.n_apical :]))
    radii = outer + np.arange(3.0, 41.0, 2.0)
    h, a, r = np.meshgrid(heights, angles, radii, indexing="ij")
    axes = surfaces.axes
    points = (
        np.asarray(axes.origin_lps)
        + h[..., None] * np.asarray(axes.long_axis_lps)
        + r[..., None] * axes.direction(a)
    ).reshape(-1, 3)
    candidate_index = reference.physical_to_index(points).T
    best, best_value = points[0], -np.inf
    for frame in frames[: peak + 1]:
        values = ndimage.map_coordinates(frame.array.astype(np.float64), candidate_index, order=1)
        k = int(np.argmax(values))
        if values[k] > best_value:
            best, best_value = points[k], float(values[k])
    distance = np.linalg.norm(reference.index_to_physical(index) - best, axis=1)
    rv_roi = (distance <= 6.0).reshape(reference.shape) & ~lv_roi
    rv = _curve(frames, rv_roi) if rv_roi.any() else np.zeros(len(frames))
    return BloodPools(lv, rv, lv_roi, rv_roi, tuple(float(v) for v in best))
