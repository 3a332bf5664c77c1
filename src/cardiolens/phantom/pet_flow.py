"""Dynamic perfusion PET studies with known myocardial blood flow per AHA segment.

For each tracer (Rb-82, N-13 ammonia, O-15 water) and state (rest, stress) the
phantom simulates, on a 0.5-s grid:

* LV and RV blood curves: gamma-variate bolus plus recirculation, the RV a few
  seconds earlier (:func:`cardiolens.phantom.pet._input_function`); for ammonia
  the tissue sees parent ammonia only, ``total x exp(-ln 2 (t - 0.48 min) / 6.69 min)``
  after 0.48 min (van den Hoff J et al., J Nucl Med 2001;42:1174-82);
* myocardial tissue per segment by the one-tissue compartment model with
  ``K1 = MBF (1 - 0.77 exp(-0.63 / MBF))`` for Rb-82 (Lortie 2007), ``K1 = MBF`` for
  ammonia (DeGrado 1996) and water, and ``k2 = MBF / 0.91`` for water (Iida 1988);
* a myocardial voxel holds 5 % blood; the body a slowly exchanging tissue;
* frames on clinical schedules (:data:`FRAME_SCHEDULES_S`), decay corrected.

Curve-level studies (:func:`simulate_segment_tacs`) add LV/RV spillover and
noise directly to segment curves. Image-level studies (:func:`simulate_flow_images`)
voxelise an LV (ellipsoid, :func:`cardiolens.phantom.lv_geometry.design_lv`; size, wall,
position and orientation per patient, :class:`FlowAnatomy`), an RV
cavity beside the septum and the body, blur with a Gaussian PSF (partial volume
and spillover arise from it), add Poisson-like correlated noise whose variance
grows with the value, the decay correction and shorter frames, and can shift
frames from a given time on (patient motion). :func:`write_flow_study` writes the
rest and stress series as DICOM PET with the ground truth.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from cardiolens.core.aha import SEGMENT_TERRITORY, aha_segment
from cardiolens.core.errors import ParameterError
from cardiolens.core.volume import Volume
from cardiolens.phantom.lv_geometry import design_lv, lv_coordinates
from cardiolens.phantom.pet import _DT_S, PetTracer, _frame_average, _input_function, _tissue_curve
from cardiolens.phantom.pet import k1_from_mbf as _k1
from cardiolens.phantom.voxelize import VoxelGrid

__all__ = [
    "FRAME_SCHEDULES_S",
    "FlowAnatomy",
    "FlowTruth",
    "SegmentTacs",
    "FlowImages",
    "random_flow_truth",
    "simulate_segment_tacs",
    "simulate_flow_images",
    "write_flow_study",
]

#: Clinical frame schedules (s): Rb-82 12x10, 2x30, 60, 120 (Lortie 2007); N-13 ammonia
#: 12x10, 6x30, 2x60, 3x120 (the first 4 min for flow, the rest for the uptake image);
#: O-15 water 14x5, 3x10, 3x20, 4x30 (Harms HJ et al., Eur J Nucl Med Mol Imaging 2011).
FRAME_SCHEDULES_S: dict[str, tuple[float, ...]] = {
    "rb82": (10.0,) * 12 + (30.0,) * 2 + (60.0, 120.0),
    "nh3": (10.0,) * 12 + (30.0,) * 6 + (60.0,) * 2 + (120.0,) * 3,
    "h2o": (5.0,) * 14 + (10.0,) * 3 + (20.0,) * 3 + (30.0,) * 4,
}
HALF_LIFE_S = {"rb82": 75.45, "nh3": 597.9, "h2o": 122.24}
RADIOPHARMACEUTICAL = {"rb82": "Rubidium-82 chloride", "nh3": "Ammonia N-13", "h2o": "Water O-15"}
WATER_PARTITION_ML_G = 0.91
MYOCARDIAL_BLOOD_FRACTION = 0.05
#: Voxel CV at the late myocardial level in a 60-s frame without decay, per tracer, chosen so
#: that the late (uptake) image has a myocardial voxel CV of about 10-15 % and early 10-s
#: frames 20-60 %, as in clinical images (Rb-82 about 1.1 GBq, ammonia 0.5 GBq, water 1 GBq).
VOXEL_CV_60S = {"rb82": 0.075, "nh3": 0.2, "h2o": 0.15}


def _parent_fraction(t_s: np.ndarray) -> np.ndarray:
    late = np.clip(np.asarray(t_s) / 60.0 - 0.48, 0.0, None)
    return np.exp(-math.log(2) * late / 6.69)


@dataclass(frozen=True)
class FlowAnatomy:
    """The patient's LV and its place in the field of view (the same at rest and stress).

    ``edv_ml`` end-diastolic cavity volume, ``wall_thickness_mm`` wall thickness,
    ``centre_lps_mm`` cavity centre (mm from the image centre), ``azimuth_deg`` and
    ``elevation_deg`` the long-axis orientation (:func:`cardiolens.phantom.lv_geometry.lv_axes`).
    """

    edv_ml: float = 110.0
    wall_thickness_mm: float = 10.0
    centre_lps_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    azimuth_deg: float = 50.0
    elevation_deg: float = 25.0

    @classmethod
    def random(cls, rng: np.random.Generator) -> FlowAnatomy:
        """One adult LV: EDV 80-150 mL (inside the normal adult range, 62-150 mL in men, of
        Lang RM et al., J Am Soc Echocardiogr 2015;28:1-39), wall 8-13 mm (normal 6-10 mm
        there, so up to mild hypertrophy), centre within +-12 mm (x, y) and +-6 mm (z) of the
        image centre, azimuth 35-65 deg, elevation 15-35 deg."""
        return cls(
            edv_ml=float(rng.uniform(80.0, 150.0)),
            wall_thickness_mm=float(rng.uniform(8.0, 13.0)),
            centre_lps_mm=(
                float(rng.uniform(-12, 12)),
                float(rng.uniform(-12, 12)),
                float(rng.uniform(-6, 6)),
            ),
            azimuth_deg=float(rng.uniform(35.0, 65.0)),
            elevation_deg=float(rng.uniform(15.0, 35.0)),
        )

    def to_json(self) -> dict:
        """JSON-ready anatomy (rounded)."""
        return {
            "edv_ml": round(self.edv_ml, 2),
            "wall_thickness_mm": round(self.wall_thickness_mm, 2),
            "centre_lps_mm": [round(v, 2) for v in self.centre_lps_mm],
            "azimuth_deg": round(self.azimuth_deg, 2),
            "elevation_deg": round(self.elevation_deg, 2),
        }


@dataclass(frozen=True)
class FlowTruth:
    """Per-segment ground truth of one scan (arrays of 17, segment s at index s - 1)."""

    tracer: PetTracer
    state: str
    mbf_ml_min_g: np.ndarray
    k2_per_min: np.ndarray
    v_lv: np.ndarray
    v_rv: np.ndarray
    ptf: np.ndarray
    bolus_delay_s: float = 15.0
    peak_blood_kbq_ml: float = 400.0
    anatomy: FlowAnatomy = FlowAnatomy()

    def k1(self) -> np.ndarray:
        """K1 (mL/min/g) of each segment."""
        return _k1(self.mbf_ml_min_g, self.tracer)

    def territory_mbf(self) -> dict[str, float]:
        """Mean segment MBF of each coronary territory (mL/min/g)."""
        out: dict[str, list[float]] = {}
        for s, t in SEGMENT_TERRITORY.items():
            out.setdefault(t.value, []).append(float(self.mbf_ml_min_g[s - 1]))
        return {t: float(np.mean(v)) for t, v in out.items()}

    def to_json(self) -> dict:
        """JSON-ready truth."""
        return {
            "tracer": self.tracer.value,
            "state": self.state,
            "mbf_ml_min_g": [round(float(v), 5) for v in self.mbf_ml_min_g],
            "global_mbf_ml_min_g": round(float(np.mean(self.mbf_ml_min_g)), 5),
            "territory_mbf_ml_min_g": {k: round(v, 5) for k, v in self.territory_mbf().items()},
            "k2_per_min": [round(float(v), 5) for v in self.k2_per_min],
            "v_lv": [round(float(v), 4) for v in self.v_lv],
            "v_rv": [round(float(v), 4) for v in self.v_rv],
            "ptf": [round(float(v), 4) for v in self.ptf],
            "bolus_delay_s": self.bolus_delay_s,
            "peak_blood_kbq_ml": self.peak_blood_kbq_ml,
            "anatomy": self.anatomy.to_json(),
        }


SEPTAL_SEGMENTS = (2, 3, 8, 9, 14)


def random_flow_truth(
    rng: np.random.Generator,
    tracer: PetTracer | str,
    *,
    rest_territory: dict[str, float] | None = None,
    reserve_territory: dict[str, float] | None = None,
) -> tuple[FlowTruth, FlowTruth]:
    """Rest and stress truth per segment, territory by territory, with 5 % segment jitter.

    Rest: one level 0.6-1.2 mL/min/g, each territory within +-10 % of it; reserve
    (stress / rest) 1.2-3.8 per territory, so that MFR < 2 occurs in about a third.
    The anatomy (:meth:`FlowAnatomy.random`) is drawn last, one for both states.
    """
    tracer = PetTracer.parse(tracer)
    territories = ("LAD", "RCA", "LCx")
    rest_level = float(rng.uniform(0.6, 1.2))
    rest_t = rest_territory or {t: rest_level * float(rng.uniform(0.9, 1.1)) for t in territories}
    reserve_t = reserve_territory or {t: float(rng.uniform(1.2, 3.8)) for t in territories}
    segment_territory = [SEGMENT_TERRITORY[s].value for s in range(1, 18)]
    out = []
    for state in ("rest", "stress"):
        scale = np.array(
            [rest_t[t] * (reserve_t[t] if state == "stress" else 1.0) for t in segment_territory]
        )
        mbf = scale * (1 + 0.05 * rng.standard_normal(17))
        septal = np.isin(np.arange(1, 18), SEPTAL_SEGMENTS)
        if tracer == PetTracer.H2O:
            k2 = mbf / WATER_PARTITION_ML_G
        elif tracer == PetTracer.RB82:
            k2 = rng.uniform(0.1, 0.3, 17) * (1 + 0.3 * (state == "stress"))
        else:
            k2 = rng.uniform(0.05, 0.15, 17)
        out.append(
            dict(
                tracer=tracer,
                state=state,
                mbf_ml_min_g=mbf,
                k2_per_min=k2,
                v_lv=rng.uniform(0.15, 0.35, 17),
                v_rv=np.where(septal, rng.uniform(0.03, 0.1, 17), 0.0),
                ptf=rng.uniform(0.55, 0.8, 17) if tracer == PetTracer.H2O else np.ones(17),
                bolus_delay_s=float(rng.uniform(10.0, 20.0)),
                peak_blood_kbq_ml=float(rng.uniform(250.0, 500.0)),
            )
        )
    anatomy = FlowAnatomy.random(rng)
    return FlowTruth(**out[0], anatomy=anatomy), FlowTruth(**out[1], anatomy=anatomy)


@dataclass(frozen=True)
class _Curves:
    t_s: np.ndarray
    lv: np.ndarray
    rv: np.ndarray
    tissue: np.ndarray  # (17, n_fine): tissue concentration of each segment
    body: np.ndarray


def _fine_curves(truth: FlowTruth, scan_s: float) -> _Curves:
    t = np.arange(int(round(scan_s / _DT_S))) * _DT_S + 0.5 * _DT_S
    lv = _input_function(t, truth.bolus_delay_s, truth.peak_blood_kbq_ml)
    rv = _input_function(t, truth.bolus_delay_s - 6.0, 1.3 * truth.peak_blood_kbq_ml)
    parent = lv * _parent_fraction(t) if truth.tracer == PetTracer.NH3 else lv
    k1 = truth.k1()
    tissue = np.array(
        [_tissue_curve(parent, k1[s] / 60.0, truth.k2_per_min[s] / 60.0) for s in range(17)]
    )
    body_k2 = 0.1 / WATER_PARTITION_ML_G if truth.tracer == PetTracer.H2O else 0.02
    body = 0.95 * _tissue_curve(parent, 0.08 / 60.0, body_k2 / 60.0) + 0.05 * lv
    return _Curves(t, lv, rv, tissue, body)


def _schedule(tracer: PetTracer, frame_durations_s: Sequence[float] | None):
    durations = np.asarray(frame_durations_s or FRAME_SCHEDULES_S[tracer.value], dtype=float)
    if durations.ndim != 1 or durations.size < 2 or np.any(durations <= 0):
        raise ParameterError(f"frame durations must be >= 2 positive values; got {durations}")
    return np.concatenate([[0.0], np.cumsum(durations)[:-1]]), durations


@dataclass(frozen=True)
class SegmentTacs:
    """Curve-level phantom: frame averages (kBq/mL) of blood and of the 17 measured segment curves."""

    frame_start_s: np.ndarray
    frame_durations_s: np.ndarray
    blood_lv: np.ndarray
    blood_rv: np.ndarray
    segments: np.ndarray  # (17, n_frames)
    truth: FlowTruth


def _noise_sigma(values, starts, durations, tracer: PetTracer, reference: float, cv: float):
    mid = starts + 0.5 * durations
    decay = np.exp(math.log(2) / HALF_LIFE_S[tracer.value] * mid)
    return cv * np.sqrt(np.clip(values, 0, None) * reference * (60.0 / durations) * decay)


def simulate_segment_tacs(
    truth: FlowTruth,
    *,
    frame_durations_s: Sequence[float] | None = None,
    segment_cv_60s: float = 0.0,
    seed: int = 0,
) -> SegmentTacs:
    """Segment curves ``PTF C_tissue + V_LV C_LV + V_RV C_RV`` (Rb/NH3: PTF = 1 - V_LV - V_RV).

    ``segment_cv_60s``: noise CV of a segment curve at its late level in a 60-s frame
    without decay; the variance scales with the value, ``1 / duration`` and the decay correction.
    """
    starts, durations = _schedule(truth.tracer, frame_durations_s)
    curves = _fine_curves(truth, float(starts[-1] + durations[-1]))
    avg = lambda fine: _frame_average(fine, starts, durations)  # noqa: E731
    lv, rv = avg(curves.lv), avg(curves.rv)
    tissue = np.array([avg(c) for c in curves.tissue])
    if truth.tracer == PetTracer.H2O:
        ptf = truth.ptf
    else:
        ptf = 1 - truth.v_lv - truth.v_rv
    measured = ptf[:, None] * tissue + truth.v_lv[:, None] * lv + truth.v_rv[:, None] * rv
    if segment_cv_60s > 0:
        rng = np.random.default_rng(seed)
        reference = measured[:, -1:].clip(1e-6)
        sigma = _noise_sigma(measured, starts, durations, truth.tracer, reference, segment_cv_60s)
        measured = measured + sigma * rng.standard_normal(measured.shape)
        lv_sigma = _noise_sigma(
            lv, starts, durations, truth.tracer, float(lv[-1]), segment_cv_60s / 3
        )
        lv = lv + lv_sigma * rng.standard_normal(lv.shape)
        rv = rv + _noise_sigma(
            rv, starts, durations, truth.tracer, float(rv[-1]), segment_cv_60s / 3
        ) * rng.standard_normal(rv.shape)
    return SegmentTacs(starts, durations, lv, rv, measured, truth)


@dataclass(frozen=True)
class FlowImages:
    """Image-level phantom of one scan: frames (Bq/mL volumes), timing and ground truth."""

    frames: list[Volume]
    frame_start_s: np.ndarray
    frame_durations_s: np.ndarray
    truth: FlowTruth
    settings: dict = field(default_factory=dict)


def _materials(grid: VoxelGrid, anatomy: FlowAnatomy, supersample: int = 3):
    """Fraction maps (n, z, y, x): 17 myocardial segments, LV cavity, RV cavity; and the geometry."""
    lv = design_lv(
        edv_ml=anatomy.edv_ml,
        centre_lps_mm=anatomy.centre_lps_mm,
        azimuth_deg=anatomy.azimuth_deg,
        elevation_deg=anatomy.elevation_deg,
        wall_thickness_mm=anatomy.wall_thickness_mm,
    )
    septal, long_axis = np.asarray(lv.septal_axis), np.asarray(lv.long_axis)
    anterior = np.asarray(lv.anterior_axis)
    rv_centre = lv.centre_lps_mm + (lv.endo_radius_mm + lv.wall_thickness_mm + 13.0) * septal
    rv_centre = rv_centre - 0.1 * lv.cavity_length_mm * long_axis
    rv_axes = (12.0, 30.0, 0.42 * lv.cavity_length_mm)  # septal, anterior, long
    reach = lv.cavity_length_mm + 2 * lv.wall_thickness_mm + 40.0
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    box = grid.box_around(lv.centre_lps_mm + 0.5 * reach * signs, margin_voxels=0)
    points = grid.subpoints(box, supersample)
    coords = lv_coordinates(points, lv)
    h, r = coords.h_mm, coords.r_mm
    length = lv.cavity_length_mm
    endo, epi = lv.endo_radius_profile(h), lv.epi_radius_profile(h)
    cavity = (h >= 0) & (h <= length) & (r < endo)
    myo = (h <= length) & (h >= -lv.wall_thickness_mm) & (r < epi) & ~cavity
    segment = np.where(myo, aha_segment(h / length, coords.angle_deg), 0)
    d = points - rv_centre
    rv = (
        (
            (d @ septal / rv_axes[0]) ** 2
            + (d @ anterior / rv_axes[1]) ** 2
            + (d @ long_axis / rv_axes[2]) ** 2
            < 1
        )
        & ~myo
        & ~cavity
    )
    maps = np.zeros((19, *grid.shape), dtype=np.float32)
    for s in range(1, 18):
        maps[s - 1][box] = np.mean(segment == s, axis=-1)
    maps[17][box] = np.mean(cavity, axis=-1)
    maps[18][box] = np.mean(rv, axis=-1)
    return maps, lv


@functools.lru_cache(maxsize=4)
def _blurred_materials(
    shape: tuple[int, int, int], voxel_mm: float, fwhm_mm: float, anatomy: FlowAnatomy
):
    """Material maps (19 + body) blurred by the Gaussian PSF (cached: rest and stress share them)."""
    origin = tuple(-0.5 * (n - 1) * voxel_mm for n in shape[::-1])
    maps, lv = _materials(VoxelGrid(shape, voxel_mm, origin), anatomy)
    body = 1.0 - maps.sum(axis=0).clip(0, 1)
    sigma_vox = fwhm_mm / 2.3548 / voxel_mm
    blurred = np.array([ndimage.gaussian_filter(m, sigma_vox) for m in (*maps, body)])
    blurred.flags.writeable = False
    return blurred, lv


def simulate_flow_images(
    truth: FlowTruth,
    *,
    seed: int = 0,
    shape: tuple[int, int, int] = (40, 64, 64),
    voxel_mm: float = 3.0,
    fwhm_mm: float = 6.0,
    noise: bool = True,
    voxel_cv_60s: float | None = None,
    motion_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
    motion_start_s: float | None = None,
    frame_durations_s: Sequence[float] | None = None,
) -> FlowImages:
    """Dynamic PET frames (Bq/mL) of one scan with known per-segment flow (see the module doc).

    ``motion_mm``: LPS (x, y, z) shift of the patient in frames starting at or after
    ``motion_start_s`` (no motion when None).
    """
    tracer = truth.tracer
    starts, durations = _schedule(tracer, frame_durations_s)
    origin = tuple(-0.5 * (n - 1) * voxel_mm for n in shape[::-1])
    blurred, lv = _blurred_materials(tuple(shape), float(voxel_mm), float(fwhm_mm), truth.anatomy)
    curves = _fine_curves(truth, float(starts[-1] + durations[-1]))
    avg = lambda fine: _frame_average(fine, starts, durations)  # noqa: E731
    lv_c, rv_c, body_c = avg(curves.lv), avg(curves.rv), avg(curves.body)
    b = MYOCARDIAL_BLOOD_FRACTION
    segment_c = np.array([(1 - b) * avg(c) + b * lv_c for c in curves.tissue])
    tacs = np.vstack([segment_c, lv_c, rv_c, body_c])  # (20, n_frames)
    rng = np.random.default_rng(seed)
    cv = VOXEL_CV_60S[tracer.value] if voxel_cv_60s is None else voxel_cv_60s
    late_myocardium = float(np.mean(segment_c[:, -1]))
    shift_vox = np.asarray(motion_mm, dtype=float)[::-1] / voxel_mm
    frames = []
    for k in range(len(starts)):
        image = np.tensordot(tacs[:, k], blurred, axes=1)
        if motion_start_s is not None and starts[k] >= motion_start_s and np.any(shift_vox):
            image = ndimage.shift(image, shift_vox, order=1, mode="nearest")
        if noise and cv > 0:
            white = ndimage.gaussian_filter(rng.standard_normal(image.shape), 1.0)
            white /= white.std()
            sigma = _noise_sigma(
                image, starts[k : k + 1], durations[k : k + 1], tracer, late_myocardium, cv
            )
            image = image + sigma * white
        frames.append(
            Volume(
                (1000.0 * np.clip(image, 0, None)).astype(np.float32),
                (voxel_mm,) * 3,
                origin,
                modality="PT",
                metadata={"units": "Bq/mL"},
            )
        )
    settings = {
        "shape": list(shape),
        "voxel_mm": voxel_mm,
        "fwhm_mm": fwhm_mm,
        "noise": bool(noise),
        "voxel_cv_60s": cv,
        "motion_mm": list(motion_mm),
        "motion_start_s": motion_start_s,
        "myocardial_blood_fraction": b,
        "lv_centre_lps_mm": [round(float(v), 2) for v in lv.centre_lps_mm],
        "frame_durations_s": durations.tolist(),
    }
    return FlowImages(frames, starts, durations, truth, settings)


def write_flow_study(
    out_dir: str | Path,
    *,
    tracer: PetTracer | str = "rb82",
    seed: int = 0,
    rest: FlowTruth | None = None,
    stress: FlowTruth | None = None,
    **image_options,
) -> Path:
    """Write rest and stress dynamic PET series (DICOM) and ``ground_truth.json`` to ``out_dir``."""
    from cardiolens.io.pet_dynamic import write_dynamic_pet

    tracer = PetTracer.parse(tracer)
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    random_rest, random_stress = random_flow_truth(rng, tracer)
    truths = {"rest": rest or random_rest, "stress": stress or random_stress}
    study_uid = f"1.2.826.0.1.3680043.8.498.{17000 + seed}.{ord(tracer.value[0])}"
    gt = {"tracer": tracer.value, "seed": seed, "states": {}}
    for i, (state, truth) in enumerate(truths.items()):
        images = simulate_flow_images(truth, seed=seed * 2 + i, **image_options)
        write_dynamic_pet(
            out / state,
            images.frames,
            images.frame_start_s,
            images.frame_durations_s,
            patient_id=f"PETFLOW{seed:04d}",
            study_uid=study_uid,
            series_description=f"{state.capitalize()} {tracer.value} dynamic",
            radiopharmaceutical=RADIOPHARMACEUTICAL[tracer.value],
            half_life_s=HALF_LIFE_S[tracer.value],
            series_number=1 + i,
            series_time="120000" if state == "rest" else "130000",
        )
        gt["states"][state] = {**truth.to_json(), "image": images.settings}
    rest_t, stress_t = truths["rest"].territory_mbf(), truths["stress"].territory_mbf()
    gt["territory_mfr"] = {t: round(stress_t[t] / rest_t[t], 5) for t in rest_t}
    (out / "ground_truth.json").write_text(json.dumps(gt, indent=2))
    return out
