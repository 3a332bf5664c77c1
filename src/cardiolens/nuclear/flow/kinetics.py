"""Compartment models of myocardial blood flow (MBF) for Rb-82, N-13 ammonia and O-15 water PET.

All three are one-tissue compartment models ``dC_T/dt = K1 C_a(t) - k2 C_T(t)``
fitted by weighted least squares to frame-averaged, decay-corrected myocardial
time-activity curves (TACs) with the left-ventricular (LV) blood pool as input:

* **Rb-82** (Lortie M et al., Eur J Nucl Med Mol Imaging 2007;34:1765-74):
  ``C_PET = (1 - V_LV - V_RV) C_T + V_LV C_LV + V_RV C_RV``; K1, k2, V_LV (and
  V_RV in septal regions) fitted; MBF from the Renkin-Crone extraction
  ``K1 = MBF (1 - 0.77 exp(-0.63 / MBF))``. With the geometric partial-volume terms
  of :mod:`.recovery` (``recovery=``) the tissue fraction is ``RC + S_in - V_LV``
  instead: ``1 - V_LV - V_RV`` assumes the wall loses to blur only what the blood
  spills in, and misses the wall signal blurred out past the epicardium (Hutchins GD,
  Caraher JM, Raylman RR, J Nucl Med 1992;33:1243-50).
* **N-13 ammonia** (DeGrado TR et al., J Nucl Cardiol 1996;3:494-507): the same
  model with ``K1 = MBF`` (extraction near 1), fitted over the first 4 minutes;
  the tissue sees only parent ammonia: the LV curve is corrected for labelled
  metabolites by ``f(t) = exp(-ln 2 (t - t0) / T1/2)`` for ``t > t0``, ``t0`` 0.48
  min, ``T1/2`` 6.69 min (van den Hoff J et al., J Nucl Med 2001;42:1174-82), while
  the spillover terms use the total blood activity.
* **O-15 water** (Iida H et al., Circulation 1988;78:104-15; Hermansen F et al.,
  J Nucl Med 1998;39:1696-702): freely diffusible, ``K1 = MBF``, ``k2 = MBF / p``
  with the partition coefficient ``p = 0.91`` mL/g; ``C_PET = PTF C_T + V_LV C_LV +
  V_RV C_RV`` with the perfusable tissue fraction PTF fitted. MBF is per gram of
  perfusable tissue.

The input is held constant within each frame (its frame average, so its
integral is exact) and the tissue equation is integrated exactly frame by
frame. The models are linear in all parameters but one once rewritten as
``a g(k2) + V_LV C_LV + V_RV C_RV`` (``a = (1 - V_LV - V_RV) K1``; water:
``PTF MBF g(MBF / p) + ...``), so the fit is separable (variable projection, Golub GH,
Pereyra V, SIAM J Numer Anal 1973;10:413-32): non-negative least squares for the
linear coefficients at each value of the nonlinear rate (k2, or MBF for water) on
a log grid (120 points), refined on a 41-point grid between the neighbours of the best. Residuals are weighted by ``sqrt(duration exp(-lambda t_mid) / C)``:
the variance of a decay-corrected frame value grows with its value, with the
decay correction and with shorter frames (Poisson counting statistics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from cardiolens.core.tracers import PetTracer, k1_from_mbf, mbf_from_k1

__all__ = [
    "FlowTracer",
    "HALF_LIFE_S",
    "WATER_PARTITION_ML_G",
    "KineticFit",
    "fit_tac",
    "frame_tissue_curves",
    "k1_from_mbf",
    "mbf_from_k1",
    "nh3_parent_fraction",
    "tracer_settings",
]

#: Physical half-lives (s): Rb-82 75.45 s, N-13 597.9 s, O-15 122.24 s (NNDC / DDEP).
HALF_LIFE_S = {"rb82": 75.45, "nh3": 597.9, "h2o": 122.24}
#: Tissue/blood partition coefficient of water (mL/g; Iida 1988, Hermansen 1998).
WATER_PARTITION_ML_G = 0.91
#: Frames used by each model: those ending at or before this time (s) after the first frame.
FIT_WINDOW_S = {"rb82": 600.0, "nh3": 240.0, "h2o": 360.0}
#: Shortest scan (s) each model can be fitted on (it must hold the uptake and early washout).
MIN_SCAN_S = {"rb82": 180.0, "nh3": 240.0, "h2o": 180.0}
#: Search range (1/min) of the nonlinear rate: k2 (Rb-82, ammonia) or MBF (mL/min/g, water).
RATE_RANGE_PER_MIN = {"k2": (1e-3, 5.0), "h2o": (0.05, 10.0)}
#: Van den Hoff 2001 metabolite correction of N-13 ammonia: t0 and T1/2 (min).
NH3_METABOLITE_T0_MIN, NH3_METABOLITE_HALF_MIN = 0.48, 6.69


#: The tracers with a kinetic model here (an alias of :class:`cardiolens.core.tracers.PetTracer`).
FlowTracer = PetTracer


def nh3_parent_fraction(time_s: np.ndarray) -> np.ndarray:
    """Fraction of blood N-13 activity that is ammonia (van den Hoff 2001), at times (s)."""
    t_min = np.asarray(time_s, dtype=float) / 60.0
    late = np.clip(t_min - NH3_METABOLITE_T0_MIN, 0.0, None)
    return np.exp(-math.log(2) * late / NH3_METABOLITE_HALF_MIN)


def tracer_settings(tracer: FlowTracer | str) -> dict:
    """JSON-ready model, parameters and sources of ``tracer``'s kinetic model."""
    tracer = FlowTracer.parse(tracer)
    common = {
        "tracer": tracer.value,
        "half_life_s": HALF_LIFE_S[tracer.value],
        "fit_window_s": FIT_WINDOW_S[tracer.value],
        "weights": "sqrt(duration * exp(-lambda t_mid) / C) (Poisson counting statistics)",
        "input": "LV blood-pool ROI, frame average held constant within each frame",
        "rv_spillover": "fitted in septal regions (AHA 2, 3, 8, 9, 14), 0 elsewhere",
        "partial_volume": (
            "region curves unmixed by the geometric transfer matrix; "
            + (
                "the perfusable tissue fraction absorbs the recovery"
                if tracer == FlowTracer.H2O
                else "tissue fraction RC + S_in - V_LV from the segmentation and the "
                "fitted resolution (Rousset 1998; Hutchins 1992)"
            )
        ),
    }
    if tracer == FlowTracer.RB82:
        return {
            **common,
            "model": "one-tissue compartment, C = (1 - V_LV - V_RV) C_T + V_LV C_LV + V_RV C_RV",
            "extraction": "K1 = MBF (1 - 0.77 exp(-0.63 / MBF))",
            "reference": "Lortie M et al., Eur J Nucl Med Mol Imaging 2007;34:1765-74",
        }
    if tracer == FlowTracer.NH3:
        return {
            **common,
            "model": "one-tissue compartment, C = (1 - V_LV - V_RV) C_T + V_LV C_LV + V_RV C_RV",
            "extraction": "K1 = MBF",
            "metabolite_correction": (
                f"input x exp(-ln2 (t - {NH3_METABOLITE_T0_MIN}) / {NH3_METABOLITE_HALF_MIN}) "
                "for t > t0 (min); van den Hoff J et al., J Nucl Med 2001;42:1174-82"
            ),
            "reference": "DeGrado TR et al., J Nucl Cardiol 1996;3:494-507",
        }
    return {
        **common,
        "model": "one-tissue compartment, C = PTF C_T + V_LV C_LV + V_RV C_RV, k2 = MBF / p",
        "partition_coefficient_ml_g": WATER_PARTITION_ML_G,
        "extraction": "K1 = MBF (freely diffusible)",
        "reference": (
            "Iida H et al., Circulation 1988;78:104-15; Hermansen F et al., "
            "J Nucl Med 1998;39:1696-702"
        ),
    }


def frame_tissue_curves(
    input_frames: np.ndarray,
    starts_s: np.ndarray,
    durations_s: np.ndarray,
    k1_per_min: np.ndarray | float,
    k2_per_min: np.ndarray | float,
) -> np.ndarray:
    """Frame averages of ``C_T`` for an input constant within each frame (exact integration).

    Within frame ``i`` of input ``a``: ``C(t) = a K1/k2 + (C_i - a K1/k2) exp(-k2 (t - s_i))``;
    a gap between frames holds the previous frame's input. ``k1`` and ``k2``
    (per minute) broadcast to one shape ``P``; returns ``P + (n_frames,)``, input units.
    """
    k1, k2 = np.broadcast_arrays(
        np.asarray(k1_per_min, float) / 60.0, np.asarray(k2_per_min, float) / 60.0
    )
    k2 = np.maximum(k2, 1e-12)
    out = np.empty((*k1.shape, len(input_frames)))
    c = np.zeros(k1.shape)
    t, previous = float(starts_s[0]), 0.0
    for i, (a, s, d) in enumerate(zip(input_frames, starts_s, durations_s, strict=True)):
        if s > t:
            held = previous * k1 / k2
            c = held + (c - held) * np.exp(-k2 * (s - t))
        steady = a * k1 / k2
        out[..., i] = steady + (c - steady) * (-np.expm1(-k2 * d)) / (k2 * d)
        c = steady + (c - steady) * np.exp(-k2 * d)
        t, previous = float(s + d), float(a)
    return out


@dataclass(frozen=True)
class KineticFit:
    """One fitted TAC: parameters (mL/min/g, 1/min, fractions) and fit quality.

    ``ptf`` is the perfusable tissue fraction (water) or ``1 - V_LV - V_RV``;
    ``relative_rmse`` the RMS residual over the mean fitted value; ``at_bound``
    names parameters that ended on a bound.
    """

    tracer: FlowTracer
    mbf_ml_min_g: float
    k1_ml_min_g: float
    k2_per_min: float
    v_lv: float
    v_rv: float
    ptf: float
    relative_rmse: float
    at_bound: tuple[str, ...]
    n_frames: int

    def to_json(self) -> dict:
        """JSON-ready dict (rounded)."""
        return {
            "mbf_ml_min_g": round(self.mbf_ml_min_g, 4),
            "k1_ml_min_g": round(self.k1_ml_min_g, 4),
            "k2_per_min": round(self.k2_per_min, 4),
            "v_lv": round(self.v_lv, 4),
            "v_rv": round(self.v_rv, 4),
            "ptf": round(self.ptf, 4),
            "relative_rmse": round(self.relative_rmse, 4),
            "at_bound": list(self.at_bound),
            "n_frames": self.n_frames,
        }


def _window(tracer: FlowTracer, starts: np.ndarray, durations: np.ndarray) -> np.ndarray:
    end = starts + durations - starts[0]
    keep = end <= FIT_WINDOW_S[tracer.value] + 1e-6
    keep[: max(int(keep.sum()), 3)] = True
    return keep


def fit_tac(
    tracer: FlowTracer | str,
    starts_s: np.ndarray,
    durations_s: np.ndarray,
    blood_lv: np.ndarray,
    tissue: np.ndarray,
    *,
    blood_rv: np.ndarray | None = None,
    fit_rv: bool = False,
    recovery: tuple[float, float] | None = None,
) -> KineticFit:
    """Fit ``tracer``'s model (see the module docstring) to one myocardial TAC.

    Parameters
    ----------
    starts_s, durations_s
        Frame start times (s, from the series start) and durations (s).
    blood_lv, blood_rv
        LV and RV blood-pool frame averages (decay corrected, any concentration unit).
    tissue
        Myocardial frame averages, same unit.
    fit_rv
        Fit the RV spillover fraction (septal regions); otherwise it is 0.
    recovery
        Rb-82 and ammonia: the region's geometric recovery ``RC`` and cavity spill-in
        ``S_in`` (:mod:`.recovery`). The tissue fraction is then ``1 - V_LV - S_out`` with
        ``S_out = 1 - RC - S_in`` the part of the sample from past the epicardium, i.e.
        ``RC - (V_LV - S_in)`` (recovery less the intramyocardial blood), within
        ``[0.05, RC]``; without it, the models' ``1 - V_LV - V_RV``.
    """
    tracer = FlowTracer.parse(tracer)
    starts = np.asarray(starts_s, dtype=float)
    durations = np.asarray(durations_s, dtype=float)
    keep = _window(tracer, starts, durations)
    starts, durations = starts[keep], durations[keep]
    lv = np.asarray(blood_lv, dtype=float)[keep]
    rv = np.zeros_like(lv) if blood_rv is None else np.asarray(blood_rv, dtype=float)[keep]
    data = np.asarray(tissue, dtype=float)[keep]
    fit_rv = bool(fit_rv and blood_rv is not None)
    mid = starts + 0.5 * durations - starts[0]
    parent = lv * nh3_parent_fraction(mid) if tracer == FlowTracer.NH3 else lv
    decay = math.log(2) / HALF_LIFE_S[tracer.value]
    floor = 0.02 * max(float(np.max(np.abs(data))), 1e-12)
    weights = np.sqrt(durations * np.exp(-decay * mid) / np.maximum(np.abs(data), floor))
    water = tracer == FlowTracer.H2O
    linear = [lv, rv] if fit_rv else [lv]

    def solve(rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best linear coefficients and weighted RSS for each nonlinear rate (k2, or MBF for water)."""
        if water:
            basis = frame_tissue_curves(
                parent, starts, durations, rates, rates / WATER_PARTITION_ML_G
            )
        else:
            basis = frame_tissue_curves(parent, starts, durations, 1.0, rates)
        n = len(rates)
        design = (
            np.concatenate(
                [
                    basis[:, :, None],
                    np.broadcast_to(np.stack(linear, axis=-1), (n, *lv.shape, len(linear))),
                ],
                axis=-1,
            )
            * weights[None, :, None]
        )
        target = data * weights
        gram = np.einsum("nfi,nfj->nij", design, design) + 1e-12 * np.eye(1 + len(linear))
        coefs = np.linalg.solve(gram, np.einsum("nfi,f->ni", design, target)[..., None])[..., 0]
        for m in np.flatnonzero(np.any(coefs < 0, axis=1)):  # a bound is active: exact NNLS
            coefs[m] = optimize.nnls(design[m], target)[0]
        rss = np.sum((np.einsum("nfi,ni->nf", design, coefs) - target) ** 2, axis=1)
        return coefs, rss

    lo, hi = RATE_RANGE_PER_MIN["h2o" if water else "k2"]
    grid = np.geomspace(lo, hi, 120)
    _, rss = solve(grid)
    best = int(np.argmin(rss))
    fine = np.geomspace(grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)], 41)
    _, fine_rss = solve(fine)
    rate = float(fine[int(np.argmin(fine_rss))])
    coef = solve(np.array([rate]))[0][0]
    v_lv = float(coef[1])
    v_rv = float(coef[2]) if fit_rv else 0.0
    if water:
        mbf = k1 = rate
        k2, ptf = rate / WATER_PARTITION_ML_G, float(coef[0])
    else:
        k2, ptf = rate, 1 - v_lv - v_rv
        if recovery is not None:
            rc, s_in = recovery
            ptf = float(np.clip(rc + s_in - v_lv, 0.05, rc))
        k1 = float(coef[0]) / max(ptf, 0.05)
        mbf = mbf_from_k1(k1, tracer)
    fitted = ptf * frame_tissue_curves(parent, starts, durations, k1, k2) + v_lv * lv + v_rv * rv
    rmse = float(
        np.sqrt(np.mean((fitted - data) ** 2)) / max(float(np.mean(np.abs(fitted))), 1e-12)
    )
    name = "mbf" if water else "k2"
    at_bound = (name,) if rate <= lo * 1.0001 or rate >= hi * 0.9999 else ()
    if ptf <= 0.05:
        at_bound = (*at_bound, "ptf")
    return KineticFit(tracer, mbf, k1, k2, v_lv, v_rv, ptf, rmse, at_bound, int(keep.sum()))
