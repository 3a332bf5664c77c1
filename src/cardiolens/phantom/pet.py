"""Dynamic PET myocardial perfusion phantom: time-activity curves with known blood flow.

Model (one-tissue compartment with spillover, as used for Rb-82 and N-13 ammonia):

* ``dC_T/dt = K1 C_a(t) - k2 C_T(t)`` with the LV blood pool as arterial input ``C_a``;
* measured myocardial curve ``C_PET = (1 - V_LV - V_RV) C_T + V_LV C_LV + V_RV C_RV``;
* uptake rate from flow: Rb-82 ``K1 = MBF (1 - 0.77 exp(-0.63 / MBF))`` (Lortie M
  et al., Eur J Nucl Med Mol Imaging 2007;34:1765-74); N-13 ammonia ``K1 = MBF``
  (DeGrado TR et al., J Nucl Cardiol 1996;3:494-507; extraction near 1 over the
  first minutes, metabolites ignored); O-15 water ``K1 = MBF`` (freely diffusible).
  :mod:`cardiolens.phantom.pet_flow` builds on these curves for whole dynamic
  studies (per-segment flow, metabolites, water, images, DICOM).

Curves are decay-corrected activity concentrations (kBq/mL) averaged over each
frame. The input is a gamma-variate bolus with recirculation; the RV curve leads
the LV curve by a few seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize

from cardiolens.core.errors import ParameterError
from cardiolens.core.tracers import PetTracer, k1_from_mbf, mbf_from_k1

__all__ = [
    "PetTracer",
    "DEFAULT_FRAME_DURATIONS_S",
    "PetTimeActivityCurves",
    "OneTissueFit",
    "k1_from_mbf",
    "mbf_from_k1",
    "simulate_pet_dynamic",
    "fit_one_tissue",
]

#: Rb-82 rest/stress dynamic framing (Lortie 2007): 12 x 10 s, 2 x 30 s, 1 x 60 s, 1 x 120 s.
DEFAULT_FRAME_DURATIONS_S: tuple[float, ...] = (10.0,) * 12 + (30.0,) * 2 + (60.0, 120.0)
_DT_S = 0.5


@dataclass(frozen=True)
class PetTimeActivityCurves:
    """Frame-averaged curves (kBq/mL) and the ground truth behind them.

    ``myocardium`` is the measured curve with spillover and noise;
    ``tissue`` the true myocardial tissue curve ``C_T``.
    """

    frame_start_s: np.ndarray
    frame_durations_s: np.ndarray
    blood_lv: np.ndarray
    blood_rv: np.ndarray
    myocardium: np.ndarray
    tissue: np.ndarray
    tracer: PetTracer
    mbf_ml_min_g: float
    k1_ml_min_g: float
    k2_per_min: float
    v_lv: float
    v_rv: float
    noise_cv: float
    seed: int

    @property
    def frame_mid_s(self) -> np.ndarray:
        """Frame mid-times (s)."""
        return self.frame_start_s + 0.5 * self.frame_durations_s

    def ground_truth(self) -> dict:
        """JSON-ready ground truth (model, parameters and their sources)."""
        return {
            "model": "one-tissue compartment, C_PET = (1 - V_LV - V_RV) C_T + V_LV C_LV + V_RV C_RV",
            "k1_relation": "Lortie 2007: K1 = MBF (1 - 0.77 exp(-0.63/MBF))"
            if self.tracer == PetTracer.RB82
            else "DeGrado 1996: K1 = MBF",
            "tracer": self.tracer.value,
            "mbf_ml_min_g": self.mbf_ml_min_g,
            "k1_ml_min_g": self.k1_ml_min_g,
            "k2_per_min": self.k2_per_min,
            "v_lv": self.v_lv,
            "v_rv": self.v_rv,
            "noise_cv": self.noise_cv,
            "seed": self.seed,
            "frame_durations_s": self.frame_durations_s.tolist(),
            "units": "kBq/mL, decay corrected",
        }


def _input_function(t_s: np.ndarray, delay_s: float, peak_kbq_ml: float) -> np.ndarray:
    """Gamma-variate bolus (alpha 3, beta 4 s) plus a slow recirculation plateau."""
    tau = np.clip(t_s - delay_s, 0, None)
    bolus = (tau / 12.0) ** 3 * np.exp(3 - tau / 4.0)
    recirculation = 0.08 * (1 - np.exp(-tau / 20.0)) * np.exp(-tau / 600.0)
    return peak_kbq_ml * (bolus + recirculation)


def _tissue_curve(fine_input: np.ndarray, k1_per_s: float, k2_per_s: float) -> np.ndarray:
    """Exact solution of dC/dt = K1 C_a - k2 C for a piecewise-constant input on the fine grid."""
    decay = np.exp(-k2_per_s * _DT_S)
    gain = k1_per_s * (1 - decay) / k2_per_s if k2_per_s > 0 else k1_per_s * _DT_S
    out = np.empty_like(fine_input)
    c = 0.0
    for i, value in enumerate(fine_input):
        c = c * decay + gain * value
        out[i] = c
    return out


def _frame_average(fine: np.ndarray, starts: np.ndarray, durations: np.ndarray) -> np.ndarray:
    index = np.rint(np.concatenate([starts, [starts[-1] + durations[-1]]]) / _DT_S).astype(int)
    return np.array([fine[a:b].mean() for a, b in zip(index[:-1], index[1:], strict=True)])


def _frames(frame_durations_s: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    durations = np.asarray(frame_durations_s, dtype=float)
    if durations.ndim != 1 or durations.size < 3 or np.any(durations <= 0):
        raise ParameterError(
            f"frame_durations_s must be at least 3 positive durations; got {frame_durations_s}"
        )
    if np.any(np.abs(durations / _DT_S - np.rint(durations / _DT_S)) > 1e-9):
        raise ParameterError(
            f"frame durations must be multiples of {_DT_S} s; got {frame_durations_s}"
        )
    return np.concatenate([[0.0], np.cumsum(durations)[:-1]]), durations


def simulate_pet_dynamic(
    *,
    mbf_ml_min_g: float,
    tracer: PetTracer | str = PetTracer.RB82,
    frame_durations_s: Sequence[float] = DEFAULT_FRAME_DURATIONS_S,
    seed: int = 0,
    k2_per_min: float = 0.15,
    v_lv: float = 0.25,
    v_rv: float = 0.05,
    noise_cv: float = 0.0,
    peak_blood_kbq_ml: float = 400.0,
) -> PetTimeActivityCurves:
    """Blood and myocardial time-activity curves of a dynamic perfusion PET scan with known MBF.

    Parameters
    ----------
    mbf_ml_min_g
        True myocardial blood flow (mL/min/g), 0.05-10.
    tracer
        ``"rb82"`` or ``"nh3"``.
    frame_durations_s
        Frame durations (s), multiples of 0.5 s.
    seed
        Seed of the noise.
    k2_per_min
        Washout rate constant (1/min).
    v_lv, v_rv
        Spillover fractions from the LV and RV blood pools.
    noise_cv
        Coefficient of variation of Gaussian noise in a 10-s frame at the peak
        myocardial value; it scales as ``sqrt(C / (C_max * duration / 10 s))`` (count statistics).
    peak_blood_kbq_ml
        Peak of the LV input function (kBq/mL).
    """
    tracer = PetTracer.parse(tracer)
    if not 0.05 <= mbf_ml_min_g <= 10:
        raise ParameterError(f"mbf must be 0.05-10 mL/min/g; got {mbf_ml_min_g}")
    if not (0 <= v_lv < 1 and 0 <= v_rv < 1 and v_lv + v_rv < 1):
        raise ParameterError(
            f"spillover fractions need 0 <= v_lv, v_rv and v_lv + v_rv < 1; got {v_lv}, {v_rv}"
        )
    if not 0 < k2_per_min < 5:
        raise ParameterError(f"k2 must be in (0, 5) 1/min; got {k2_per_min}")
    if not 0 <= noise_cv < 1:
        raise ParameterError(f"noise_cv must be in [0, 1); got {noise_cv}")
    starts, durations = _frames(frame_durations_s)
    t = np.arange(int(round((starts[-1] + durations[-1]) / _DT_S))) * _DT_S + 0.5 * _DT_S
    lv_fine = _input_function(t, delay_s=15.0, peak_kbq_ml=peak_blood_kbq_ml)
    rv_fine = _input_function(t, delay_s=9.0, peak_kbq_ml=1.3 * peak_blood_kbq_ml)
    k1 = float(k1_from_mbf(mbf_ml_min_g, tracer))
    tissue_fine = _tissue_curve(lv_fine, k1 / 60.0, k2_per_min / 60.0)
    blood_lv = _frame_average(lv_fine, starts, durations)
    blood_rv = _frame_average(rv_fine, starts, durations)
    tissue = _frame_average(tissue_fine, starts, durations)
    measured = (1 - v_lv - v_rv) * tissue + v_lv * blood_lv + v_rv * blood_rv
    if noise_cv > 0:
        rng = np.random.default_rng(seed)
        peak = float(measured.max())
        sigma = noise_cv * np.sqrt(np.clip(measured, 0, None) * peak * 10.0 / durations)
        measured = measured + rng.normal(0.0, 1.0, measured.shape) * sigma
    return PetTimeActivityCurves(
        starts, durations, blood_lv, blood_rv, measured, tissue, tracer, float(mbf_ml_min_g), k1,
        float(k2_per_min), float(v_lv), float(v_rv), float(noise_cv), int(seed),
    )  # fmt: skip


@dataclass(frozen=True)
class OneTissueFit:
    """Weighted least-squares one-tissue fit of a myocardial curve."""

    k1_ml_min_g: float
    k2_per_min: float
    v_lv: float
    v_rv: float
    mbf_ml_min_g: float
    tracer: PetTracer
    weighted_rss: float

    def to_json(self) -> dict:
        """JSON-ready dict."""
        return {**asdict(self), "tracer": self.tracer.value}


def fit_one_tissue(curves: PetTimeActivityCurves, *, v_rv: float | None = None) -> OneTissueFit:
    """Fit K1, k2 and V_LV to ``curves.myocardium`` and convert K1 to MBF.

    The input is the frame-averaged LV curve held constant within each frame
    (its integral is exact); residuals are weighted by ``duration / C`` (Poisson
    counting statistics). ``v_rv`` is fixed (default: the phantom's value, as
    when the RV spillover is taken from a separate septal fit).
    """
    starts, durations = curves.frame_start_s, curves.frame_durations_s
    n_fine = np.rint(durations / _DT_S).astype(int)
    lv_fine = np.repeat(curves.blood_lv, n_fine)
    v_rv = curves.v_rv if v_rv is None else float(v_rv)
    weights = np.sqrt(
        durations / np.maximum(np.abs(curves.myocardium), 1e-3 * np.abs(curves.myocardium).max())
    )

    def model(params: np.ndarray) -> np.ndarray:
        k1, k2, v_lv = params
        tissue = _frame_average(_tissue_curve(lv_fine, k1 / 60.0, k2 / 60.0), starts, durations)
        return (1 - v_lv - v_rv) * tissue + v_lv * curves.blood_lv + v_rv * curves.blood_rv

    result = optimize.least_squares(
        lambda p: (model(p) - curves.myocardium) * weights,
        x0=np.array([0.7, 0.2, 0.2]),
        bounds=([1e-3, 1e-4, 0.0], [10.0, 5.0, 0.95 - v_rv]),
        x_scale=np.array([0.5, 0.1, 0.1]),
    )
    k1, k2, v_lv = (float(v) for v in result.x)
    return OneTissueFit(
        k1, k2, v_lv, v_rv, mbf_from_k1(k1, curves.tracer), curves.tracer, float(2 * result.cost)
    )
