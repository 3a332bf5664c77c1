"""Find the heart on non-contrast CT (gated calcium CT, chest CT, PET/CT attenuation CT).

The heart is the largest mass of soft tissue (-30 to 700 HU on 2 mm block means, so that
contrast-filled blood is kept and the contrast can be flagged) that lies between the
lungs (lung on both sides along the image row) and anterior to the spine, after an
erosion of 6 mm that cuts its thin links to the great vessels and the chest wall; it is
then dilated back inside the soft tissue: the anatomical heuristic of automatic
calcium-scoring pipelines (the heart is the mediastinal mass framed by the lungs and the
spine). The contrast of the blood pool is measured here and flagged by the caller.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.errors import AnalysisError
from cardiolens.core.volume import Volume
from cardiolens.ct.body import body_mask

__all__ = ["CONTRAST_BLOOD_POOL_HU", "HeartRegion", "find_heart", "thoracic_cavity"]

logger = logging.getLogger(__name__)

#: Blood-pool HU above which the scan is taken as contrast-enhanced. Unenhanced blood is
#: 30-60 HU (it rises with the haematocrit); CCTA aims at a luminal attenuation of at
#: least 250 HU (Abbara et al., SCCT guidelines for coronary CT angiography, J Cardiovasc
#: Comput Tomogr 2016). 150 HU, about midway, is this implementation's choice.
CONTRAST_BLOOD_POOL_HU = 150.0

_LUNG_HU = -400.0
_TISSUE_HU = (-30.0, 700.0)
_EROSION_MM = 6.0
_WORK_PIXEL_MM = 2.0


@dataclass(frozen=True)
class HeartRegion:
    """The heart found on a CT.

    Attributes
    ----------
    mask
        Heart soft tissue (bool, shape of the CT).
    centre_index
        Centroid ``(z, y, x)`` in voxel indices.
    centre_mm
        Centroid in LPS mm.
    blood_pool_hu
        75th percentile of HU in the heart's core (eroded 10 mm), which the blood of the
        chambers dominates: ~40 HU without contrast, 250-500 HU with.
    lungs
        Lung mask.
    """

    mask: np.ndarray
    centre_index: tuple[float, float, float]
    centre_mm: tuple[float, float, float]
    blood_pool_hu: float
    lungs: np.ndarray

    @property
    def contrast_enhanced(self) -> bool:
        """True when the blood pool is brighter than :data:`CONTRAST_BLOOD_POOL_HU`."""
        return self.blood_pool_hu > CONTRAST_BLOOD_POOL_HU


def _ellipsoid_ball(radius_mm: float, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    n = [max(int(radius_mm // s), 0) for s in spacing_mm]
    grids = np.ogrid[tuple(slice(-k, k + 1) for k in n)]
    return sum((g * s / radius_mm) ** 2 for g, s in zip(grids, spacing_mm, strict=True)) <= 1.0


def _between_lungs(lungs: np.ndarray) -> np.ndarray:
    """Voxels with lung on both sides along their image row."""
    left = np.maximum.accumulate(lungs, axis=2)
    right = np.maximum.accumulate(lungs[:, :, ::-1], axis=2)[:, :, ::-1]
    return left & right & ~lungs


def find_heart(volume: Volume) -> HeartRegion:
    """Locate the heart of a (non-contrast or contrast) chest CT.

    Raises
    ------
    AnalysisError
        When no lungs or no mediastinal soft tissue are found (not a chest CT).
    """
    hu = np.asarray(volume.array, dtype=np.float32)
    # Work on ~2 mm pixels: block means (which also smooth the noise).
    factor = max(int(round(_WORK_PIXEL_MM / min(volume.spacing_mm[1:]))), 1)
    smoothed = _block_mean(hu, factor)
    spacing = (volume.spacing_mm[0], volume.spacing_mm[1] * factor, volume.spacing_mm[2] * factor)
    voxel_mm3 = float(np.prod(spacing))
    body = body_mask(smoothed)
    lungs, n = ndi.label(body & (smoothed < _LUNG_HU))
    if n == 0:
        raise AnalysisError("no lungs found: is this a chest CT? (phantom scans need --phantom)")
    sizes = np.bincount(lungs.ravel()) * voxel_mm3
    sizes[0] = 0
    lungs = np.isin(lungs, np.flatnonzero(sizes > 50_000.0))
    bone = smoothed > 250.0
    tissue = (smoothed >= _TISSUE_HU[0]) & (smoothed <= _TISSUE_HU[1]) & _between_lungs(lungs)
    spine = _spine_front_row(bone, body)
    if spine is not None:
        tissue[:, spine:, :] = False
    # Erode in-plane by a disk (z is too coarse on 3 mm slices), keep the largest core.
    ball = _ellipsoid_ball(_EROSION_MM, (1e3, *spacing[1:]))
    core, n = ndi.label(ndi.binary_erosion(tissue, structure=ball))
    if n == 0:
        raise AnalysisError(
            "no mediastinal soft tissue between the lungs: heart not found (calcium phantoms need --phantom)"
        )
    sizes = np.bincount(core.ravel())
    sizes[0] = 0
    small = ndi.binary_dilation(core == int(np.argmax(sizes)), structure=ball) & tissue
    heart = _upsample(small, factor, hu.shape)
    # centroid of the block-level mask, in full-resolution indices (block centres)
    small_centre = ndi.center_of_mass(small)
    centre = (small_centre[0], *(c * factor + (factor - 1) / 2.0 for c in small_centre[1:]))
    inner = _upsample(
        ndi.binary_erosion(small, structure=_ellipsoid_ball(10.0, (1e3, *spacing[1:]))),
        factor,
        hu.shape,
    )
    pool = float(np.percentile(hu[inner if inner.any() else heart], 75))
    centre_mm = tuple(float(c) for c in volume.index_to_physical(np.array(centre))[0])
    logger.info(
        "heart: %.0f mL, centre %s mm, blood pool %.0f HU",
        heart.sum() * volume.voxel_volume_mm3 / 1e3,
        centre_mm,
        pool,
    )
    lungs_full = _upsample(lungs, factor, hu.shape)
    return HeartRegion(heart, tuple(float(c) for c in centre), centre_mm, pool, lungs_full)  # type: ignore[arg-type]


def _block_mean(hu: np.ndarray, factor: int) -> np.ndarray:
    """Means of ``factor x factor`` in-plane blocks (edge rows/columns padded by edge values)."""
    if factor == 1:
        return hu
    nz, ny, nx = hu.shape
    py, px = -ny % factor, -nx % factor
    padded = np.pad(hu, ((0, 0), (0, py), (0, px)), mode="edge")
    return padded.reshape(nz, (ny + py) // factor, factor, (nx + px) // factor, factor).mean(
        axis=(2, 4)
    )


def _upsample(mask: np.ndarray, factor: int, shape: tuple[int, ...]) -> np.ndarray:
    """Nearest-neighbour in-plane upsampling of a block-level mask back to ``shape``."""
    if factor == 1:
        return mask
    big = np.repeat(np.repeat(mask, factor, axis=1), factor, axis=2)
    return big[:, : shape[1], : shape[2]]


def _spine_front_row(bone: np.ndarray, body: np.ndarray) -> int | None:
    """Image row of the front of the vertebral bodies (largest bone near the midline, posterior half).

    Rows increase toward the patient's back in axial CT (LPS, identity direction).
    """
    columns = np.flatnonzero(body.any(axis=(0, 1)))
    if columns.size == 0:
        return None
    mid = (columns[0] + columns[-1]) // 2
    body_rows = np.flatnonzero(body.any(axis=(0, 2)))
    centre_row = (body_rows[0] + body_rows[-1]) // 2
    strip = bone[:, :, max(mid - 10, 0) : mid + 10].copy()
    strip[:, :centre_row, :] = False  # the spine is in the posterior half (contrast blood is not)
    labels, n = ndi.label(strip)
    if n == 0:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    rows = np.nonzero(labels == int(np.argmax(sizes)))[1]
    return int(np.percentile(rows, 2))


def thoracic_cavity(lungs: np.ndarray, step: int = 4) -> np.ndarray:
    """Per-slice convex hull of the lungs (bool, shape of ``lungs``), on a ``step`` grid.

    Heart, pericardium and coronary arteries lie inside it; ribs, costal cartilage and
    the sternum lie outside, in the chest wall. Slices without lung are all inside.
    """
    from skimage.morphology import convex_hull_image

    small = lungs[:, ::step, ::step]
    hull = np.ones(small.shape, dtype=bool)
    for k in range(small.shape[0]):
        if small[k].sum() >= 3:
            hull[k] = convex_hull_image(small[k])
    big = np.repeat(np.repeat(hull, step, axis=1), step, axis=2)
    return big[:, : lungs.shape[1], : lungs.shape[2]]
