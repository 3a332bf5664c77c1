"""The reconstructed field of view of a CT: which pixels hold measured attenuation.

A CT image is reconstructed inside a circle (the reconstruction diameter). Outside it the
scanner writes a padding value instead of attenuation: Siemens -2048 HU (stored -1024
with intercept -1024, or 0 with intercept -2048), GE -3024 HU (stored -2000 with
intercept -1024), Philips and Canon -1024 HU or the stored ``PixelPaddingValue`` after
rescale (DICOM PS3.3 C.7.5.1.1.2). On a gated calcium scan reconstructed at 160-250 mm
the circle cuts the body outline and both lungs, so these pixels must be treated as
*unknown*: neither air (which would make the lungs look like outside air) nor body.

Two rules find them, slice-independent (the circle is the same on every slice):

* **impossible HU**: nothing in a patient is below air (-1000 HU; noise reaches about
  -1200 HU on low-dose images), so a pixel below :data:`PADDING_BELOW_HU` on every slice
  is padding, whatever the vendor's value;
* **constant low value**: padding at -1024 HU equals air in value, but it is *exactly* the
  same in every slice and pixel, while measured air has noise. A pixel that holds one and
  the same value <= -1010 HU on every slice (of at least 3) is padding.

The field of view is the complement, and its circle (centre, radius) is fitted to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

__all__ = ["PADDING_BELOW_HU", "FieldOfView", "field_of_view"]

#: HU below which a value cannot be measured attenuation (air is -1000 HU).
PADDING_BELOW_HU = -1500.0

_CONSTANT_AIR_HU = -1010.0
#: Fraction of the image outside the field of view from which the scan is called cut.
_CUT_FRACTION = 0.01


@dataclass(frozen=True)
class FieldOfView:
    """Pixels with measured attenuation (the same on every slice).

    Attributes
    ----------
    inside
        ``(rows, columns)`` bool: True where the image holds measured HU.
    centre_index
        ``(row, column)`` of the circle's centre (pixel indices).
    radius_mm
        Radius of the reconstruction circle (mm); ``None`` when nothing is padded.
    padding_hu
        The most common padding value (HU), ``None`` when nothing is padded.
    """

    inside: np.ndarray
    centre_index: tuple[float, float]
    radius_mm: float | None
    padding_hu: float | None

    @property
    def padded(self) -> bool:
        """True when part of the image lies outside the reconstruction."""
        return self.radius_mm is not None

    def inside_3d(self, n_slices: int) -> np.ndarray:
        """The mask repeated over ``n_slices`` (a broadcast view, read-only)."""
        return np.broadcast_to(self.inside, (n_slices, *self.inside.shape))


def field_of_view(hu: np.ndarray, pixel_mm: tuple[float, float]) -> FieldOfView:
    """Find the padded pixels of a CT ``(z, y, x)`` in HU (see module)."""
    values = np.asarray(hu)
    highest = values.max(axis=0)
    outside = highest < PADDING_BELOW_HU
    if values.shape[0] >= 3:
        outside |= (values.min(axis=0) == highest) & (highest <= _CONSTANT_AIR_HU)
    # Padding surrounds the circle: keep what is connected to the image border.
    labels, _ = ndi.label(outside)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outside = np.isin(labels, border[border > 0])
    ny, nx = outside.shape
    if outside.mean() < _CUT_FRACTION:
        return FieldOfView(
            np.ones((ny, nx), dtype=bool), ((ny - 1) / 2.0, (nx - 1) / 2.0), None, None
        )
    inside = ~outside
    rows, cols = np.nonzero(inside)
    centre = (float(rows.mean()), float(cols.mean()))
    area_mm2 = float(inside.sum()) * pixel_mm[0] * pixel_mm[1]
    padding = values[0][outside]
    common, counts = np.unique(padding, return_counts=True)
    return FieldOfView(
        inside,
        centre,
        float(np.sqrt(area_mm2 / np.pi)),
        float(common[int(np.argmax(counts))]),
    )
