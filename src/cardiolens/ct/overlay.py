"""Axial PNG overlays of the scored calcium, coloured by artery, for the report."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from cardiolens.core.volume import Volume
from cardiolens.ct.lesions import Artery, CalciumLesion

__all__ = ["ARTERY_COLOURS", "write_overlays"]

logger = logging.getLogger(__name__)

#: RGB colour of each artery in the overlays (unknown artery: magenta).
ARTERY_COLOURS: dict[Artery | None, tuple[float, float, float]] = {
    Artery.LM: (1.0, 0.85, 0.0),
    Artery.LAD: (0.95, 0.15, 0.15),
    Artery.LCX: (0.2, 0.45, 1.0),
    Artery.RCA: (0.1, 0.8, 0.2),
    None: (0.9, 0.2, 0.9),
}

_WINDOW_HU = (-160.0, 640.0)  # level 240, width 800: a common calcium-scoring window


def write_overlays(
    volume: Volume,
    lesion_labels: np.ndarray,
    lesions: tuple[CalciumLesion, ...] | list[CalciumLesion],
    out_dir: str | Path,
    *,
    threshold_hu: float = 130.0,
) -> list[Path]:
    """Write one PNG per axial slice that holds scored calcium (``slice_NNN.png``).

    Calcium voxels (>= ``threshold_hu``) of each lesion are painted in its artery's colour
    over the CT in a calcium window (W 800 / L 240 HU); a legend names the arteries.
    Returns the files written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hu = np.asarray(volume.array, dtype=np.float32)
    artery_of = {lesion.lesion_id: lesion.artery for lesion in lesions}
    calcium = (lesion_labels > 0) & (hu >= threshold_hu)
    paths = []
    _, sy, sx = volume.spacing_mm
    for k in np.flatnonzero(calcium.any(axis=(1, 2))):
        grey = np.clip((hu[k] - _WINDOW_HU[0]) / (_WINDOW_HU[1] - _WINDOW_HU[0]), 0.0, 1.0)
        rgb = np.repeat(grey[..., None], 3, axis=2)
        present = set()
        for lesion_id in np.unique(lesion_labels[k][calcium[k]]):
            artery = artery_of.get(int(lesion_id))
            rgb[(lesion_labels[k] == lesion_id) & calcium[k]] = ARTERY_COLOURS[artery]
            present.add(artery)
        fig, ax = plt.subplots(figsize=(6, 6 * sy * hu.shape[1] / (sx * hu.shape[2])), dpi=100)
        ax.imshow(rgb, aspect=sy / sx, interpolation="nearest")
        ax.set_axis_off()
        z_mm = volume.index_to_physical(np.array([[k, 0, 0]]))[0, 2]
        ax.set_title(f"slice {k} (z = {z_mm:.1f} mm)", fontsize=9)
        handles = [
            Patch(color=ARTERY_COLOURS[a], label=a.value if a else "unassigned")
            for a in ARTERY_COLOURS
            if a in present
        ]
        ax.legend(handles=handles, loc="lower right", fontsize=7)
        path = out / f"slice_{k:03d}.png"
        fig.savefig(path, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    logger.info("wrote %d overlay image(s) to %s", len(paths), out)
    return paths
