"""Calcium scores against phantom ground truth: the *oracle* score.

The oracle applies the scoring definitions (:func:`~cardiolens.ct.lesions.measure_lesions`:
130 HU threshold, per-slice lesions, peak-HU weights; Agatston et al. 1990, McCollough et
al. 2007) to an image restricted to the true lesions grown by a margin. An automatic score
equal to it adds no error of its own (heart finding, candidate exclusion, lesion grouping);
the oracle's spread over noise realisations is the definitions' own response to noise.
``benchmarks/bench_calcium.py`` runs both over 30 simulated patients.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.volume import Volume
from cardiolens.ct.calibration import default_mass_calibration
from cardiolens.ct.lesions import measure_lesions

__all__ = ["ORACLE_SCORES", "true_lesion_neighbourhood", "oracle_scores"]

#: The scores the oracle reports per lesion.
ORACLE_SCORES = ("agatston", "volume_mm3", "mass_mg")


def true_lesion_neighbourhood(lesion_labels: np.ndarray, grow_px: int = 3) -> np.ndarray:
    """True lesion labels ``(z, y, x)`` grown by ``grow_px`` pixels in-plane and 1 slice."""
    footprint = np.ones((3, 2 * grow_px + 1, 2 * grow_px + 1), bool)
    grown = ndi.grey_dilation(lesion_labels, footprint=footprint)
    return np.where(lesion_labels > 0, lesion_labels, grown)


def oracle_scores(volume: Volume, neighbourhood: np.ndarray) -> dict[int, dict[str, float]]:
    """Per lesion id: Agatston, volume (mm^3) and mass (mg) of ``volume`` inside ``neighbourhood``.

    The mass uses the documented default calibration for the volume's tube voltage
    (``metadata["kvp"]``, 120 kV when absent).
    """
    calibration = default_mass_calibration(volume.metadata.get("kvp"))
    return {
        m.lesion_id: {key: float(getattr(m, key)) for key in ORACLE_SCORES}
        for m in measure_lesions(volume, neighbourhood, calibration=calibration)
    }
