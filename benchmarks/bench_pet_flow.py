"""PET myocardial blood flow: accuracy against phantom ground truth and rest+stress runtime.

Goals (issue 17): noise-free MBF per segment within 5 % of truth (Rb-82, N-13 ammonia,
O-15 water); at clinical noise over >= 20 studies the median absolute error of global
MBF <= 10 % and of segmental MBF <= 20 %, and MFR < 2 classified right in >= 95 % of
territories; a rest + stress pair analysed in <= 10 s on 2 cores.

Two phantom levels (:mod:`cardiolens.phantom.pet_flow`):

* ``curves``: segment time-activity curves with LV/RV spillover and noise (segment CV
  5 % at the late level in a 60-s frame); tests the kinetic models alone;
* ``images``: voxelised LV, RV and body, 6 mm FWHM PSF (partial volume), correlated
  Poisson-like noise at clinical counts, analysed end to end (segmentation of the late
  image, blood-pool ROIs, motion check, geometric partial-volume terms, fits). Every
  study has its own anatomy (LV size, wall thickness, position and orientation,
  :class:`cardiolens.phantom.pet_flow.FlowAnatomy`); the noise-free error per segment
  is listed (worst over the studies) to show where the residual error sits.

Runtime: a rest + stress Rb-82 study written as DICOM (2 x 16 frames x 40 slices) is
read (``load_study``), its timing checked and both scans analysed; wall and CPU seconds,
the CPU count and the 1-minute load average before and after are recorded (the
development machine is shared: wall time under load overstates the cost, CPU time
does not).

``CARDIOLENS_BENCH_CASES`` sets the number of studies per tracer (default 20),
``CARDIOLENS_BENCH_IMAGE_CASES`` the image-level ones, ``CARDIOLENS_BENCH_NOISE_FREE``
the noise-free image-level ones (default 5), ``CARDIOLENS_BENCH_OUT`` a JSON file to write.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from cardiolens.core.aha import territory_segments
from cardiolens.core.errors import CardiolensError
from cardiolens.io.pet_dynamic import FrameTiming
from cardiolens.nuclear.flow import analyze_flow, analyze_flow_scan, fit_tac, scan_from_frames
from cardiolens.phantom.pet_flow import (
    random_flow_truth,
    simulate_flow_images,
    simulate_segment_tacs,
    write_flow_study,
)

GOALS = {
    "noise_free_segment_max_error": 0.05,
    "noisy_global_median_abs_error": 0.10,
    "noisy_segment_median_abs_error": 0.20,
    "mfr_below_2_accuracy": 0.95,
    "rest_stress_runtime_s": 10.0,
}
TRACERS = ("rb82", "nh3", "h2o")
SEPTAL = (2, 3, 8, 9, 14)
TERRITORIES = ("LAD", "RCA", "LCx")


def _curve_mbf(tacs) -> np.ndarray:
    return np.array([
        fit_tac(tacs.truth.tracer.value, tacs.frame_start_s, tacs.frame_durations_s, tacs.blood_lv,
                tacs.segments[s], blood_rv=tacs.blood_rv, fit_rv=s + 1 in SEPTAL).mbf_ml_min_g
        for s in range(17)
    ])  # fmt: skip


def _image_mbf(truth, seed: int, noise: bool) -> tuple[np.ndarray, float, tuple[str, ...]]:
    images = simulate_flow_images(truth, seed=seed, noise=noise)
    n = len(images.frames)
    timing = FrameTiming(images.frame_start_s, images.frame_durations_s, "START", None, "",
                         "Bq/mL", np.ones(n))  # fmt: skip
    scan = scan_from_frames(images.frames, timing, source=Path(f"phantom-{seed}"),
                            tracer=truth.tracer.value, state=truth.state)  # fmt: skip
    result = analyze_flow_scan(scan)
    return result.segments_mbf, result.global_fit.mbf_ml_min_g, result.review_reasons


def _territory(mbf: np.ndarray, territory: str) -> float:
    return float(np.mean(mbf[np.array(territory_segments(territory)) - 1]))


def _summary(rows: list[dict]) -> dict:
    g = [abs(r["global_error"]) for r in rows]
    s = [abs(e) for r in rows for e in r["segment_errors"]]
    right = [t for r in rows for t in r["mfr_right"]]
    return {
        "n_studies": len(rows) // 2,
        "global_median_abs_error": round(float(np.median(g)), 4),
        "global_median_signed_error": round(float(np.median([r["global_error"] for r in rows])), 4),
        "segment_median_abs_error": round(float(np.median(s)), 4),
        "segment_p90_abs_error": round(float(np.percentile(s, 90)), 4),
        "mfr_below_2_accuracy": round(float(np.mean(right)), 4) if right else None,
        "needs_review_fraction": round(float(np.mean([bool(r.get("review")) for r in rows])), 3),
    }


def _cohort(tracer: str, n: int, level: str, noise: bool) -> dict:
    rows, failed = [], []
    for seed in range(n):
        rest, stress = random_flow_truth(np.random.default_rng(1000 + seed), tracer)
        fitted = {}
        for i, truth in enumerate((rest, stress)):
            if level == "curves":
                tacs = simulate_segment_tacs(
                    truth, segment_cv_60s=0.05 if noise else 0.0, seed=seed
                )
                mbf = _curve_mbf(tacs)
                global_mbf, review = float(np.mean(mbf)), ()
            else:
                try:
                    mbf, global_mbf, review = _image_mbf(truth, 2 * seed + i, noise)
                except CardiolensError as error:
                    failed.append(f"seed {seed} {truth.state}: {error}")
                    break
            fitted[truth.state] = mbf
            rows.append({
                "seed": seed, "state": truth.state,
                "global_error": global_mbf / float(np.mean(truth.mbf_ml_min_g)) - 1,
                "segment_errors": list(mbf / truth.mbf_ml_min_g - 1), "review": list(review),
                "mfr_right": [],
            })  # fmt: skip
        if len(fitted) < 2:
            rows = [r for r in rows if r["seed"] != seed]
            continue
        for territory in TERRITORIES:
            measured = _territory(fitted["stress"], territory) / _territory(
                fitted["rest"], territory
            )
            true = _territory(stress.mbf_ml_min_g, territory) / _territory(
                rest.mbf_ml_min_g, territory
            )
            rows[-1]["mfr_right"].append(bool((measured < 2) == (true < 2)))
    out = {**_summary(rows), "failed": failed}
    if not noise:
        errors = np.array([r["segment_errors"] for r in rows])
        out["segment_max_abs_error"] = round(float(np.max(np.abs(errors))), 4)
        out["segment_worst_abs_error_by_segment"] = [
            round(float(v), 4) for v in np.max(np.abs(errors), axis=0)
        ]
        out["global_max_abs_error"] = round(max(abs(r["global_error"]) for r in rows), 4)
    return out


def _runtime() -> dict:
    from cardiolens.io import load_study
    from cardiolens.nuclear.flow import scan_from_series

    with tempfile.TemporaryDirectory() as folder:
        study_dir = write_flow_study(Path(folder), tracer="rb82", seed=1)
        load_before = os.getloadavg()[0]
        start, cpu0 = time.perf_counter(), time.process_time()
        study = load_study(study_dir)
        loaded, cpu1 = time.perf_counter(), time.process_time()
        scans = {}
        for series in study.series:
            scan = scan_from_series(series)
            scans[scan.state] = scan
        timed, cpu2 = time.perf_counter(), time.process_time()
        analyze_flow(rest=scans["rest"], stress=scans["stress"])
        done, cpu3 = time.perf_counter(), time.process_time()
    return {
        "load_study_s": round(loaded - start, 2),
        "timing_checks_s": round(timed - loaded, 2),
        "analysis_s": round(done - timed, 2),
        "total_s": round(done - start, 2),
        "cpu_s": {
            "load_study": round(cpu1 - cpu0, 2),
            "timing_checks": round(cpu2 - cpu1, 2),
            "analysis": round(cpu3 - cpu2, 2),
            "total": round(cpu3 - cpu0, 2),
        },
        "load_average_1min_before": round(load_before, 2),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "files": 2 * 16 * 40,
    }


def run() -> dict:
    n = int(os.environ.get("CARDIOLENS_BENCH_CASES", "20"))
    n_images = int(os.environ.get("CARDIOLENS_BENCH_IMAGE_CASES", str(n)))
    n_clean = int(os.environ.get("CARDIOLENS_BENCH_NOISE_FREE", "5"))
    tracers = os.environ.get("CARDIOLENS_BENCH_TRACERS", ",".join(TRACERS)).split(",")
    out: dict = {"goals": GOALS, "studies_per_tracer": n, "image_studies_per_tracer": n_images}
    for tracer in tracers:
        out[tracer] = {
            "curves_noise_free": _cohort(tracer, n, "curves", noise=False),
            "curves_noisy": _cohort(tracer, n, "curves", noise=True),
            "images_noise_free": _cohort(tracer, n_clean, "images", noise=False),
            "images_noisy": _cohort(tracer, n_images, "images", noise=True),
        }
        print(tracer, out[tracer], flush=True)
    if os.environ.get("CARDIOLENS_BENCH_RUNTIME", "1") == "1":
        out["runtime_rest_stress_rb82"] = _runtime()
    return out


if __name__ == "__main__":
    import json

    result = run()
    text = json.dumps(result, indent=2)
    print(text)
    if os.environ.get("CARDIOLENS_BENCH_OUT"):
        Path(os.environ["CARDIOLENS_BENCH_OUT"]).write_text(text + "\n")
