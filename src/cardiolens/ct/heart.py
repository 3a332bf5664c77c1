"""Find the heart on non-contrast CT (gated calcium CT, chest CT, PET/CT attenuation CT).

The heart is the largest mass of soft tissue (-30 to 700 HU on 2 mm block means, so that
contrast-filled blood is kept and the contrast can be flagged) that lies between the
lungs and anterior to the spine, after an erosion of 6 mm that cuts its thin links to the
great vessels and the chest wall; it is then dilated back inside the soft tissue: the
anatomical heuristic of automatic calcium-scoring pipelines (the heart is the mediastinal
mass framed by the lungs and the spine). The contrast of the blood pool is measured here
and flagged by the caller.

Why it works on a cut-off field of view (gated scans reconstructed at 160-250 mm, where
the circle cuts the body outline and both lungs): nothing here needs the body outline.

* Pixels outside the reconstruction circle (:mod:`cardiolens.ct.fov`) are *unknown*: they
  are left out of the block means and of every mask, never taken as air or tissue.
* The lungs are the large (>= 30 mL) low-density regions (< -400 HU) whose median is
  lung parenchyma (> -975 HU), not gas: air outside the patient, in the stomach or the
  trachea is -1000 HU. So a lung cut by the circle is still a lung, and air outside a
  full-chest scan (arms, table, gap under the breast) is never one.
* "Between the lungs" is read along each image row: lung on both sides, or lung on one
  side and the edge of the field of view on the other, so a heart that the circle cuts
  on its left (off-centre reconstructions) is still found; the chest wall in front has
  no lung on either side and stays out.
* The spine is the largest bone (> 250 HU) behind the lungs' centre, in front of their
  back (the table lies beyond) and within their column span; when the circle leaves it
  out, only that cut is skipped.

Quality gate: the finder refuses (:class:`~cardiolens.core.errors.AnalysisError`, one
line with the reason) when there are no lungs or no mediastinal mass, or when the mass
is too small or too large to be a heart, or is a cylinder (a thorax phantom); it warns when the heart touches the edge of the
field of view or the first or last slice (calcium there may be missed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.errors import AnalysisError
from cardiolens.core.volume import Volume
from cardiolens.ct.fov import FieldOfView, field_of_view

__all__ = [
    "CONTRAST_BLOOD_POOL_HU",
    "HEART_ML_RANGE",
    "HeartRegion",
    "find_heart",
    "find_lungs",
    "thoracic_cavity",
]

logger = logging.getLogger(__name__)

#: Blood-pool HU above which the scan is taken as contrast-enhanced. Unenhanced blood is
#: 30-60 HU (it rises with the haematocrit); CCTA aims at a luminal attenuation of at
#: least 250 HU (Abbara et al., SCCT guidelines for coronary CT angiography, J Cardiovasc
#: Comput Tomogr 2016). 150 HU, about midway, is this implementation's choice.
CONTRAST_BLOOD_POOL_HU = 150.0

_LUNG_HU = -400.0
_GAS_MEDIAN_HU = -975.0
_MIN_LUNG_ML = 30.0
_TISSUE_HU = (-30.0, 700.0)
_BONE_HU = 250.0
_EROSION_MM = 6.0
_WORK_PIXEL_MM = 2.0
#: Plausible volume of the heart's soft tissue (mL): smaller is a vessel or a lymph node
#: mass, larger a merge with the liver or the chest wall.
HEART_ML_RANGE = (150.0, 2500.0)
_EDGE_WARN_FRACTION = 0.05
_CYLINDER_MM = 60.0
#: Lung within this distance above a column's bottom run of soft tissue caps it as a dome (mm).
_DOME_CAP_MM = 10.0


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
    core
        The heart's core (the mask eroded 10 mm in-plane): blood pool and myocardium,
        where the image noise is measured.
    fov
        The reconstructed field of view (:mod:`cardiolens.ct.fov`).
    warnings
        Limits of the localisation a reader must know (heart cut by the field of view).
    """

    mask: np.ndarray
    centre_index: tuple[float, float, float]
    centre_mm: tuple[float, float, float]
    blood_pool_hu: float
    lungs: np.ndarray
    core: np.ndarray
    fov: FieldOfView
    warnings: tuple[str, ...] = ()

    @property
    def contrast_enhanced(self) -> bool:
        """True when the blood pool is brighter than :data:`CONTRAST_BLOOD_POOL_HU`."""
        return self.blood_pool_hu > CONTRAST_BLOOD_POOL_HU


def _ellipsoid_ball(radius_mm: float, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    n = [max(int(radius_mm // s), 0) for s in spacing_mm]
    grids = np.ogrid[tuple(slice(-k, k + 1) for k in n)]
    return sum((g * s / radius_mm) ** 2 for g, s in zip(grids, spacing_mm, strict=True)) <= 1.0


def _between_lungs(lungs: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """Voxels with lung on both sides along their image row, or lung on one side and the
    edge of the field of view (``unknown``) on the other."""

    def seen(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        left = np.maximum.accumulate(mask, axis=2)
        right = np.maximum.accumulate(mask[:, :, ::-1], axis=2)[:, :, ::-1]
        return left, right

    lung_left, lung_right = seen(lungs)
    edge_left, edge_right = seen(np.broadcast_to(unknown, lungs.shape))
    return (
        ((lung_left & lung_right) | (lung_left & edge_right) | (edge_left & lung_right))
        & ~lungs
        & ~unknown
    )


def find_lungs(smoothed: np.ndarray, inside: np.ndarray, voxel_mm3: float) -> np.ndarray:
    """Lungs: low-density regions (< -400 HU) of >= 30 mL whose median is above -975 HU.

    Gas (air outside the body, in the trachea or the stomach) is -1000 HU and stays out;
    pixels outside the field of view (``inside`` False) are never lung.
    """
    labels, n = ndi.label((smoothed < _LUNG_HU) & inside)
    if n == 0:
        return np.zeros(smoothed.shape, dtype=bool)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:] * voxel_mm3
    large = np.flatnonzero(sizes >= _MIN_LUNG_ML * 1e3) + 1
    if large.size == 0:
        return np.zeros(smoothed.shape, dtype=bool)
    # One median per large region (a few): ndi.median would sort every labelled voxel.
    keep = [k for k in large if np.median(smoothed[labels == k]) > _GAS_MEDIAN_HU]
    return np.isin(labels, keep)


def find_heart(volume: Volume) -> HeartRegion:
    """Locate the heart of a (non-contrast or contrast) chest CT (see module).

    Raises
    ------
    AnalysisError
        When no lungs or no mediastinal soft tissue are found (not a chest CT), or the
        mediastinal mass found is not of a heart's size or is a phantom's cylinder.
    """
    hu = np.asarray(volume.array, dtype=np.float32)
    fov = field_of_view(hu, volume.spacing_mm[1:])
    # Work on ~2 mm pixels: block means inside the field of view (which also smooth the noise).
    factor = max(int(round(_WORK_PIXEL_MM / min(volume.spacing_mm[1:]))), 1)
    smoothed, inside = _block_mean(hu, factor, fov.inside)
    spacing = (volume.spacing_mm[0], volume.spacing_mm[1] * factor, volume.spacing_mm[2] * factor)
    voxel_mm3 = float(np.prod(spacing))
    where = _fov_note(fov)
    lungs = find_lungs(smoothed, inside[None], voxel_mm3)
    if not lungs.any():
        raise AnalysisError(
            f"no lungs found{where}: heart not found (is this a chest CT? calcium phantoms need --phantom)"
        )
    unknown = ~inside
    tissue = (smoothed >= _TISSUE_HU[0]) & (smoothed <= _TISSUE_HU[1])
    tissue &= _between_lungs(lungs, unknown[None])
    tissue &= ~_below_diaphragm(
        (smoothed >= _TISSUE_HU[0]) & (smoothed <= _TISSUE_HU[1]) & inside[None],
        lungs,
        inferior_first=float(volume.direction[2, 2]) >= 0.0,
        slice_mm=spacing[0],
    )
    spine = _spine_front_row((smoothed > _BONE_HU) & inside[None], lungs)
    if spine is not None:
        tissue[:, spine:, :] = False
    # Erode in-plane by a disk (z is too coarse on 3 mm slices), keep the largest core.
    ball = _ellipsoid_ball(_EROSION_MM, (1e3, *spacing[1:]))
    core, n = ndi.label(ndi.binary_erosion(tissue, structure=ball))
    if n == 0:
        raise AnalysisError(
            f"no mediastinal soft tissue between the lungs{where}: heart not found "
            "(calcium phantoms need --phantom)"
        )
    sizes = np.bincount(core.ravel())
    sizes[0] = 0
    small = ndi.binary_dilation(core == int(np.argmax(sizes)), structure=ball) & tissue
    heart_ml = float(small.sum()) * voxel_mm3 / 1e3
    if not HEART_ML_RANGE[0] <= heart_ml <= HEART_ML_RANGE[1]:
        raise AnalysisError(
            f"heart localisation uncertain: the mediastinal mass between the lungs is "
            f"{heart_ml:.0f} mL (a heart is {HEART_ML_RANGE[0]:.0f}-{HEART_ML_RANGE[1]:.0f} mL){where}"
        )
    _refuse_cylinder(small, spacing[0], where)
    warnings = _edge_warnings(small, inside)
    heart = _upsample(small, factor, hu.shape)
    # centroid of the block-level mask, in full-resolution indices (block centres)
    small_centre = ndi.center_of_mass(small)
    centre = (small_centre[0], *(c * factor + (factor - 1) / 2.0 for c in small_centre[1:]))
    inner = _upsample(
        ndi.binary_erosion(small, structure=_ellipsoid_ball(10.0, (1e3, *spacing[1:]))),
        factor,
        hu.shape,
    )
    if not inner.any():
        inner = heart
    pool = float(np.percentile(hu[inner], 75))
    centre_mm = tuple(float(c) for c in volume.index_to_physical(np.array(centre))[0])
    logger.info(
        "heart: %.0f mL, centre %s mm, blood pool %.0f HU%s", heart_ml, centre_mm, pool, where
    )
    lungs_full = _upsample(lungs, factor, hu.shape)
    return HeartRegion(
        heart,
        tuple(float(c) for c in centre),  # type: ignore[arg-type]
        centre_mm,  # type: ignore[arg-type]
        pool,
        lungs_full,
        inner,
        fov,
        warnings,
    )


def _fov_note(fov: FieldOfView) -> str:
    if not fov.padded:
        return ""
    return f" (field of view {2 * fov.radius_mm:.0f} mm, padding {fov.padding_hu:g} HU outside)"


def _refuse_cylinder(small: np.ndarray, slice_mm: float, where: str) -> None:
    """Refuse a mediastinal mass of constant cross-section: a phantom's cylinder, not a heart.

    A heart narrows from its middle to the base and the apex: its area stays within 10 % of
    its largest over about a third of its 100-130 mm length (35-45 mm). The heart insert of a
    thorax phantom (QRM) is a cylinder whose area stays there over its whole length (75 mm
    on the shared scan). A mass that stays within 10 % over :data:`_CYLINDER_MM` or more is
    refused.
    """
    area = small.sum(axis=(1, 2)).astype(float)
    plateau_mm = float((area >= 0.9 * area.max()).sum()) * slice_mm
    if plateau_mm >= _CYLINDER_MM:
        raise AnalysisError(
            f"the mediastinal mass keeps one cross-section over {plateau_mm:.0f} mm "
            f"(a cylinder, not a heart){where}: calcium phantoms need --phantom"
        )


def _edge_warnings(small: np.ndarray, inside: np.ndarray) -> tuple[str, ...]:
    """Warn when the heart touches the edge of the field of view or the first/last slice."""
    warnings = []
    edge = ndi.binary_dilation(~inside, iterations=2) & inside
    outline = small & ~ndi.binary_erosion(small)
    touching = float((outline & edge[None]).sum()) / max(float(outline.sum()), 1.0)
    if touching > _EDGE_WARN_FRACTION:
        warnings.append(
            f"the heart reaches the edge of the field of view ({100 * touching:.0f}% of its "
            "outline): calcium outside the reconstruction is not scored"
        )
    ends = [
        k for k in (0, small.shape[0] - 1) if small[k].sum() > 0.2 * small.sum(axis=(1, 2)).max()
    ]
    if ends:
        warnings.append(
            "the heart extends beyond the "
            + " and ".join("first" if k == 0 else "last" for k in ends)
            + " slice: calcium outside the scanned range is not scored"
        )
    return tuple(warnings)


def _block_mean(hu: np.ndarray, factor: int, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``factor x factor`` in-plane blocks over the pixels inside the field of view,
    and the blocks mostly (> half) inside it. Blocks without such pixels hold -1000 HU
    (they are masked out by the second array)."""
    nz, ny, nx = hu.shape
    py, px = -ny % factor, -nx % factor
    weight = np.pad(inside.astype(np.float32), ((0, py), (0, px)))
    values = np.pad(np.where(inside[None], hu, 0.0), ((0, 0), (0, py), (0, px)))
    shape = (nz, (ny + py) // factor, factor, (nx + px) // factor, factor)
    total = values.reshape(shape).sum(axis=(2, 4))
    count = weight.reshape(shape[1:]).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1e-9), -1000.0)
    return mean.astype(np.float32), count > 0.5 * factor * factor


def _upsample(mask: np.ndarray, factor: int, shape: tuple[int, ...]) -> np.ndarray:
    """Nearest-neighbour in-plane upsampling of a block-level mask back to ``shape``."""
    if factor == 1:
        return mask
    big = np.repeat(np.repeat(mask, factor, axis=1), factor, axis=2)
    return big[:, : shape[1], : shape[2]]


def _below_diaphragm(
    soft: np.ndarray, lungs: np.ndarray, *, inferior_first: bool, slice_mm: float
) -> np.ndarray:
    """Soft tissue under a diaphragm dome: liver (and spleen) rising into the chest.

    Along each image column (one in-plane position through the slices) the soft tissue
    that runs unbroken up from the scan's lowest slice belongs to the abdomen when lung
    caps it (within :data:`_DOME_CAP_MM` above its top): the lung base sits on the
    diaphragm, and the liver's dome under it. The heart never runs unbroken from the
    lowest slice under lung: the pericardial and epicardial fat or the lung separate it
    from the liver, and a gated scan covers the heart with a margin below the apex.
    So a liver dome that touches the heart's inferior wall (no fat between them on
    many patients) is cut off from the heart before the largest mass is chosen.
    """
    if not inferior_first:
        return _below_diaphragm(soft[::-1], lungs[::-1], inferior_first=True, slice_mm=slice_mm)[
            ::-1
        ]
    run = np.logical_and.accumulate(soft, axis=0)
    top = run.sum(axis=0)  # first slice above each column's bottom run
    cap = int(np.ceil(_DOME_CAP_MM / slice_mm))
    capped = np.zeros(top.shape, dtype=bool)
    for step in range(cap):
        k = np.minimum(top + step, soft.shape[0] - 1)
        capped |= np.take_along_axis(lungs, k[None], axis=0)[0] & (top + step < soft.shape[0])
    return run & (capped & (top > 0))[None]


def _spine_front_row(bone: np.ndarray, lungs: np.ndarray) -> int | None:
    """Image row of the front of the vertebral bodies, or ``None`` when not in view.

    The spine is the largest bone component whose centre lies behind the lungs' centre,
    in front of their last row (not the table) and within their column span. Rows increase toward the patient's back in axial CT
    (LPS, identity direction).
    """
    lung_rows, lung_cols = np.nonzero(lungs.any(axis=0))
    labels, n = ndi.label(bone)
    if n == 0 or lung_rows.size == 0:
        return None
    index = np.arange(1, n + 1)
    sizes = ndi.sum_labels(np.ones_like(labels, dtype=np.int8), labels, index)
    centres = np.array(ndi.center_of_mass(bone, labels, index)).reshape(-1, 3)
    # Behind the lungs' centre but in front of their back: the table under the patient
    # (a wide dense slab) lies beyond the lungs' last row.
    behind = (centres[:, 1] > lung_rows.mean()) & (centres[:, 1] < lung_rows.max())
    behind &= (centres[:, 2] > lung_cols.min()) & (centres[:, 2] < lung_cols.max())
    if not behind.any():
        return None
    best = index[behind][int(np.argmax(sizes[behind]))]
    _, rows, cols = np.nonzero(labels == best)
    mid = np.median(cols)
    front = rows[np.abs(cols - mid) <= 10]
    return int(np.percentile(front, 2))


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
