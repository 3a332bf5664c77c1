"""Image statistics that compare phantom SPECT images with real studies.

The same estimators run on a real study (with its expert LV wall mask) and on a
phantom (with its true ED myocardium mask), so the numbers are comparable:

* ``myocardium_to_background``: mean counts in the LV wall over the median
  counts of body voxels more than 20 mm from the wall (body = above 2% of the
  wall mean, which excludes the empty corners of a reconstruction);
* ``extracardiac_to_myocardium``: 99th percentile of those far voxels over the
  wall mean. In MIBI studies the hottest voxels away from the heart are the
  liver and bowel, so this is the liver/gut-to-myocardium ratio;
* ``wall_thickness_voxels``: apparent wall thickness ``2 V / S`` (volume over
  half the surface of a thin shell) of the wall segmented at 50% of the 95th
  percentile of wall counts within 3 voxels of the mask (largest component);
* ``mask_wall_thickness_voxels``: the same ``2 V / S`` of the mask itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage import measure

from cardiolens.core.errors import InputError

__all__ = ["RealismMetrics", "realism_metrics", "physionet_realism"]

_FAR_MM = 20.0


@dataclass(frozen=True)
class RealismMetrics:
    """Count ratios and wall thickness of one SPECT image (see the module docstring)."""

    myocardium_to_background: float
    extracardiac_to_myocardium: float
    wall_thickness_voxels: float
    mask_wall_thickness_voxels: float


def _shell_thickness_voxels(mask: np.ndarray) -> float:
    verts, faces, _, _ = measure.marching_cubes(np.pad(mask, 1).astype(np.float32), 0.5)
    return float(2.0 * mask.sum() / measure.mesh_surface_area(verts, faces))


def realism_metrics(image: np.ndarray, wall_mask: np.ndarray, voxel_mm: float) -> RealismMetrics:
    """Realism statistics of ``image`` ``[z, y, x]`` given its LV wall mask (isotropic ``voxel_mm``)."""
    image = np.asarray(image, dtype=float)
    wall = np.asarray(wall_mask) > 0
    if image.shape != wall.shape or not wall.any():
        raise InputError(
            f"image {image.shape} and a non-empty LV wall mask {wall.shape} must match"
        )
    wall_mean = float(image[wall].mean())
    distance_mm = ndimage.distance_transform_edt(~wall) * voxel_mm
    far = (distance_mm > _FAR_MM) & (image > 0.02 * wall_mean)
    region = ndimage.binary_dilation(wall, iterations=3)
    segmented = region & (image > 0.5 * np.percentile(image[wall], 95))
    labels, n = ndimage.label(segmented)
    if n > 1:
        sizes = ndimage.sum(segmented, labels, range(1, n + 1))
        segmented = labels == 1 + int(np.argmax(sizes))
    return RealismMetrics(
        myocardium_to_background=wall_mean / float(np.median(image[far])),
        extracardiac_to_myocardium=float(np.percentile(image[far], 99)) / wall_mean,
        wall_thickness_voxels=_shell_thickness_voxels(segmented),
        mask_wall_thickness_voxels=_shell_thickness_voxels(wall),
    )


def physionet_realism(masks_dir: str | Path) -> dict[str, RealismMetrics]:
    """Realism statistics of the PhysioNet MPS studies with expert wall masks.

    ``masks_dir`` holds ``patientNNN_0000.nii.gz`` (image) and ``patientNNN.nii.gz``
    (LV wall mask), as in ``shared/data/spect/physionet_mps/lv_masks_nifti``.
    """
    from cardiolens.io import read_volume

    folder = Path(masks_dir)
    out = {}
    for image_path in sorted(folder.glob("*_0000.nii.gz")):
        mask_path = image_path.with_name(image_path.name.replace("_0000.nii.gz", ".nii.gz"))
        if not mask_path.exists():
            continue
        image, mask = read_volume(image_path), read_volume(mask_path)
        out[mask_path.name.removesuffix(".nii.gz")] = realism_metrics(
            image.array, mask.array > 0.5, float(np.mean(image.spacing_mm))
        )
    if not out:
        raise InputError(
            "no image/mask pairs (patientNNN_0000.nii.gz + patientNNN.nii.gz) found", folder
        )
    return out
