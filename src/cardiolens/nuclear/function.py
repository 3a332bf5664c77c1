"""Gated SPECT/PET function: volumes, ejection fraction, regional motion, thickening, phase.

* Volumes (Germano G et al., J Nucl Med 1995;36:2138-2147, QGS): the cavity
  inside the endocardial surface and below the valve plane in every gate. The
  endocardium of a gate lies half a wall thickness inside its mid-myocardium.
  The myocardium is incompressible, its volume constant over the cycle (QGS);
  here each wall element keeps its end-diastolic volume, so its thickness is
  the end-diastolic thickness times the ratio of its end-diastolic to its
  current mid-myocardial area (3 ring x 9 angle average): the wall thickens as
  the mid-myocardium moves inwards and the base descends (with one uniform
  thickness per gate the mid-ventricular end-systolic wall came out 1-2 mm thin
  on the phantom, which conserves volume locally);
  EDV = largest, ESV = smallest, LVEF = (EDV - ESV) / EDV x 100, SV = EDV - ESV.
* End-diastolic wall thickness measured from the gates (partial-volume model;
  Galt JR, Garcia EV, Robbins WL, IEEE Trans Med Imaging 1990;9:144-150): the
  mean count profile across the wall of each gate is a wall of thickness
  ``T_g`` (a rectangle) blurred by the Gaussian resolution of SD ``s``. The
  resolution and the tracer concentration are the same in every gate and the
  myocardial volume is constant (``T_g`` inversely proportional to the
  mid-myocardial area of the gate, Germano 1995), so one least-squares fit of
  all gates gives ``s`` and ``T_ED`` together: the width and the height of the
  profiles change differently with thickness while the wall is thinner than
  about two resolution FWHM, and the resolution cancels out (it is measured,
  not assumed). The profile is fitted from 8 mm inside to 16 mm outside the
  mid-myocardium: nearer the axis a small (end-systolic) cavity is filled by
  blur from the opposite wall, which the planar model does not describe (a
  cardiolens choice; on the 32-study phantom sweep the thickness error was
  0.44 mm mean absolute from -8 mm, 0.58 from -10 mm, 0.86 from -14 mm).
  Outside 6-18 mm, with an uncertain fit or too little thickening to separate
  thickness from resolution, the population default
  :data:`~cardiolens.nuclear.segment.DEFAULT_WALL_THICKNESS_MM` is used and the
  reason recorded; the resolution is then fitted with the thickness held at
  the default (the profile width still measures it).
* With the resolution measured (also at the default thickness), the count
  maximum of each gate (the mid-myocardium) is moved outwards by ``s^2 H``
  (``H`` the mean curvature of the wall): blur moves the maximum of a curved
  wall towards its centre of curvature by that amount to first order, whatever
  the wall thickness (it changed the cavity volumes by 3-5 % on the phantom).
* Regional wall motion: inward endocardial excursion from ED to ES along the
  sampling rays (mm), averaged per AHA segment.
* Regional thickening from the count increase between ED and ES, which is
  proportional to thickness for walls thinner than twice the resolution
  (partial-volume effect; Galt JR et al., IEEE Trans Med Imaging 1990;9:144-150).
* Phase analysis (statistics of Chen J et al., J Nucl Cardiol 2005;12:687-695):
  the first Fourier harmonic of each sample's curve over the cardiac cycle gives
  its contraction phase; phase SD and histogram bandwidth (the range holding
  95 % of the myocardium) measure dyssynchrony, with the entropy of the phase
  histogram (Trimble MA et al., J Nucl Cardiol 2008;15:663-670). Chen's method
  uses count (thickening) curves; at per-gate SPECT noise their phase was
  mostly noise on the phantom (phase SD 46-54 deg on normal LVs, no rise with a
  90 deg lateral delay), so the curve used here is the inward motion of the
  mid-myocardium along each ray (3 ring x 9 angle average), which gave 7-9 deg
  on normal phantoms and 38 deg with a 90 deg lateral delay. Its normal range is
  therefore not Chen's (SD 14 +- 5 deg) and must come from normal studies.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from scipy.optimize import least_squares
from scipy.special import erf

from cardiolens.core.errors import ParameterError
from cardiolens.core.volume import Volume
from cardiolens.nuclear.localize import working_volume
from cardiolens.nuclear.polar import PolarMap
from cardiolens.nuclear.reorient import LvAxes
from cardiolens.nuclear.segment import DEFAULT_WALL_THICKNESS_MM, LvSurfaces, fit_surfaces
from cardiolens.nuclear.segments import segment_average

__all__ = [
    "MIN_GATES",
    "PhaseAnalysis",
    "WallThickness",
    "GatedFunction",
    "phase_analysis",
    "wall_profile_model",
    "fit_wall_thickness",
    "gated_function",
]

logger = logging.getLogger(__name__)

#: Fewest gates for which volumes and phase are computed (8 or 16 are usual).
MIN_GATES = 4
#: Physiological range of the end-diastolic wall thickness accepted from the fit, mm
#: (thin scarred walls to severe hypertrophy; Lang RM et al., J Am Soc Echocardiogr 2015).
WALL_THICKNESS_RANGE_MM = (6.0, 18.0)
#: Largest relative standard error of the fitted thickness for it to be used: 0.8 mm at
#: 10 mm, which moves the endocardium by 0.4 mm, about 5 % of the cavity volume of a
#: 25 mm radius LV (3 x 0.4 / 25).
_MAX_THICKNESS_RSE = 0.08
#: Largest relative standard error of the resolution fitted at the default thickness for
#: it to be used in the curvature correction: 0.4 mm at 5 mm moves the maximum by < 0.2 mm.
_MAX_SIGMA_RSE = 0.08
#: Least mid-myocardial area change (largest / smallest gate) for the fit to separate
#: thickness from resolution: a wall that hardly thickens gives no such information.
_MIN_AREA_RATIO = 1.1
#: Offsets across the wall (mm from the mid-myocardium) of the sampled count profiles.
_PROFILE_OFFSETS_MM = np.arange(-8.0, 16.01, 0.5)
#: Cylindrical rings (fraction of the apex-to-valve length) whose rays run normal to the wall.
_PROFILE_RINGS = (0.2, 0.7)
#: Rays whose summed-image maximum reaches this fraction of the 90th percentile (no defect).
_PROFILE_BRIGHT_FRACTION = 0.8


@dataclass(frozen=True)
class PhaseAnalysis:
    """First-harmonic phase statistics of the LV (Chen et al. 2005).

    Attributes
    ----------
    phase_sd_deg
        Standard deviation of the phase distribution, degrees (of the R-R interval).
    bandwidth_deg
        Width of the range holding 95 % of the myocardium, degrees.
    entropy_pct
        Shannon entropy of the 1-degree phase histogram, % of its maximum log(360).
    peak_phase_deg
        Most frequent phase, degrees.
    phase_deg
        Phase of each sample, degrees, shape of the input samples (for the phase
        polar map and histogram).
    weight
        Area weight of each sample (sums to 1), same shape.
    """

    phase_sd_deg: float
    bandwidth_deg: float
    entropy_pct: float
    peak_phase_deg: float
    phase_deg: np.ndarray | None = field(default=None, compare=False, repr=False)
    weight: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class WallThickness:
    """End-diastolic wall thickness used to place the endocardium of the gates.

    Attributes
    ----------
    ed_thickness_mm
        Wall thickness in the gate of largest mid-myocardial area, mm.
    measured
        True when it comes from the partial-volume fit of the gates, False when
        the population default was used.
    resolution_sigma_mm
        Gaussian SD of the image resolution found by the fit, mm, with the thickness
        held at the default when it was not measured (NaN if none).
    note
        How the value was obtained, or why the fit was not used.
    """

    ed_thickness_mm: float
    measured: bool
    resolution_sigma_mm: float
    note: str


@dataclass(frozen=True, eq=False)
class GatedFunction:
    """Global and regional function from gated images.

    Attributes
    ----------
    edv_ml, esv_ml, stroke_volume_ml
        End-diastolic, end-systolic and stroke volumes, mL.
    lvef_pct
        Ejection fraction, %.
    cavity_volume_ml
        Cavity volume of each gate, mL.
    ed_gate, es_gate
        Index of the end-diastolic and end-systolic gate.
    wall_motion_mm
        Inward endocardial motion ED to ES per AHA segment (17,), mm.
    thickening_pct
        Count-based systolic thickening per AHA segment (17,), %.
    phase
        Phase analysis.
    gate_surfaces
        Fitted surfaces of every gate (for contours).
    wall_thickness
        End-diastolic wall thickness and how it was obtained.
    """

    edv_ml: float
    esv_ml: float
    stroke_volume_ml: float
    lvef_pct: float
    cavity_volume_ml: tuple[float, ...]
    ed_gate: int
    es_gate: int
    wall_motion_mm: np.ndarray
    thickening_pct: np.ndarray
    phase: PhaseAnalysis
    gate_surfaces: tuple[LvSurfaces, ...]
    wall_thickness: WallThickness

    def to_json(self) -> dict[str, Any]:
        """JSON-ready values (rounded)."""
        return {
            "edv_ml": round(self.edv_ml, 1),
            "esv_ml": round(self.esv_ml, 1),
            "lvef_pct": round(self.lvef_pct, 1),
            "stroke_volume_ml": round(self.stroke_volume_ml, 1),
            "cavity_volume_ml": [round(v, 1) for v in self.cavity_volume_ml],
            "ed_gate": self.ed_gate,
            "es_gate": self.es_gate,
            "wall_motion_mm": [round(float(v), 2) for v in self.wall_motion_mm],
            "thickening_pct": [round(float(v), 1) for v in self.thickening_pct],
            "phase_sd_deg": round(self.phase.phase_sd_deg, 1),
            "phase_bandwidth_deg": round(self.phase.bandwidth_deg, 1),
            "phase_entropy_pct": round(self.phase.entropy_pct, 1),
            "phase_peak_deg": round(self.phase.peak_phase_deg, 1),
            "ed_wall_thickness_mm": round(self.wall_thickness.ed_thickness_mm, 1),
            "ed_wall_thickness_measured": self.wall_thickness.measured,
            "ed_wall_thickness_note": self.wall_thickness.note,
        }


def phase_analysis(counts_by_gate: np.ndarray, weight: np.ndarray) -> PhaseAnalysis:
    """Phase statistics of count curves.

    Parameters
    ----------
    counts_by_gate
        Counts of each sample in each gate, shape ``(n_gates, ...)``.
    weight
        Myocardial area of each sample, shape ``(...)``.
    """
    curves = np.asarray(counts_by_gate, dtype=float)
    n = curves.shape[0]
    if n < MIN_GATES:
        raise ParameterError(f"phase analysis needs at least {MIN_GATES} gates; got {n}")
    k = np.arange(n).reshape((n,) + (1,) * (curves.ndim - 1))
    first = np.sum(curves * np.exp(-2j * np.pi * k / n), axis=0)
    # c(g) = a + A cos(2 pi g / n - phi)  =>  first harmonic = (A n / 2) exp(-i phi)
    phase = np.mod(-np.angle(first, deg=True), 360.0).ravel()
    w = np.asarray(weight, dtype=float).ravel()
    w = w / w.sum()
    hist = np.bincount(np.floor(phase).astype(int) % 360, weights=w, minlength=360)
    peak = float(np.argmax(hist) + 0.5)
    # centre the distribution on its peak so that it does not wrap around
    centred = np.mod(phase - peak + 180.0, 360.0)
    mean = float(np.sum(w * centred))
    sd = float(np.sqrt(np.sum(w * (centred - mean) ** 2)))
    order = np.argsort(centred)
    cum = np.cumsum(w[order])
    lo = centred[order][np.searchsorted(cum, 0.025)]
    hi = centred[order][min(np.searchsorted(cum, 0.975), len(cum) - 1)]
    p = hist[hist > 0]
    entropy = float(-np.sum(p * np.log(p)) / np.log(360.0) * 100.0)
    return PhaseAnalysis(
        phase_sd_deg=sd,
        bandwidth_deg=float(hi - lo),
        entropy_pct=entropy,
        peak_phase_deg=peak,
        phase_deg=phase.reshape(curves.shape[1:]),
        weight=w.reshape(curves.shape[1:]),
    )


def _smooth_map(values: np.ndarray) -> np.ndarray:
    """3-ring x 9-angle moving average of a polar map (wrap-around in angle): gate noise."""
    padded = np.pad(values, ((0, 0), (4, 4)), mode="wrap")
    return ndi.uniform_filter(padded, size=(3, 9), mode="nearest")[:, 4:-4]


def _peak_curvature_shift_mm(surfaces: LvSurfaces, sigma_mm: float) -> np.ndarray:
    """Outward correction (mm) of the count maximum to the centre of a curved blurred wall.

    Blurring a curved wall by a Gaussian of SD ``s`` moves its count maximum towards
    the centre of curvature by ``s^2 H`` to first order, ``H`` the mean curvature
    (``1 / (2 r)`` on a cylinder, ``1 / r`` on a sphere), whatever the wall thickness:
    the cylindrical rings and the apical dome of the sampling grid.
    """
    g = surfaces.grid
    curvature = np.full(surfaces.r_mid_mm.shape, 0.5)
    curvature[: g.n_apical] = 1.0
    radius = np.maximum(surfaces.r_mid_mm, 2.0 * sigma_mm)
    return sigma_mm**2 * curvature / radius


def wall_profile_model(
    offset_mm: np.ndarray,
    amplitude: float,
    sigma_mm: float,
    thickness_mm: float | np.ndarray,
    centre_mm: float | np.ndarray = 0.0,
    inner_level: float | np.ndarray = 0.0,
    outer_level: float | np.ndarray = 0.0,
) -> np.ndarray:
    """Count profile across a uniform wall blurred by a Gaussian resolution (Galt et al. 1990).

    ``amplitude`` x (rectangle of width ``thickness_mm`` convolved with a Gaussian
    of SD ``sigma_mm``), centred at ``centre_mm``, on a background that steps
    (blurred) from ``inner_level`` (cavity side) to ``outer_level``. Array
    parameters broadcast against ``offset_mm`` (one profile per row).
    """
    x = (np.asarray(offset_mm, dtype=float) - centre_mm) / (np.sqrt(2.0) * sigma_mm)
    half = 0.5 * thickness_mm / (np.sqrt(2.0) * sigma_mm)
    wall = 0.5 * (erf(x + half) - erf(x - half))
    step = 0.5 * (1.0 + erf(x))
    return inner_level + (outer_level - inner_level) * step + amplitude * wall


def _default_thickness(note: str, sigma_mm: float = float("nan")) -> WallThickness:
    logger.warning("wall thickness: %s; using %.1f mm", note, DEFAULT_WALL_THICKNESS_MM)
    if np.isfinite(sigma_mm):
        note = f"{note}; resolution SD {sigma_mm:.1f} mm at the default thickness"
    return WallThickness(DEFAULT_WALL_THICKNESS_MM, False, sigma_mm, note)


def _fit_profiles(
    data: np.ndarray, ratio: np.ndarray, x: np.ndarray, thickness_mm: float | None
) -> tuple[np.ndarray, float]:
    """Joint fit of the gates' profiles (see :func:`fit_wall_thickness`).

    Returns ``(amplitude, sigma, thickness)`` and the relative standard error of the
    thickness, or, with ``thickness_mm`` held fixed, of the resolution ``sigma``
    (infinite when the fit fails or its covariance is singular).
    """
    n = len(ratio)
    height = float(np.max(data) - np.min(data))
    free = thickness_mm is None
    n_global = 3 if free else 2

    def residuals(p: np.ndarray) -> np.ndarray:
        amplitude, sigma = p[:2]
        thickness = p[2] if free else thickness_mm
        centre, inner, outer = p[n_global:].reshape(n, 3).T[..., None]
        model = wall_profile_model(
            x, amplitude, sigma, thickness * ratio[:, None], centre, inner, outer
        )
        return (model - data).ravel() / height

    start = [1.5 * height, 5.0, DEFAULT_WALL_THICKNESS_MM][:n_global]
    p0 = np.concatenate([start, np.column_stack([np.zeros(n), data[:, 0], data[:, -1]]).ravel()])
    lo = np.concatenate([[0.0, 1.0, 1.0][:n_global], np.tile([-5.0, -np.inf, -np.inf], n)])
    hi = np.concatenate([[np.inf, 15.0, 40.0][:n_global], np.tile([5.0, np.inf, np.inf], n)])
    fit = least_squares(residuals, p0, bounds=(lo, hi))
    k = 2 if free else 1
    dof = max(fit.fun.size - fit.x.size, 1)
    try:
        cov = np.linalg.inv(fit.jac.T @ fit.jac) * float(fit.fun @ fit.fun) / dof
        rse = float(np.sqrt(cov[k, k])) / float(fit.x[k])
    except np.linalg.LinAlgError:
        rse = float("inf")
    if not fit.success or not np.isfinite(rse):
        rse = float("inf")
    thickness = float(fit.x[2]) if free else float(thickness_mm)
    return np.array([float(fit.x[0]), float(fit.x[1]), thickness]), rse


def _resolution_at_default(data: np.ndarray, ratio: np.ndarray, x: np.ndarray) -> float:
    """Resolution SD (mm) of the profiles with the wall at the default thickness, NaN if uncertain.

    When the thickness cannot be separated from the resolution, the profile width
    still measures the resolution once the thickness is fixed (the width grows as
    ``sqrt(T^2 / 12 + s^2)``, little with ``T`` near the default), which the
    curvature correction of the count maximum needs.
    """
    (_, sigma, _), rse = _fit_profiles(data, ratio, x, DEFAULT_WALL_THICKNESS_MM)
    return sigma if rse <= _MAX_SIGMA_RSE else float("nan")


def fit_wall_thickness(
    profiles: Sequence[np.ndarray], mid_area_mm2: Sequence[float], offset_mm: np.ndarray
) -> WallThickness:
    """End-diastolic wall thickness from the count profiles across the wall of every gate.

    All gates are fitted together with :func:`wall_profile_model`: a common
    amplitude (tracer concentration) and resolution ``sigma``, and a thickness
    ``T_g = T_ED x A_ED / A_g`` that keeps the myocardial volume (mid-myocardial
    area ``A`` x thickness) constant over the cycle (Germano et al. 1995); each
    gate has its own centre and background levels. The partial-volume effect
    (Galt et al. 1990) makes the profile's height grow with thickness and its
    width grow with both, so thickness and resolution separate when the wall
    thickens. The population default is returned, with the reason, when the wall
    thickens too little (largest / smallest area < 1.1), the fit fails, its
    relative standard error exceeds 8 %, or it leaves the physiological range;
    the resolution is then fitted with the thickness held at the default
    (NaN when that fit is uncertain too).

    Parameters
    ----------
    profiles
        Mean count profile across the wall of each gate, sampled at ``offset_mm``.
    mid_area_mm2
        Mid-myocardial surface area of each gate, mm^2.
    offset_mm
        Positions of the profile samples from the mid-myocardium (outwards), mm.
    """
    data = np.asarray(profiles, dtype=float)
    area = np.asarray(mid_area_mm2, dtype=float)
    x = np.asarray(offset_mm, dtype=float)
    if data.ndim != 2 or data.shape != (len(area), len(x)) or len(area) < MIN_GATES:
        raise ParameterError(
            f"wall thickness fit needs at least {MIN_GATES} profiles of {len(x)} samples and "
            f"one area per gate; got profiles {data.shape} and {len(area)} areas"
        )
    if not np.all(np.isfinite(data)) or not np.all(area > 0):
        return _default_thickness("the wall profiles are not finite")
    ratio = area.max() / area
    if area.max() / area.min() < _MIN_AREA_RATIO:
        return _default_thickness(
            f"the wall thickens too little to measure it (area ratio {area.max() / area.min():.2f})",
            _resolution_at_default(data, ratio, x),
        )
    (_, sigma, thickness), rse = _fit_profiles(data, ratio, x, None)
    if rse > _MAX_THICKNESS_RSE:
        return _default_thickness(
            f"the partial-volume fit is uncertain (RSE {rse:.0%})",
            _resolution_at_default(data, ratio, x),
        )
    low, high = WALL_THICKNESS_RANGE_MM
    if not low <= thickness <= high:
        return _default_thickness(
            f"the partial-volume fit gave {thickness:.1f} mm, outside {low:.0f}-{high:.0f} mm",
            _resolution_at_default(data, ratio, x),
        )
    logger.info("ED wall thickness %.1f mm (resolution SD %.1f mm)", thickness, sigma)
    return WallThickness(
        thickness,
        True,
        sigma,
        f"partial-volume fit of {len(area)} gates (resolution SD {sigma:.1f} mm, RSE {rse:.0%})",
    )


def _wall_profiles(
    gates: Sequence[Volume], fitted: Sequence[LvSurfaces], summed: LvSurfaces
) -> np.ndarray:
    """Mean count profile across the wall of each gate (n_gates, offsets), mid-myocardium at 0.

    Rays of the middle cylindrical rings (normal to the wall) whose summed-image
    maximum shows no defect, each sampled at offsets from its gate's mid-myocardium.
    """
    g = summed.grid
    lo, hi = _PROFILE_RINGS
    rings = np.zeros(g.n_rings, dtype=bool)
    rings[g.n_apical :] = (g.cylinder_fraction >= lo) & (g.cylinder_fraction <= hi)
    level = _PROFILE_BRIGHT_FRACTION * np.percentile(summed.max_counts[rings], 90)
    rays = rings[:, None] & (summed.max_counts >= level)
    out = []
    for volume, surfaces in zip(gates, fitted, strict=True):
        work = working_volume(volume)
        points = np.stack(
            [surfaces.points_lps(surfaces.r_mid_mm + d)[rays] for d in _PROFILE_OFFSETS_MM],
            axis=1,
        )
        index = work.physical_to_index(points.reshape(-1, 3)).T
        values = ndi.map_coordinates(
            np.clip(work.array, 0, None).astype(np.float32), index, order=1, mode="constant"
        )
        out.append(values.reshape(points.shape[:2]).mean(axis=0))
    return np.stack(out)


def gated_function(
    gates: Sequence[Volume],
    axes: LvAxes,
    summed: LvSurfaces,
    polar: PolarMap,
    *,
    ed_wall_thickness_mm: float | None = None,
    count_ceilings: Sequence[float | None] | None = None,
) -> GatedFunction:
    """Volumes, LVEF, regional motion and thickening, and phase from gated images.

    Parameters
    ----------
    gates
        One volume per gate, in R-R order (at least :data:`MIN_GATES`).
    axes
        LV frame found on the summed image.
    summed
        Surfaces of the summed image (search prior for each gate).
    polar
        Polar map of the summed image (segments and area weights).
    ed_wall_thickness_mm
        End-diastolic wall thickness, mm; ``None``: measured from the gates
        (:func:`fit_wall_thickness`, with its fallback to the default).
    count_ceilings
        Count cap of each gate (see :func:`~cardiolens.nuclear.segment.fit_surfaces`).
    """
    if len(gates) < MIN_GATES:
        raise ParameterError(f"gated function needs at least {MIN_GATES} gates; got {len(gates)}")
    ceilings = list(count_ceilings) if count_ceilings is not None else [None] * len(gates)
    options = [{"grid": summed.grid, "prior": summed, "count_ceiling": c} for c in ceilings]
    first = [fit_surfaces(g, axes, **o) for g, o in zip(gates, options, strict=True)]
    # base motion over the cycle, smoothed in time ([1, 2, 1] / 4, periodic): gate noise
    shift = np.array([np.median(s.valve_height_mm - summed.valve_height_mm) for s in first])
    shift = 0.25 * np.roll(shift, 1) + 0.5 * shift + 0.25 * np.roll(shift, -1)
    fitted = [
        fit_surfaces(g, axes, valve_height_mm=summed.valve_height_mm + d, **o)
        for g, d, o in zip(gates, shift, options, strict=True)
    ]
    counts = np.stack([_smooth_map(s.max_counts) for s in fitted])
    area = np.array([s.area_mm2().sum() for s in fitted])
    if ed_wall_thickness_mm is None:
        wall = fit_wall_thickness(_wall_profiles(gates, fitted, summed), area, _PROFILE_OFFSETS_MM)
    else:
        wall = WallThickness(float(ed_wall_thickness_mm), False, float("nan"), "given")
    if np.isfinite(wall.resolution_sigma_mm):
        fitted = [
            replace(s, r_mid_mm=s.r_mid_mm + _peak_curvature_shift_mm(s, wall.resolution_sigma_mm))
            for s in fitted
        ]
    # incompressible myocardium: each wall element keeps the volume it has in the
    # end-diastolic gate (largest mid-myocardial area), its thickness inversely
    # proportional to its mid-myocardial area
    ed_area = fitted[int(np.argmax(area))].area_mm2()
    thickness = [wall.ed_thickness_mm * _smooth_map(ed_area / s.area_mm2()) for s in fitted]
    surfaces = tuple(
        replace(
            s,
            r_endo_mm=np.clip(s.r_mid_mm - 0.5 * t, 0.0, None),
            r_epi_mm=s.r_mid_mm + 0.5 * t,
        )
        for s, t in zip(fitted, thickness, strict=True)
    )
    volumes = np.array([s.cavity_volume_ml for s in surfaces])
    ed, es = int(np.argmax(volumes)), int(np.argmin(volumes))
    edv, esv = float(volumes[ed]), float(volumes[es])
    motion = surfaces[ed].r_endo_mm - surfaces[es].r_endo_mm
    thickening = 100.0 * (counts[es] - counts[ed]) / np.maximum(counts[ed], 1e-9)
    logger.info("gated function: EDV %.1f mL, ESV %.1f mL over %d gates", edv, esv, len(gates))
    return GatedFunction(
        edv_ml=edv,
        esv_ml=esv,
        stroke_volume_ml=edv - esv,
        lvef_pct=100.0 * (edv - esv) / edv if edv > 0 else float("nan"),
        cavity_volume_ml=tuple(float(v) for v in volumes),
        ed_gate=ed,
        es_gate=es,
        wall_motion_mm=segment_average(motion, polar),
        thickening_pct=segment_average(thickening, polar),
        phase=phase_analysis(
            -np.stack([_smooth_map(s.r_mid_mm) for s in surfaces]), polar.area_weight
        ),
        gate_surfaces=surfaces,
        wall_thickness=wall,
    )
