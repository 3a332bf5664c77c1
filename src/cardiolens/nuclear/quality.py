"""Quality control flags of a nuclear perfusion study, worded for the technologist.

Each check returns a :class:`QualityFlag` or ``None``. The limits are cardiolens
defaults chosen on simulated and real studies; the causes they point to are the
classical ones of myocardial perfusion SPECT (Hesse B et al., EANM/ESC
procedural guidelines, Eur J Nucl Med Mol Imaging 2005;32:855-897).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.volume import Volume
from cardiolens.nuclear.localize import field_of_view, working_volume
from cardiolens.nuclear.polar import PolarMap
from cardiolens.nuclear.segment import LvSurfaces

__all__ = [
    "QualityFlag",
    "low_counts",
    "extracardiac_activity",
    "motion_between_gates",
    "truncation",
    "too_few_gates",
    "implausible_lv",
]

#: Noise (relative SD of the polar map minus its 5-sample moving average) above which
#: counts are low: 0.055 at 0.3 million phantom counts, 0.03-0.035 at 2-12 million,
#: 0.02-0.045 on the four PhysioNet studies.
NOISE_LIMIT = 0.05
#: Extracardiac activity within 2 cm of the inferior wall at this fraction of the LV maximum.
EXTRACARDIAC_LIMIT = 0.9
#: Plausible range of the LV cavity volume of a summed image, mL (outside: a failed contour).
CAVITY_RANGE_ML = (10.0, 350.0)
#: Smallest LV length (apex to valve) / mid-myocardial diameter of a plausible contour.
MIN_LENGTH_TO_DIAMETER = 0.75
#: LV centre shift between gates that indicates patient motion, mm.
MOTION_LIMIT_MM = 6.0


@dataclass(frozen=True)
class QualityFlag:
    """A quality problem: a stable code and a message for the technologist."""

    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        """``{"code": ..., "message": ...}``."""
        return {"code": self.code, "message": self.message}


def low_counts(polar: PolarMap) -> QualityFlag | None:
    """Flag a noisy (low-count) study from the sample-to-sample noise of the polar map."""
    values = polar.values_pct
    padded = np.pad(values, ((0, 0), (2, 2)), mode="wrap")
    smooth = ndi.uniform_filter(padded, size=5, mode="nearest")[:, 2:-2]
    myocardium = values >= 50.0
    if myocardium.sum() < 10:
        return None
    noise = float(np.std((values - smooth)[myocardium]) / np.mean(values[myocardium]))
    if noise <= NOISE_LIMIT:
        return None
    return QualityFlag(
        "low_counts",
        f"Low counts: the myocardium is noisy ({noise:.0%} sample-to-sample variation). "
        "Check the injected dose, acquisition time and camera; small defects may be missed "
        "or mimicked.",
    )


def extracardiac_activity(volume: Volume, surfaces: LvSurfaces) -> QualityFlag | None:
    """Flag hot activity (liver, gut) within 2 cm outside the inferior wall."""
    work = working_volume(volume)
    g = surfaces.grid
    inferior = np.abs(g.angle_deg - 180.0) <= 45.0
    rings = slice(g.n_apical, g.n_rings)
    points = surfaces.points_lps(surfaces.r_epi_mm)[rings][:, inferior]
    direction = surfaces.axes.direction(g.angle_deg[inferior])
    peak = 0.0
    for step in (4.0, 8.0, 12.0, 16.0, 20.0):
        probe = points + step * direction[None]
        index = work.physical_to_index(probe.reshape(-1, 3)).T
        values = ndi.map_coordinates(work.array.astype(float), index, order=1, mode="constant")
        peak = max(peak, float(np.percentile(values, 95)))
    ratio = peak / surfaces.reference_counts
    if ratio < EXTRACARDIAC_LIMIT:
        return None
    return QualityFlag(
        "extracardiac_activity",
        f"Extracardiac activity next to the inferior wall at {ratio:.0%} of the LV maximum "
        "(liver or bowel). It can hide or mimic an inferior defect; consider a delayed "
        "or prone acquisition.",
    )


def motion_between_gates(gates: Sequence[Volume], centre_lps: np.ndarray) -> QualityFlag | None:
    """Flag patient motion: the count centre of the heart region moving between gates."""
    if len(gates) < 2:
        return None
    work0 = working_volume(gates[0])
    index = np.indices(work0.shape).reshape(3, -1).T
    dist = np.linalg.norm(work0.index_to_physical(index) - centre_lps, axis=1).reshape(work0.shape)
    region = dist <= 50.0
    centres = []
    for gate in gates:
        arr = np.clip(working_volume(gate).array.astype(float), 0, None) * region
        centres.append(work0.index_to_physical(np.array(ndi.center_of_mass(arr)))[0])
    centres_arr = np.asarray(centres)
    shift = float(np.max(np.linalg.norm(centres_arr - centres_arr.mean(axis=0), axis=1)))
    if shift <= MOTION_LIMIT_MM:
        return None
    return QualityFlag(
        "motion_between_gates",
        f"The heart moves {shift:.0f} mm between gates: patient motion or gating error "
        "(check the ECG trigger and the rotating raw projections).",
    )


def truncation(volume: Volume, surfaces: LvSurfaces) -> QualityFlag | None:
    """Flag an LV that reaches the edge of the image or of the reconstructed field of view."""
    work = working_volume(volume)
    fov = field_of_view(work.array)
    points = surfaces.points_lps(surfaces.r_epi_mm).reshape(-1, 3)
    index = np.round(work.physical_to_index(points)).astype(int)
    outside = np.any((index < 0) | (index >= np.asarray(work.shape)), axis=1)
    inside_idx = index[~outside]
    out_of_fov = ~fov[tuple(inside_idx.T)]
    fraction = (outside.sum() + out_of_fov.sum()) / len(index)
    if fraction < 0.02:
        return None
    return QualityFlag(
        "truncation",
        f"The heart is truncated: {fraction:.0%} of the LV lies at or beyond the edge of the "
        "field of view. Re-centre the heart in the camera's field of view and repeat.",
    )


def too_few_gates(n_gates: int, minimum: int) -> QualityFlag | None:
    """Flag a gated input with too few gates for function."""
    if n_gates == 0 or n_gates >= minimum:
        return None
    return QualityFlag(
        "too_few_gates",
        f"Only {n_gates} gate(s) in the gated data (at least {minimum} needed): volumes, "
        "ejection fraction and phase are not reported. Check the gating setup (8 or 16 frames).",
    )


def implausible_lv(surfaces: LvSurfaces) -> QualityFlag | None:
    """Flag an LV contour whose cavity volume or shape is outside the range of human hearts.

    The shape test is the ratio of the LV length (endocardial apex to valve plane) to
    its mid-myocardial diameter: 1.2-1.5 on the analysed phantoms (EDV 80-200 mL);
    even a spherical cavity of diameter D with a 10 mm wall gives D / (D + 10), about
    0.85 at D = 60 mm. Below :data:`MIN_LENGTH_TO_DIAMETER` the contour is flatter than
    a sphere: it has lost the base (a large defect taken for the valve plane).
    """
    volume = surfaces.cavity_volume_ml
    low, high = CAVITY_RANGE_ML
    g = surfaces.grid
    length = float(np.mean(surfaces.valve_height_mm - surfaces.apex_endo_height_mm))
    diameter = 2.0 * float(np.median(surfaces.r_mid_mm[g.n_apical :]))
    if length < MIN_LENGTH_TO_DIAMETER * diameter:
        return QualityFlag(
            "implausible_lv",
            f"The LV contour is {length:.0f} mm long for a {diameter:.0f} mm diameter, flatter "
            "than any ventricle: the automatic contour probably lost the base in a large "
            "defect. Volumes and LVEF are not reliable; check the reoriented slices and "
            "contours, and set the long axis manually if needed.",
        )
    if low <= volume <= high:
        return None
    return QualityFlag(
        "implausible_lv",
        f"The LV contour encloses {volume:.0f} mL, outside {low:.0f}-{high:.0f} mL: the "
        "automatic contour probably followed another organ. Check the reoriented slices "
        "and contours, and set the long axis manually if needed.",
    )
