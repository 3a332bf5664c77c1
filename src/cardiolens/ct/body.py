"""Body outline of a CT: the largest object denser than lung-air, holes filled per slice."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["CONNECTIVITY_26", "IN_PLANE_8", "body_mask", "in_plane_disk", "smooth_hu"]

_IN_PLANE_4 = np.zeros((3, 3, 3), dtype=bool)
_IN_PLANE_4[1] = ndi.generate_binary_structure(2, 1)

#: ``ndi.label`` structure: 8-connectivity in the axial plane, no connection across slices.
IN_PLANE_8 = np.zeros((3, 3, 3), dtype=bool)
IN_PLANE_8[1] = True

#: ``ndi.label`` structure: full 26-connectivity in 3D.
CONNECTIVITY_26 = np.ones((3, 3, 3), dtype=bool)


def in_plane_disk(radius_mm: float, pixel_mm: tuple[float, float]) -> np.ndarray:
    """3D structuring element ``(1, ny, nx)``: an in-plane disk of ``radius_mm``."""
    ry, rx = (max(radius_mm / p, 1e-6) for p in pixel_mm)
    ny, nx = int(np.floor(ry)), int(np.floor(rx))
    yy, xx = np.mgrid[-ny : ny + 1, -nx : nx + 1]
    return ((yy / ry) ** 2 + (xx / rx) ** 2 <= 1.0 + 1e-9)[None]


def smooth_hu(
    hu: np.ndarray, sigma_mm: float, spacing_mm: tuple[float, float, float]
) -> np.ndarray:
    """In-plane Gaussian smoothing (float32) with ``sigma_mm``; slices are not mixed."""
    _, sy, sx = spacing_mm
    return ndi.gaussian_filter(np.asarray(hu, dtype=np.float32), (0, sigma_mm / sy, sigma_mm / sx))


def body_mask(hu: np.ndarray, *, threshold_hu: float = -300.0) -> np.ndarray:
    """Boolean mask of the body (patient or phantom), shape of ``hu``.

    The largest 3D connected region above ``threshold_hu`` (air outside the body is
    -1000 HU), with enclosed holes (lungs, bowel gas) filled slice by slice.
    """
    labels, n = ndi.label(np.asarray(hu) > threshold_hu)
    if n == 0:
        return np.zeros(np.shape(hu), dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return ndi.binary_fill_holes(labels == int(np.argmax(sizes)), structure=_IN_PLANE_4)
