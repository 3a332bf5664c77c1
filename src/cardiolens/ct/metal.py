"""Metal on a calcium CT: stents, pacing/ICD leads, sternal wires, valve prostheses.

Calcified plaque and bone lie mostly below 2000 HU at 120 kV; steel, platinum and titanium
devices reach several thousand HU (many scanners clip them at the 12-bit limit, 3071 HU). A 3D calcium group whose peak reaches :data:`METAL_HU` is
metal. Its blooming and beam-hardening streaks raise the tissue around it above the
130 HU calcium threshold, so every calcium group within :data:`METAL_MARGIN_MM` of metal
(in-plane, and the neighbouring slices) is left out with it: it cannot be told from
calcium. The caller says so in the report, and an artery holding a stent is reported as
"stent present: score not interpretable": its calcium under and around the stent cannot
be measured (this implementation's rule; 2000 HU and 4 mm are its choices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.volume import Volume
from cardiolens.ct.body import dilate_in_plane
from cardiolens.ct.lesions import Artery

__all__ = ["METAL_HU", "METAL_MARGIN_MM", "MetalFinding", "metal_groups", "near_metal"]

#: Peak HU from which a calcium group is metal.
METAL_HU = 2000.0
#: Distance around metal within which calcium groups are left out (blooming, streaks; mm).
METAL_MARGIN_MM = 4.0


@dataclass(frozen=True)
class MetalFinding:
    """One metal object: where it lies, its artery (stents), size and peak HU."""

    location: str
    artery: Artery | None
    n_voxels: int
    peak_hu: float

    @property
    def description(self) -> str:
        """One line for the report."""
        where = {
            "coronary": f"coronary stent in the {self.artery.value if self.artery else '?'}",
            "intracardiac": "metal inside the heart (pacing/ICD lead or valve prosthesis)",
            "extracardiac": "metal outside the heart (sternal wires, clips or other device)",
        }[self.location]
        return (
            f"{where}: {self.n_voxels} voxels up to {self.peak_hu:.0f} HU; calcium within "
            f"{METAL_MARGIN_MM:g} mm of it is left out of the score"
        )

    def to_json(self) -> dict[str, object]:
        """``{location, artery, n_voxels, peak_hu}``."""
        return {
            "location": self.location,
            "artery": None if self.artery is None else self.artery.value,
            "n_voxels": self.n_voxels,
            "peak_hu": self.peak_hu,
        }


def metal_groups(volume: Volume, components: np.ndarray) -> list[int]:
    """Labels of the calcium groups whose peak HU reaches :data:`METAL_HU`."""
    # A group's peak reaches METAL_HU exactly when one of its voxels does.
    metal = components[(np.asarray(volume.array) >= METAL_HU) & (components > 0)]
    return [int(k) for k in np.unique(metal)]


def near_metal(volume: Volume, components: np.ndarray, metal: list[int]) -> set[int]:
    """Labels of the calcium groups within :data:`METAL_MARGIN_MM` of the ``metal`` groups."""
    if not metal:
        return set()
    boxes = [b for k, b in enumerate(ndi.find_objects(components), start=1) if k in set(metal)]
    margin = (1, *(int(np.ceil(METAL_MARGIN_MM / s)) + 1 for s in volume.spacing_mm[1:]))
    near: set[int] = set()
    for box in boxes:
        crop = tuple(
            slice(max(b.start - m, 0), min(b.stop + m, n))
            for b, m, n in zip(box, margin, components.shape, strict=True)
        )
        labels = components[crop]
        reach = dilate_in_plane(np.isin(labels, metal), METAL_MARGIN_MM, volume.spacing_mm[1:], 1)
        near |= {int(k) for k in np.unique(labels[reach]) if k > 0}
    return near
