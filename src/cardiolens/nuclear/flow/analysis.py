"""Rest and stress myocardial blood flow, flow reserve and coronary flow capacity from dynamic PET.

One scan (:func:`analyze_flow_scan`): timing checks, decay correction, LV
segmentation and late-uptake TPD on the late image (the nuclear stage,
:func:`cardiolens.nuclear.analysis.analyze_image`), motion correction
(:mod:`.motion`), blood-pool and myocardial curves (:mod:`.sampling`), the
geometric partial-volume terms (:mod:`.recovery`) and the tracer's kinetic model
(:mod:`.kinetics`) fitted to the curve of every polar sector (6 rings x 8 angles),
AHA segment, coronary territory and the whole LV. Within each partition the region
curves are first unmixed by its geometric transfer matrix (the blur between
neighbouring regions, Rousset OG et al., J Nucl Med 1998;39:904-11), so a region
next to a faster one does not read high. A study (:func:`analyze_flow`) adds MFR and CFC (:mod:`.reserve`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cardiolens.core.aha import SEGMENT_TERRITORY, Territory
from cardiolens.core.errors import AnalysisError, InputError, ParameterError
from cardiolens.core.study import Series
from cardiolens.core.volume import Volume
from cardiolens.io.pet_dynamic import FrameTiming, dicom_frame_timing
from cardiolens.io.roles import stress_or_rest
from cardiolens.nuclear.analysis import analyze_image
from cardiolens.nuclear.flow.kinetics import (
    MIN_SCAN_S,
    FlowTracer,
    KineticFit,
    fit_tac,
    tracer_settings,
)
from cardiolens.nuclear.flow.motion import MotionResult, correct_motion
from cardiolens.nuclear.flow.recovery import wall_recovery
from cardiolens.nuclear.flow.reserve import (
    CFC_REFERENCE,
    CFC_THRESHOLDS,
    MFR_ABNORMAL_BELOW,
    cfc_category,
    flow_reserve,
)
from cardiolens.nuclear.flow.sampling import (
    LATE_START_S,
    blood_pools,
    late_image,
    sample_myocardium,
)
from cardiolens.nuclear.normals import NormalDatabase, default_normal_database

__all__ = [
    "DynamicScan",
    "FlowScanResult",
    "FlowStudyResult",
    "analyze_flow",
    "analyze_flow_scan",
    "detect_tracer",
    "scan_from_frames",
    "scan_from_series",
]

SEPTAL_SEGMENTS = (2, 3, 8, 9, 14)
SECTOR_RINGS, SECTOR_ANGLES = 6, 8
#: needs_review limits: relative RMS residual of the global / a segment fit.
MAX_GLOBAL_RMSE, MAX_SEGMENT_RMSE = 0.10, 0.25
#: Physiological MBF range (mL/min/g) outside which a global value is flagged.
MBF_RANGE = {"rest": (0.3, 2.5), "stress": (0.5, 6.0)}
_TRACER_WORDS = {
    FlowTracer.RB82: ("rubidium", "rb-82", "rb82", "82rb"),
    FlowTracer.NH3: ("ammonia", "nh3", "n-13", "n13"),
    FlowTracer.H2O: ("water", "h2o", "o-15", "o15"),
}


def detect_tracer(*texts: str) -> FlowTracer | None:
    """The tracer named in header text (radiopharmaceutical, series description), or None."""
    joined = " ".join(t.lower() for t in texts if t)
    for tracer, words in _TRACER_WORDS.items():
        if any(w in joined for w in words):
            return tracer
    return None


@dataclass(frozen=True)
class DynamicScan:
    """One dynamic scan ready for kinetic analysis: decay-corrected frames and their timing."""

    frames: list[Volume]
    timing: FrameTiming
    tracer: FlowTracer
    state: str
    source: Path


def scan_from_frames(
    frames: list[Volume],
    timing: FrameTiming,
    *,
    source: Path,
    tracer: FlowTracer | str | None = None,
    state: str = "rest",
    header_text: tuple[str, ...] = (),
) -> DynamicScan:
    """A :class:`DynamicScan` from frames and their timing (tracer from the header text if not given)."""
    if len(frames) < 2:
        raise InputError(
            "a single frame: myocardial blood flow needs a dynamic series (several time frames)",
            source,
        )
    if len(timing.starts_s) != len(frames):
        raise InputError(
            f"{len(frames)} frames read but {len(timing.starts_s)} in the frame timing", source
        )
    found = detect_tracer(timing.radiopharmaceutical, *header_text)
    if tracer is None and found is None:
        raise InputError(
            "tracer unknown (no Rb-82, N-13 ammonia or O-15 water in the header); pass --tracer",
            source,
        )
    chosen = FlowTracer.parse(tracer) if tracer is not None else found
    if timing.scan_s < MIN_SCAN_S[chosen.value]:
        raise InputError(
            f"scan of {timing.scan_s:.0f} s is too short for the {chosen.value} model "
            f"(needs >= {MIN_SCAN_S[chosen.value]:.0f} s)",
            source,
        )
    corrected = [
        f.with_array((f.array * np.float32(factor)).astype(np.float32), modality="PT")
        for f, factor in zip(frames, timing.decay_factors, strict=True)
    ]
    return DynamicScan(corrected, timing, chosen, state, source)


def scan_from_series(
    series: Series,
    *,
    tracer: FlowTracer | str | None = None,
    state: str | None = None,
) -> DynamicScan:
    """A :class:`DynamicScan` of a dynamic PET series (timing read from its DICOM headers).

    ``state`` defaults to the stress/rest keyword of the header (rest when none).
    """
    source = Path(series.files[0]) if series.files else Path(series.series_uid)
    if not series.frames:
        raise InputError(
            "a single frame: myocardial blood flow needs a dynamic series (several time frames)",
            source,
        )
    if state is None:
        kind, _, _ = stress_or_rest(series.metadata)
        state = kind or "rest"
    return scan_from_frames(
        series.frames,
        dicom_frame_timing(series.files),
        source=source,
        tracer=tracer,
        state=state,
        header_text=(str(series.metadata.get("radiopharmaceutical", "")), series.description),
    )


@dataclass(frozen=True, eq=False)
class FlowScanResult:
    """MBF of one scan at every level, with the fits, input function, motion and late uptake."""

    scan: DynamicScan
    global_fit: KineticFit
    segment_fits: tuple[KineticFit, ...]
    territory_fits: dict[str, KineticFit]
    sector_mbf: np.ndarray  # (SECTOR_RINGS, SECTOR_ANGLES)
    input_function: dict[str, Any]
    motion: MotionResult
    late_uptake: dict[str, Any] | None
    review_reasons: tuple[str, ...]
    curves: dict[str, list[float]] = field(default_factory=dict)
    partial_volume: dict[str, Any] = field(default_factory=dict)

    @property
    def segments_mbf(self) -> np.ndarray:
        """MBF (mL/min/g) of the 17 AHA segments."""
        return np.array([f.mbf_ml_min_g for f in self.segment_fits])

    @property
    def territory_mbf(self) -> dict[str, float]:
        """MBF (mL/min/g) of each coronary territory."""
        return {t: f.mbf_ml_min_g for t, f in self.territory_fits.items()}

    def to_json(self) -> dict[str, Any]:
        """The per-state object of the report's ``pet_flow`` section."""
        return {
            "state": self.scan.state,
            "tracer": self.scan.tracer.value,
            "source": str(self.scan.source),
            "global_mbf_ml_min_g": round(self.global_fit.mbf_ml_min_g, 3),
            "segments_mbf_ml_min_g": [round(float(v), 3) for v in self.segments_mbf],
            "territory_mbf_ml_min_g": {t: round(v, 3) for t, v in self.territory_mbf.items()},
            "polar_sectors": {
                "rings": SECTOR_RINGS,
                "angles": SECTOR_ANGLES,
                "layout": "rows apex to base, columns from anterior (0 deg) through septal (90 deg)",
                "mbf_ml_min_g": [[round(float(v), 3) for v in row] for row in self.sector_mbf],
            },
            "fits": {
                "global": self.global_fit.to_json(),
                "segments": [f.to_json() for f in self.segment_fits],
                "territories": {t: f.to_json() for t, f in self.territory_fits.items()},
            },
            "input_function": self.input_function,
            "motion": self.motion.to_json(),
            "timing": self.scan.timing.to_json(),
            "late_uptake": self.late_uptake,
            "curves": self.curves,
            "partial_volume": self.partial_volume,
            "needs_review": bool(self.review_reasons),
            "review_reasons": list(self.review_reasons),
        }


def _two(value: float) -> str:
    """Two decimals of the value as rounded in the JSON (3 decimals), so text and JSON agree."""
    return f"{round(float(value), 3):.2f}"


def _weighted_tac(tacs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    n = tacs.shape[0]
    return (tacs * weights).reshape(n, -1).sum(axis=1) / max(float(weights.sum()), 1e-12)


def _input_checks(lv: np.ndarray, timing: FrameTiming, roi_ml: float) -> tuple[dict, list[str]]:
    peak = int(np.argmax(lv))
    late = float(np.mean(lv[-1:]))
    ratio = float(lv[peak] / late) if late > 0 else float("inf")
    info = {
        "method": "LV mid-basal cavity ROI from the late-image LV surfaces; RV ROI at the first-pass maximum beside the septum",
        "lv_roi_ml": round(roi_ml, 2),
        "peak_bq_ml": round(float(lv[peak]), 1),
        "peak_time_s": round(float(timing.mid_s[peak]), 1),
        "peak_to_last_frame_ratio": round(ratio, 2),
    }
    reasons = []
    if peak == 0:
        reasons.append(
            "input function peaks in the first frame: the scan may have started after the bolus"
        )
    if peak >= len(lv) // 2:
        reasons.append("input function peaks in the second half of the scan: no clear bolus")
    if ratio < 3.0:
        reasons.append(f"input function peak only {ratio:.1f} x its last value: bolus unclear")
    if roi_ml < 1.0:
        reasons.append(f"LV blood-pool ROI only {roi_ml:.2f} mL: spillover into the input likely")
    return info, reasons


def analyze_flow_scan(
    scan: DynamicScan,
    *,
    normals: NormalDatabase | None = None,
    correct: bool = True,
    resolution_fwhm_mm: float | None = None,
) -> FlowScanResult:
    """MBF of one dynamic scan (see the module docstring).

    ``resolution_fwhm_mm``: the image's effective resolution for the partial-volume
    terms of Rb-82 and ammonia (:mod:`.recovery`; estimated from the late image when None).
    """
    tracer, timing = scan.tracer, scan.timing
    starts, durations = timing.starts_s, timing.durations_s
    database = normals or default_normal_database()

    def segment(frames: list[Volume]):
        late = late_image(frames, starts, durations, tracer.value)
        try:
            return analyze_image(late, state=scan.state, normals=database)
        except AnalysisError as error:
            raise AnalysisError(
                f"LV segmentation of the late image failed: {error.message}", scan.source
            ) from None

    image = segment(scan.frames)
    motion = correct_motion(
        scan.frames, starts, durations, np.asarray(image.location.center_lps), tracer.value
    )
    frames = motion.frames if correct else scan.frames
    if correct and motion.moved:  # segment again on the late image of the corrected frames
        image = segment(frames)
    surfaces, polar = image.surfaces, image.polar
    recovery = wall_recovery(surfaces, image.volume, fwhm_mm=resolution_fwhm_mm)
    tacs = sample_myocardium(frames, surfaces)
    pools = blood_pools(frames, surfaces, scan.source)
    lv_ml, rv_ml = pools.roi_ml(frames[0].spacing_mm)
    info, reasons = _input_checks(pools.lv, timing, lv_ml)
    info["rv_roi_ml"] = round(rv_ml, 2)
    reasons = [*timing.flags, *reasons]
    if motion.moved:
        reasons.append(
            f"patient motion up to {np.nanmax(motion.shift_mm):.1f} mm in frame(s) "
            f"{', '.join(str(k + 1) for k in motion.moved)} (corrected by rigid registration)"
        )

    def fit_regions(labels: np.ndarray, septal: list[bool]) -> list[KineticFit]:
        """Fit every region of a partition of the rays (labels 0..n-1), unmixed across regions."""
        n = len(septal)
        total = np.maximum(np.bincount(labels.reshape(-1), area.reshape(-1), minlength=n), 1e-12)
        flat = (tacs * area).reshape(len(tacs), -1)
        observed = np.stack([np.bincount(labels.reshape(-1), f, minlength=n) for f in flat], 1)
        observed = observed / total[:, None]
        spill = np.bincount(labels.reshape(-1), (recovery.s_in * area).reshape(-1), minlength=n)
        mixing = recovery.mixing(labels, area)
        rc = mixing.sum(axis=1)
        curves = rc[:, None] * np.linalg.solve(mixing, observed)
        spill_in = rc * np.linalg.solve(mixing, spill / total)
        return [
            fit_tac(
                tracer,
                starts,
                durations,
                pools.lv,
                curves[i],
                blood_rv=pools.rv,
                fit_rv=septal[i],
                recovery=None if water else (float(rc[i]), float(spill_in[i])),
            )  # fmt: skip
            for i in range(n)
        ]

    area = polar.area_weight
    water = tracer == FlowTracer.H2O
    segments = recovery.segments(surfaces)
    segment_fits = tuple(fit_regions(segments - 1, [s in SEPTAL_SEGMENTS for s in range(1, 18)]))
    territories = list(Territory)
    territory_of = np.array([territories.index(SEGMENT_TERRITORY[s]) for s in range(1, 18)])
    septal_territory = [
        any(SEGMENT_TERRITORY[s] == t for s in SEPTAL_SEGMENTS) for t in territories
    ]
    territory_fits = dict(
        zip(
            (t.value for t in territories),
            fit_regions(territory_of[segments - 1], septal_territory),
            strict=True,
        )
    )
    (global_fit,) = fit_regions(np.zeros_like(segments), [True])
    grid = polar.grid
    ring_group = np.minimum(
        np.arange(grid.n_rings) * SECTOR_RINGS // grid.n_rings, SECTOR_RINGS - 1
    )
    angle_group = np.minimum(
        np.arange(grid.n_angles) * SECTOR_ANGLES // grid.n_angles, SECTOR_ANGLES - 1
    )
    centres = (np.arange(SECTOR_ANGLES) + 0.5) * 360.0 / SECTOR_ANGLES
    sector_fits = fit_regions(
        ring_group[:, None] * SECTOR_ANGLES + angle_group[None, :],
        [bool(30.0 <= c <= 150.0) for _ in range(SECTOR_RINGS) for c in centres],
    )
    sectors = np.array([f.mbf_ml_min_g for f in sector_fits]).reshape(SECTOR_RINGS, SECTOR_ANGLES)
    if global_fit.relative_rmse > MAX_GLOBAL_RMSE:
        reasons.append(f"poor global fit (relative RMS residual {global_fit.relative_rmse:.2f})")
    bad = [
        s + 1
        for s, f in enumerate(segment_fits)
        if f.relative_rmse > MAX_SEGMENT_RMSE or "k1" in f.at_bound or "mbf" in f.at_bound
    ]
    if bad:
        reasons.append(f"poor fit in segment(s) {', '.join(map(str, bad))}")
    low, high = MBF_RANGE.get(scan.state, (0.3, 6.0))
    if not low <= global_fit.mbf_ml_min_g <= high:
        reasons.append(
            f"global {scan.state} MBF {global_fit.mbf_ml_min_g:.2f} mL/min/g outside the "
            f"physiological range {low}-{high}"
        )
    late_uptake = None
    if tracer != FlowTracer.H2O:
        late_uptake = {
            "segments_pct": [round(float(v), 1) for v in image.segments_pct],
            "tpd_pct": round(float(image.deficit.tpd_pct), 1),
            "summed_score": int(image.summed_score),
            "frames_from_s": LATE_START_S[tracer.value],
            "normal_database": "shipped default (simulated; no PET-specific normal limits)",
        }
    partial_volume = {
        **recovery.to_json(),
        "unmixing": "region curves unmixed by the geometric transfer matrix of each partition "
        "(segments, territories, sectors; Rousset 1998)",
        "segments": "AHA segments with the apex cap beyond the fitted apical endocardium",
        "tissue_fraction": "PTF fitted (water)" if water else "RC + S_in - V_LV (Rb-82, ammonia)",
    }
    curves = {
        "frame_mid_s": [round(float(v), 2) for v in timing.mid_s],
        "lv_bq_ml": [round(float(v), 1) for v in pools.lv],
        "rv_bq_ml": [round(float(v), 1) for v in pools.rv],
        "myocardium_bq_ml": [round(float(v), 1) for v in _weighted_tac(tacs, area)],
    }
    return FlowScanResult(
        scan, global_fit, segment_fits, territory_fits, sectors, info, motion, late_uptake,
        tuple(reasons), curves, partial_volume,
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class FlowStudyResult:
    """Rest and/or stress flow with MFR and CFC where both are present."""

    rest: FlowScanResult | None
    stress: FlowScanResult | None

    def to_json(self) -> dict[str, Any]:
        """The report's ``pet_flow`` section."""
        any_scan = self.rest or self.stress
        out: dict[str, Any] = {
            "tracer": any_scan.scan.tracer.value,
            "model": tracer_settings(any_scan.scan.tracer),
            "rest": None if self.rest is None else self.rest.to_json(),
            "stress": None if self.stress is None else self.stress.to_json(),
            "mfr": None,
            "cfc": None,
        }
        reasons = [
            f"{s.scan.state}: {r}" for s in (self.rest, self.stress) if s for r in s.review_reasons
        ]
        if self.rest is not None and self.stress is not None:
            seg = flow_reserve(self.stress.segments_mbf, self.rest.segments_mbf)
            ter = {
                t: float(flow_reserve(self.stress.territory_mbf[t], self.rest.territory_mbf[t]))
                for t in self.rest.territory_mbf
            }
            glob = float(
                flow_reserve(self.stress.global_fit.mbf_ml_min_g, self.rest.global_fit.mbf_ml_min_g)
            )
            sectors = flow_reserve(self.stress.sector_mbf, self.rest.sector_mbf)
            out["mfr"] = {
                "global": round(glob, 3),
                "segments": [round(float(v), 3) for v in seg],
                "territories": {t: round(v, 3) for t, v in ter.items()},
                "polar_sectors": [[round(float(v), 3) for v in row] for row in sectors],
                "abnormal_below": MFR_ABNORMAL_BELOW,
                "territories_below_2": [t for t, v in ter.items() if v < MFR_ABNORMAL_BELOW],
            }
            out["cfc"] = {
                "segments": [
                    cfc_category(float(s), float(m))
                    for s, m in zip(self.stress.segments_mbf, seg, strict=True)
                ],
                "territories": {t: cfc_category(self.stress.territory_mbf[t], ter[t]) for t in ter},
                "global": cfc_category(self.stress.global_fit.mbf_ml_min_g, glob),
                "thresholds": [
                    {"category": n, "stress_mbf_max": s, "mfr_max": m} for n, s, m in CFC_THRESHOLDS
                ],
                "reference": CFC_REFERENCE,
            }
        out["needs_review"] = bool(reasons)
        out["review_reasons"] = reasons
        out["summary"] = self.summary_line()
        return out

    def summary_line(self) -> str:
        """One line for the narrative: global MBF, MFR and the territories with MFR < 2 / reduced CFC."""
        parts = []
        for scan in (self.rest, self.stress):
            if scan is not None:
                parts.append(f"{scan.scan.state} MBF {_two(scan.global_fit.mbf_ml_min_g)} mL/min/g")
        if self.rest is None or self.stress is None:
            return "PET flow (" + ", ".join(parts) + "); MFR needs both rest and stress."
        ter = {
            t: self.stress.territory_mbf[t] / self.rest.territory_mbf[t]
            for t in self.rest.territory_mbf
        }
        glob = self.stress.global_fit.mbf_ml_min_g / self.rest.global_fit.mbf_ml_min_g
        low = [f"{t} {_two(v)}" for t, v in ter.items() if v < MFR_ABNORMAL_BELOW]
        cfc = {t: cfc_category(self.stress.territory_mbf[t], ter[t]) for t in ter}
        reduced = [
            f"{t} {c}" for t, c in cfc.items() if c in ("severely reduced", "moderately reduced")
        ]
        text = (
            f"PET {self.rest.scan.tracer.value} flow: "
            + ", ".join(parts)
            + f", global MFR {_two(glob)}"
        )
        text += "; MFR < 2 in " + ", ".join(low) if low else "; MFR >= 2 in all territories"
        if reduced:
            text += "; coronary flow capacity " + ", ".join(reduced)
        return text + "."


def analyze_flow(
    *,
    rest: DynamicScan | None = None,
    stress: DynamicScan | None = None,
    normals: NormalDatabase | None = None,
) -> FlowStudyResult:
    """Rest and/or stress MBF, and MFR and CFC when both are given."""
    if rest is None and stress is None:
        raise ParameterError("analyze_flow needs a rest scan, a stress scan or both")
    if rest is not None and stress is not None and rest.tracer != stress.tracer:
        raise ParameterError(
            f"rest ({rest.tracer.value}) and stress ({stress.tracer.value}) use different tracers"
        )
    return FlowStudyResult(
        None if rest is None else analyze_flow_scan(rest, normals=normals),
        None if stress is None else analyze_flow_scan(stress, normals=normals),
    )
