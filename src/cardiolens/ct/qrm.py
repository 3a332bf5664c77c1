"""Scanner QA mode for calcium phantoms (QRM cardiac calcification insert, QRM-CCI).

No heart is sought. Inside the phantom body, every 3D group of calcium voxels (>= the
Agatston threshold, slice lesions >= 1 mm^2) is sorted into:

* **calibration rod**: a cylinder 7-25 mm across (20 mm in the QRM-CCI), >= 6 mm long, 150-600 HU (the
  200 mg HA/cm^3 rod). Its companion water rod is found as the darkest disk of ~10 mm
  near it in the same slices (its size). The two give McCollough's mass calibration;
* **bone-equivalent structure** (the phantom's spine) or body edge: larger than any insert
  (> 1000 mm^3 of calcium, > 16 mm across) or within 10 mm of the body surface (in-plane);
* **noise**: its smoothed peak rises less than 6 standard deviations above the smoothed
  local background (QRM inserts are >= 7 at 20 HU noise, pure noise < 5);
* **insert**: the rest, reported as lesions with artery ``None``.

Partial-volume limit: a 1 mm insert (0.8 mm^3) is a fraction of one 0.5 x 0.5 x 3 mm voxel
column, so its peak falls below 130 HU unless it is dense (800 mg HA/cm^3); when found,
its scores (in particular the mass) are dominated by blur and noise and are not
quantitative (the published integrated method gives > 100 % error for 1 mm inserts).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.errors import AnalysisError
from cardiolens.core.volume import Volume
from cardiolens.ct.body import IN_PLANE_8, body_mask, in_plane_disk, smooth_hu
from cardiolens.ct.calibration import (
    MassCalibration,
    calibration_from_rods,
    default_mass_calibration,
)

__all__ = ["PHANTOM_PARTIAL_VOLUME_LIMIT", "PhantomFindings", "find_phantom_inserts"]

logger = logging.getLogger(__name__)

#: Statement of the partial-volume limit reported with every phantom analysis.
PHANTOM_PARTIAL_VOLUME_LIMIT = (
    "inserts of 1 mm diameter are below the partial-volume limit of 3 mm slices: "
    "detected only when dense, and their scores are not quantitative"
)

_MAX_INSERT_MM3 = 1000.0
_MAX_INSERT_DIAMETER_MM = 16.0
_ROD_DIAMETER_MM = (7.0, 25.0)
_ROD_HU = (150.0, 600.0)
_EDGE_MARGIN_MM = 10.0
_MIN_CNR = 6.0


@dataclass(frozen=True)
class PhantomFindings:
    """What the phantom QA mode found.

    Attributes
    ----------
    insert_labels
        Label image of the inserts, 1..n (int32, shape of the CT).
    calibration
        Mass calibration from the rods (or the kV default, flagged).
    excluded
        Counts of left-out structures: ``calibration_rod``, ``bone_or_edge``, ``noise``.
    quality_flags
        Messages for the report.
    """

    insert_labels: np.ndarray
    calibration: MassCalibration
    excluded: dict[str, int] = field(default_factory=dict)
    quality_flags: tuple[str, ...] = ()


def _rod_core_mean(hu: np.ndarray, disk_mask: np.ndarray, slices: np.ndarray) -> float:
    return float(np.mean(hu[slices][disk_mask[slices]], dtype=np.float64))


def _find_rods(
    volume: Volume, components: np.ndarray, candidates: list[int]
) -> tuple[list[int], MassCalibration | None]:
    """The 200 mg HA/cm^3 rod among ``candidates`` and the water rod beside it."""
    hu = np.asarray(volume.array, dtype=np.float32)
    sz, sy, sx = volume.spacing_mm
    pixel_area = sy * sx
    boxes = ndi.find_objects(components)
    for cid in candidates:
        mask = components[boxes[cid - 1]] == cid
        areas = mask.sum(axis=(1, 2)) * pixel_area
        diameter = 2.0 * np.sqrt(areas.max() / np.pi)
        long_slices = np.flatnonzero(areas >= 0.8 * areas.max())
        if (
            not (_ROD_DIAMETER_MM[0] <= diameter <= _ROD_DIAMETER_MM[1])
            or long_slices.size * sz < 6.0
        ):
            continue
        z0 = boxes[cid - 1][0].start
        full = np.zeros(hu.shape, dtype=bool)
        full[boxes[cid - 1]] = mask
        core = ndi.binary_erosion(full, structure=in_plane_disk(2.0, (sy, sx)))
        per_slice = np.array(
            [hu[z0 + z][core[z0 + z]].mean() if core[z0 + z].any() else -1e9 for z in long_slices]
        )
        if not (_ROD_HU[0] <= per_slice.max() <= _ROD_HU[1]):
            continue
        rod_slices = z0 + long_slices[per_slice >= 0.9 * per_slice.max()]
        hu_rod = _rod_core_mean(hu, core, rod_slices)
        hu_water = _find_water_rod(volume, full, rod_slices, diameter)
        logger.info("calibration rods: 200 mg HA %.1f HU, water %s HU", hu_rod, hu_water)
        if hu_water is None:
            return [cid], None
        return [cid], calibration_from_rods(hu_water=hu_water, hu_rod=hu_rod)
    return [], None


def _find_water_rod(
    volume: Volume, rod: np.ndarray, rod_slices: np.ndarray, diameter_mm: float
) -> float | None:
    """Mean HU of the darkest rod-sized disk within 40 mm of the HA rod, if it is one."""
    hu = np.asarray(volume.array, dtype=np.float32)[rod_slices].mean(axis=0)
    _, sy, sx = volume.spacing_mm
    window = (max(int(0.7 * diameter_mm / sy), 3), max(int(0.7 * diameter_mm / sx), 3))
    local_mean = ndi.uniform_filter(hu, window)
    no_air = ndi.uniform_filter((hu < -300).astype(np.float32), (3 * window[0], 3 * window[1])) == 0
    centre = np.argwhere(rod[rod_slices].any(axis=0)).mean(axis=0)
    yy, xx = np.indices(hu.shape)
    near = ((yy - centre[0]) * sy) ** 2 + ((xx - centre[1]) * sx) ** 2 <= 40.0**2
    away = ~ndi.binary_dilation(
        rod[rod_slices].any(axis=0), structure=in_plane_disk(0.3 * diameter_mm, (sy, sx))[0]
    )
    search = near & away & no_air
    if not search.any():
        return None
    background = float(np.median(local_mean[search]))
    darkest = np.unravel_index(np.argmin(np.where(search, local_mean, np.inf)), hu.shape)
    if local_mean[darkest] > background - 15.0:
        return None
    disk = ((yy - darkest[0]) * sy) ** 2 + ((xx - darkest[1]) * sx) ** 2 <= (0.3 * diameter_mm) ** 2
    return float(hu[disk].mean())


def _cnr(smoothed: np.ndarray, component: np.ndarray, calcium: np.ndarray) -> float:
    """Smoothed peak over the smoothed background of the crop, in standard deviations."""
    background = smoothed[~ndi.binary_dilation(calcium, structure=IN_PLANE_8, iterations=3)]
    if background.size < 20:
        return np.inf
    return float((smoothed[component].max() - background.mean()) / max(background.std(), 1e-3))


def find_phantom_inserts(
    volume: Volume, components: np.ndarray, n_components: int, *, kvp: float | None = None
) -> PhantomFindings:
    """Sort the calcium of a phantom scan into inserts, rods, bone-like structures and noise.

    Parameters
    ----------
    volume
        CT of the phantom (HU).
    components
        3D calcium groups labelled 1..n (from :func:`cardiolens.ct.lesions.calcium_components`).
    n_components
        Number of groups.
    kvp
        Tube voltage, for the default calibration when no rods are found.
    """
    hu = np.asarray(volume.array, dtype=np.float32)
    sz, sy, sx = volume.spacing_mm
    body = body_mask(hu)
    if not body.any():
        raise AnalysisError(
            "phantom mode: no phantom body (nothing denser than -300 HU) in the scan"
        )
    # In-plane distance to the body surface, slice by slice (2D Euclidean distance).
    interior = np.stack(
        [ndi.distance_transform_edt(b, sampling=(sy, sx)) > _EDGE_MARGIN_MM for b in body]
    )
    n_vox = np.bincount(components.ravel(), minlength=n_components + 1)
    n_inside = np.bincount(components[interior].ravel(), minlength=n_components + 1)
    boxes = ndi.find_objects(components)
    excluded = {"calibration_rod": 0, "bone_or_edge": 0, "noise": 0}
    big: list[int] = []
    small: list[int] = []
    for cid in range(1, n_components + 1):
        box = boxes[cid - 1]
        extent_mm = max((box[1].stop - box[1].start) * sy, (box[2].stop - box[2].start) * sx)
        if n_inside[cid] < n_vox[cid]:
            excluded["bone_or_edge"] += 1
        elif n_vox[cid] * sz * sy * sx > _MAX_INSERT_MM3 or extent_mm > _MAX_INSERT_DIAMETER_MM:
            big.append(cid)
        else:
            small.append(cid)
    rods, calibration = _find_rods(volume, components, big)
    excluded["calibration_rod"] = len(rods)
    excluded["bone_or_edge"] += len(big) - len(rods)
    flags: list[str] = [PHANTOM_PARTIAL_VOLUME_LIMIT]
    if calibration is None:
        calibration = default_mass_calibration(kvp)
        flags.append(
            f"no calibration rods found; mass calibration is the {calibration.source} default"
        )
    smoothed = smooth_hu(hu, 0.75, volume.spacing_mm)
    calcium = components > 0
    inserts = np.zeros(hu.shape, dtype=np.int32)
    pad_y, pad_x = int(np.ceil(6.0 / sy)), int(np.ceil(6.0 / sx))
    for cid in small:
        box = tuple(
            slice(max(b.start - p, 0), b.stop + p)
            for b, p in zip(boxes[cid - 1], (1, pad_y, pad_x), strict=True)
        )
        component = components[box] == cid
        if _cnr(smoothed[box], component, calcium[box]) < _MIN_CNR:
            excluded["noise"] += 1
            continue
        inserts[box][component] = int(inserts.max()) + 1
    logger.info("phantom: %d inserts, left out %s", int(inserts.max()), excluded)
    return PhantomFindings(inserts, calibration, excluded, tuple(flags))
