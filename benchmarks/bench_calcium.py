"""Calcium scoring: speed on a 512 x 512 x 60 CT and accuracy over 30 simulated patients.

Goals (issue 5, acceptance 2 and 4): scored in <= 5 s on 2 CPU cores; on noise-free
phantoms Agatston, volume and mass equal the ground truth (same definitions); with 20 HU
noise within 5 %; bone, aortic and valve calcium never counted as coronary in >= 95 % of
30 cases; every lesion on its true artery in >= 90 %; epicardial fat volume within 10 %.

The noisy error is split in two (``error_decomposition`` and ``realisation_study``):

* **pipeline error**: the automatic score minus the *oracle* score, which applies the
  same definitions (:func:`cardiolens.ct.lesions.measure_lesions`) to the true lesions of
  the same noisy image (:func:`cardiolens.ct.validation.true_lesion_region`: the lesion's
  signal support and the calcium 3D connected to it). Heart detection, candidate exclusion, lesion grouping
  and artery assignment add error only where the two differ;
* **definition error**: the oracle minus the truth. The 130 HU threshold, the 1 mm^2 rule
  and the weight from the *peak* HU of each slice lesion react to noise by themselves.
  Each case is re-scored (oracle) on 50 independent realisations of the simulator's own
  noise (20 HU, 0.5 mm in-plane correlation, as measured on the real QRM scan) added to
  its noise-free image; the spread of that score is what no automatic method that keeps
  the definitions can remove. Per lesion it is reported against the lesion's size.

Result (see the module docstring of :mod:`cardiolens.ct`): the automatic scores equal the
oracle in every case, so the misses of the 5 % goal are the definitions' own noise
response, largest for small totals. This is the known behaviour of the clinical scores:
the volume score was introduced for its better rescan reproducibility (Callister et al.,
Radiology 1998), the calibrated mass score is recommended as the more reproducible
measure (McCollough et al., Radiology 2007), and relative rescan variability is largest
for small scores (Detrano et al., MESA, Radiology 2005).

Set ``CARDIOLENS_BENCH_CASES`` to sweep fewer cases. A per-case table is printed.
"""

from __future__ import annotations

import os
import time

import numpy as np

from cardiolens.ct.validation import ORACLE_SCORES, oracle_scores, true_lesion_region

GOALS = {
    "score_s": 5.0,
    "distractor_free_pct": 95.0,
    "artery_correct_pct": 90.0,
    "noisy_within_5pct": 5.0,
    "eat_within_pct": 10.0,
    "sweep_artery_pct": 95.0,
}
#: Timed repetitions of the 512 x 512 x 60 scan (median reported, wall and CPU time).
TIMING_RUNS = 3
#: Seed of the first real-anatomy sweep case (``CARDIOLENS_BENCH_SWEEP`` cases from it).
SWEEP_FIRST_SEED = 300

SCORES = ORACLE_SCORES
NOISE_HU = 20.0
#: Independent noise realisations per case for the definition's own spread.
REALISATIONS = 50
#: Cases whose automatic score is also recomputed on realisations (pipeline == oracle).
AUTOMATIC_REALISATION_SEEDS = (112, 123)
AUTOMATIC_REALISATIONS = 5
#: Seed of the phantom that supplies the noise fields (its noise: volume - clean).
_NOISE_SEED = 7
#: Lesion bins (true Agatston of the lesion / of the case) for the realisation summary.
_BINS = (0.0, 10.0, 30.0, 100.0, 300.0, np.inf)


def _totals(per_lesion: dict[int, dict[str, float]]) -> dict[str, float]:
    return {key: float(sum(m[key] for m in per_lesion.values())) for key in SCORES}


def _error_pct(value: float, truth: float) -> float:
    return 100.0 * (value / truth - 1.0) if truth else 0.0


class _NoiseBank:
    """Independent realisations of the simulator's noise, shifted copies of one field.

    The field is ``volume - clean`` of a phantom (exactly the rounded, 0.5 mm correlated
    20 HU noise of :func:`cardiolens.phantom.simulate_ct`). Realisation ``k`` reads it
    shifted by ``k`` slices and by 24 pixels (17 mm, 34 correlation lengths) in-plane
    steps, so that no two realisations share noise at a lesion.
    """

    def __init__(self) -> None:
        from cardiolens.phantom import simulate_ct

        source = simulate_ct(seed=_NOISE_SEED, noise_hu=NOISE_HU, lesions=[], distractors=False)
        self.field = np.asarray(source.volume.array) - np.asarray(source.clean.array)

    def shift(self, k: int) -> tuple[int, int, int]:
        return (k, 24 * (k % 10 + 1), 24 * (k // 10 + 1))

    def crop(self, box: tuple[slice, ...], k: int) -> np.ndarray:
        index = [
            (np.arange(b.start, b.stop) + s) % n
            for b, s, n in zip(box, self.shift(k), self.field.shape, strict=True)
        ]
        return self.field[np.ix_(*index)]

    def full(self, k: int) -> np.ndarray:
        return np.roll(self.field, self.shift(k), axis=(0, 1, 2))


def _realisations(phantom, bank: _NoiseBank) -> dict:
    """Oracle scores of every lesion on ``REALISATIONS`` noise realisations (cropped)."""
    from scipy import ndimage as ndi

    from cardiolens.core.volume import Volume

    box = ndi.find_objects((phantom.lesion_labels > 0).astype(np.int8))[0]
    margin = (2, 12, 12)
    box = tuple(
        slice(max(b.start - m, 0), min(b.stop + m, n))
        for b, m, n in zip(box, margin, phantom.lesion_labels.shape, strict=True)
    )
    clean = np.asarray(phantom.clean.array)[box]
    support = phantom.lesion_labels[box]
    ids = [les["id"] for les in phantom.truth["lesions"]]
    scores = np.zeros((REALISATIONS, len(ids), len(SCORES)))
    for k in range(REALISATIONS):
        volume = Volume(
            clean + bank.crop(box, k),
            spacing_mm=phantom.volume.spacing_mm,
            modality="CT",
            metadata=dict(phantom.volume.metadata),
        )
        measured = oracle_scores(volume, true_lesion_region(volume, support))
        for i, lesion_id in enumerate(ids):
            m = measured.get(lesion_id)
            scores[k, i] = [m[key] for key in SCORES] if m else 0.0
    truth_lesions = np.array([[les[key] for key in SCORES] for les in phantom.truth["lesions"]])
    truth_total = truth_lesions.sum(axis=0)
    total_err = 100.0 * (scores.sum(axis=1) / np.where(truth_total > 0, truth_total, np.nan) - 1)
    lesion_sd = (
        100.0 * scores.std(axis=0, ddof=1) / np.where(truth_lesions > 0, truth_lesions, np.nan)
    )
    lesion_bias = 100.0 * (
        scores.mean(axis=0) / np.where(truth_lesions > 0, truth_lesions, np.nan) - 1
    )
    return {
        "total_err_pct": total_err,  # (REALISATIONS, scores)
        "lesions": [
            {
                "agatston_true": float(truth_lesions[i, 0]),
                "volume_mm3_true": float(truth_lesions[i, 1]),
                "peak_hu_true": float(phantom.truth["lesions"][i]["peak_hu"]),
                "sd_pct": dict(zip(SCORES, np.round(lesion_sd[i], 2).tolist(), strict=True)),
                "bias_pct": dict(zip(SCORES, np.round(lesion_bias[i], 2).tolist(), strict=True)),
            }
            for i in range(len(ids))
            if truth_lesions[i, 0] > 0
        ],
    }


def _automatic_on_realisations(seed: int, bank: _NoiseBank) -> float:
    """Largest |automatic - oracle| (% of truth) over realisations of one case."""
    from cardiolens.ct import score_calcium
    from cardiolens.phantom import simulate_ct

    phantom = simulate_ct(seed=seed, noise_hu=0.0)
    totals = phantom.truth["totals"]
    worst = 0.0
    for k in range(AUTOMATIC_REALISATIONS):
        volume = phantom.clean.with_array(np.asarray(phantom.clean.array) + bank.full(k))
        auto = score_calcium(volume)
        oracle = _totals(oracle_scores(volume, true_lesion_region(volume, phantom.lesion_labels)))
        for key in SCORES:
            diff = _error_pct(getattr(auto, key), totals[key]) - _error_pct(
                oracle[key], totals[key]
            )
            worst = max(worst, abs(diff))
    return worst


def _case(seed: int, bank: _NoiseBank) -> dict:
    from cardiolens.ct import score_calcium
    from cardiolens.phantom import simulate_ct

    phantom = simulate_ct(seed=seed, noise_hu=NOISE_HU)
    truth = phantom.truth
    clean = score_calcium(phantom.clean)
    noisy = score_calcium(phantom.volume)
    totals = truth["totals"]
    exact = all(
        np.isclose(getattr(clean, key), totals[key], rtol=1e-9, atol=1e-9) for key in SCORES
    )
    oracle = _totals(
        oracle_scores(phantom.volume, true_lesion_region(phantom.volume, phantom.lesion_labels))
    )
    distractor_hit = bool(
        np.any((noisy.lesion_labels > 0) & (phantom.distractor_labels > 0))
    ) or bool(np.any((clean.lesion_labels > 0) & (phantom.distractor_labels > 0)))
    correct = 0
    for lesion in truth["lesions"]:
        ids = np.unique(clean.lesion_labels[phantom.lesion_labels == lesion["id"]])
        arteries = {
            x.artery.value for x in clean.lesions if x.lesion_id in set(ids.tolist()) and x.artery
        }
        correct += arteries == {lesion["artery"]}
    study = _realisations(phantom, bank)
    err = study["total_err_pct"]
    row = {
        "seed": seed,
        "n_lesions": len(truth["lesions"]),
        "agatston_true": round(totals["agatston"], 1),
        "noise_free_exact": exact,
        "distractor_counted": distractor_hit,
        "arteries_correct": correct,
        "eat_err_pct": round(100 * (noisy.eat.volume_ml / truth["eat"]["volume_ml"] - 1), 2),
        "review_flags": sum(x.needs_review for x in noisy.lesions),
    }
    for key in SCORES:
        row[f"err_{key}_pct"] = round(_error_pct(getattr(noisy, key), totals[key]), 2)
        row[f"oracle_err_{key}_pct"] = round(_error_pct(oracle[key], totals[key]), 2)
    for j, key in enumerate(SCORES):
        row[f"realisation_sd_{key}_pct"] = round(float(np.std(err[:, j], ddof=1)), 2)
        row[f"realisation_bias_{key}_pct"] = round(float(np.mean(err[:, j])), 2)
        row[f"realisation_within_5pct_{key}_pct"] = round(
            float(100 * np.mean(np.abs(err[:, j]) <= GOALS["noisy_within_5pct"])), 1
        )
    return {"row": row, "realisation_err": err, "lesions": study["lesions"]}


def _binned(items: list[dict], value_key: str, stat) -> list[dict]:
    out = []
    for lo, hi in zip(_BINS[:-1], _BINS[1:], strict=True):
        inside = [x for x in items if lo <= x[value_key] < hi]
        if inside:
            out.append({"agatston_range": f"[{lo:g}, {hi:g})", "n": len(inside), **stat(inside)})
    return out


def _summary(rows: list[dict], prefix: str) -> dict:
    """Within-5 % fraction, mean |error|, bias and median |error| of one error column set."""
    out: dict[str, dict[str, float]] = {
        "within_5pct_pct": {},
        "mean_abs_err_pct": {},
        "bias_pct": {},
        "median_abs_err_pct": {},
    }
    for key in SCORES:
        errors = np.array([r[f"{prefix}{key}_pct"] for r in rows])
        out["within_5pct_pct"][key] = round(
            float(100 * np.mean(np.abs(errors) <= GOALS["noisy_within_5pct"])), 1
        )
        out["mean_abs_err_pct"][key] = round(float(np.mean(np.abs(errors))), 2)
        out["bias_pct"][key] = round(float(np.mean(errors)), 2)
        out["median_abs_err_pct"][key] = round(float(np.median(np.abs(errors))), 2)
    return out


def _realisation_summary(cases: list[dict], bank: _NoiseBank) -> dict:
    errs = np.concatenate([c["realisation_err"] for c in cases])  # (cases x R, scores)
    lesions = [les for c in cases for les in c["lesions"]]
    per_case = [
        {"agatston_true": c["row"]["agatston_true"], "err": c["realisation_err"]} for c in cases
    ]

    def case_stat(items):
        err = np.concatenate([x["err"] for x in items])
        return {
            "within_5pct_pct": {
                key: round(float(100 * np.mean(np.abs(err[:, j]) <= 5.0)), 1)
                for j, key in enumerate(SCORES)
            },
            "sd_pct_median": {
                key: round(float(np.median([np.std(x["err"][:, j], ddof=1) for x in items])), 2)
                for j, key in enumerate(SCORES)
            },
        }

    def lesion_stat(items):
        return {
            "sd_pct_median": {
                key: round(float(np.nanmedian([x["sd_pct"][key] for x in items])), 2)
                for key in SCORES
            },
            "bias_pct_median": {
                key: round(float(np.nanmedian([x["bias_pct"][key] for x in items])), 2)
                for key in SCORES
            },
            "volume_mm3_true_median": round(
                float(np.median([x["volume_mm3_true"] for x in items])), 1
            ),
        }

    return {
        "realisations_per_case": REALISATIONS,
        "noise": f"{NOISE_HU:g} HU, 0.5 mm in-plane correlation (the simulator's; QRM scan: 20.7 HU)",
        "definition_within_5pct_pct": {
            key: round(float(100 * np.mean(np.abs(errs[:, j]) <= 5.0)), 1)
            for j, key in enumerate(SCORES)
        },
        "definition_mean_abs_err_pct": {
            key: round(float(np.nanmean(np.abs(errs[:, j]))), 2) for j, key in enumerate(SCORES)
        },
        "definition_bias_pct": {
            key: round(float(np.nanmean(errs[:, j])), 2) for j, key in enumerate(SCORES)
        },
        "cases_within_5pct_in_95pct_of_realisations": {
            key: int(sum(c["row"][f"realisation_within_5pct_{key}_pct"] >= 95.0 for c in cases))
            for key in SCORES
        },
        "case_sd_pct_median": {
            key: round(float(np.median([c["row"][f"realisation_sd_{key}_pct"] for c in cases])), 2)
            for key in SCORES
        },
        "by_case_total_agatston": _binned(per_case, "agatston_true", case_stat),
        "by_lesion_agatston": _binned(lesions, "agatston_true", lesion_stat),
        "automatic_minus_oracle_on_realisations": {
            "seeds": list(AUTOMATIC_REALISATION_SEEDS),
            "realisations": AUTOMATIC_REALISATIONS,
            "max_abs_diff_pct": round(
                max(_automatic_on_realisations(s, bank) for s in AUTOMATIC_REALISATION_SEEDS), 4
            ),
        },
    }


def _table(rows: list[dict]) -> str:
    header = (
        f"{'seed':>5} {'les':>3} {'Agatston':>9} {'exact':>6} "
        f"{'dAgat%':>7} {'oAgat%':>7} {'sdAg%':>6} {'dVol%':>7} {'oVol%':>7} {'sdVol%':>6} "
        f"{'dMass%':>7} {'oMass%':>7} {'sdMa%':>6} {'distr':>6} {'artery':>7} {'dEAT%':>6}"
    )
    lines = [header]
    for r in rows:
        cells = " ".join(
            f"{r[f'err_{k}_pct']:>7.2f} {r[f'oracle_err_{k}_pct']:>7.2f} "
            f"{r[f'realisation_sd_{k}_pct']:>6.2f}"
            for k in SCORES
        )
        lines.append(
            f"{r['seed']:>5} {r['n_lesions']:>3} {r['agatston_true']:>9.1f} "
            f"{str(r['noise_free_exact']):>6} {cells} {str(r['distractor_counted']):>6} "
            f"{r['arteries_correct']:>3}/{r['n_lesions']:<3} {r['eat_err_pct']:>6.2f}"
        )
    return "\n".join(lines)


def _through_dicom(phantom, vendor: str, options: dict):
    """The phantom with its CT written with ``vendor``'s DICOM header and storage
    (:func:`cardiolens.phantom.ct_vendor.write_vendor_ct`) and read back as a user's
    study is (:func:`cardiolens.ct.load_calcium_ct`): the truth is compared with that."""
    import dataclasses
    import tempfile

    from cardiolens.ct.score import load_calcium_ct
    from cardiolens.phantom.ct_vendor import write_vendor_ct

    with tempfile.TemporaryDirectory(prefix="cardiolens-sweep-") as folder:
        write_vendor_ct(
            folder,
            phantom.volume,
            vendor,
            patient_id=f"SWEEP-{options['seed']}",
            study_uid=f"2.25.{10**12 + options['seed']}",
            slice_thickness_mm=options.get("slice_thickness_mm", 3.0),
            reconstruction_diameter_mm=options.get("fov_diameter_mm"),
        )
        volume = load_calcium_ct(folder)
    if volume.shape != phantom.volume.shape:
        raise RuntimeError(f"{vendor} round trip changed the grid: {volume.shape}")
    return dataclasses.replace(phantom, volume=volume)


def _sweep_case(index: int) -> dict:
    """One case of the real-anatomy sweep: its factors and how it meets its truth."""
    from cardiolens.core.errors import CardiolensError
    from cardiolens.ct import agatston_category, score_calcium
    from cardiolens.ct.validation import compare_with_truth
    from cardiolens.phantom import simulate_ct
    from cardiolens.phantom.ct_scanner import sweep_case

    kind, options = sweep_case(index, SWEEP_FIRST_SEED + index)
    vendor = options.pop("vendor")
    phantom = _through_dicom(simulate_ct(**options), vendor, options)
    habitus = phantom.truth["settings"]["habitus"]
    row = {
        "case": index,
        "kind": kind,
        "vendor": vendor,
        "seed": options["seed"],
        "pixel_mm": round(options["pixel_mm"], 3),
        "slice_mm": options.get("slice_thickness_mm", 3.0),
        "fov_mm": round(options.get("fov_diameter_mm") or 0.0, 1) or None,
        "padding_hu": options.get("padding_hu") if "fov_diameter_mm" in options else None,
        "noise_hu": options["noise_hu"],
        "extra_fat_mm": round(habitus["extra_fat_mm"], 1),
        "arms_down": habitus["arms_down"],
        "breast": habitus["breast"],
        "table": habitus["table"],
        "metal": list(options.get("metal", ())),
        "liver_dome": options["liver_dome"],
        "truth_agatston": round(phantom.truth["totals"]["agatston"], 2),
    }
    start, cpu = time.perf_counter(), time.process_time()
    try:
        result = score_calcium(phantom.volume)
    except CardiolensError as error:
        return row | {"heart_found": False, "error": str(error)}
    row["score_s"] = round(time.perf_counter() - start, 2)
    row["score_cpu_s"] = round(time.process_time() - cpu, 2)
    found = compare_with_truth(phantom, result)
    oracle_total = sum(found["oracle_agatston"].values())
    auto_total = sum(found["agatston"].values())
    expected_stent = sorted(m["artery"] for m in phantom.truth["metal"] if m["kind"] == "stent")
    return row | {
        "heart_found": True,
        **found,
        "category": agatston_category(auto_total),
        "oracle_category": agatston_category(oracle_total),
        "stent_reported_correctly": found["stented"] == expected_stent,
        "flags": list(result.quality_flags),
    }


def _sweep(n_cases: int) -> dict:
    """The >= 40-case real-anatomy sweep (issue 11, acceptance 1)."""
    return summarise_sweep([_sweep_case(k) for k in range(n_cases)])


def summarise_sweep(rows: list[dict]) -> dict:
    """Totals of the sweep's rows (:func:`_sweep_case`), overall and by scan type."""
    n_cases = len(rows)
    scored = [r for r in rows if r["heart_found"]]
    lesions = sum(r["lesions"] for r in scored)
    on_artery = sum(r["lesions_on_true_artery"] for r in scored)
    by_kind = {}
    for kind in sorted({r["kind"] for r in rows}):
        mine = [r for r in scored if r["kind"] == kind]
        by_kind[kind] = {
            "cases": sum(r["kind"] == kind for r in rows),
            "heart_found": len(mine),
            "equals_oracle": sum(r["equals_oracle"] for r in mine),
            "category_equals_oracle": sum(r["category"] == r["oracle_category"] for r in mine),
        }
    by_vendor = {
        vendor: {
            "cases": sum(r["vendor"] == vendor for r in rows),
            "heart_found": sum(r["vendor"] == vendor for r in scored),
            "equals_oracle": sum(r["equals_oracle"] for r in scored if r["vendor"] == vendor),
        }
        for vendor in sorted({r["vendor"] for r in rows})
    }
    times = [r["score_s"] for r in scored]
    cpu_times = [r["score_cpu_s"] for r in scored]
    return {
        "cases": n_cases,
        "heart_found": len(scored),
        "heart_error_mm_max": round(max((r["heart_error_mm"] for r in scored), default=0.0), 1),
        "non_coronary_counted": sum(r["distractor_counted"] or r["metal_counted"] for r in scored),
        "equals_oracle": sum(r["equals_oracle"] for r in scored),
        "category_equals_oracle": sum(r["category"] == r["oracle_category"] for r in scored),
        "false_lesions": sum(r["false_lesions"] for r in scored),
        "lesions_on_true_artery_pct": round(100.0 * on_artery / max(lesions, 1), 1),
        "lesion_goal_pct": GOALS["sweep_artery_pct"],
        "stents_reported_correctly": sum(
            r["stent_reported_correctly"] for r in scored if r["kind"] == "metal"
        ),
        "score_s_median": round(float(np.median(times)), 2) if times else None,
        "score_s_max": round(max(times), 2) if times else None,
        "score_cpu_s_median": round(float(np.median(cpu_times)), 2) if cpu_times else None,
        "score_cpu_s_max": round(max(cpu_times), 2) if cpu_times else None,
        "by_kind": by_kind,
        "by_vendor": by_vendor,
        "table": rows,
    }


def run() -> dict:
    from cardiolens.ct import score_calcium
    from cardiolens.phantom import simulate_ct

    phantom = simulate_ct(seed=1, noise_hu=NOISE_HU)
    score_calcium(phantom.volume)  # warm-up (imports, caches)
    load_before = os.getloadavg()[0]
    walls, cpus = [], []
    for _ in range(TIMING_RUNS):
        start, cpu = time.perf_counter(), time.process_time()
        score_calcium(phantom.volume)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    score_s = float(np.median(walls))

    n_cases = int(os.environ.get("CARDIOLENS_BENCH_CASES", "30"))
    n_sweep = int(os.environ.get("CARDIOLENS_BENCH_SWEEP", "40"))
    out = {
        "score_512x512x60_s": round(score_s, 2),
        "score_512x512x60_cpu_s": round(float(np.median(cpus)), 2),
        "score_runs_wall_s": [round(w, 2) for w in walls],
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpu_cores": os.cpu_count(),
        "score_goal_s": GOALS["score_s"],
        "score_ok": score_s <= GOALS["score_s"],
        "real_anatomy_sweep": _sweep(n_sweep),
    }
    if n_cases:
        out |= _noise_study(n_cases)
    return out


def _noise_study(n_cases: int) -> dict:
    """Issue 5's 30 simulated patients: truth, oracle and the definitions' noise spread."""
    bank = _NoiseBank()
    cases = [_case(100 + k, bank) for k in range(n_cases)]
    rows = [c["row"] for c in cases]
    n_lesions = sum(r["n_lesions"] for r in rows)
    automatic = _summary(rows, "err_")
    oracle = _summary(rows, "oracle_err_")
    print(_table(rows))
    return {
        "cases": n_cases,
        "noise_free_exact_pct": 100 * np.mean([r["noise_free_exact"] for r in rows]),
        "noisy_within_5pct_agatston_pct": automatic["within_5pct_pct"]["agatston"],
        "noisy_within_5pct_volume_pct": automatic["within_5pct_pct"]["volume_mm3"],
        "noisy_within_5pct_mass_pct": automatic["within_5pct_pct"]["mass_mg"],
        "noisy_median_abs_err_pct": automatic["median_abs_err_pct"],
        "noisy_mean_abs_err_pct": automatic["mean_abs_err_pct"],
        "noisy_bias_pct": automatic["bias_pct"],
        "error_decomposition": {
            "automatic": automatic,
            "oracle": oracle,
            "automatic_minus_oracle_max_abs_pct": round(
                max(
                    abs(r[f"err_{k}_pct"] - r[f"oracle_err_{k}_pct"]) for r in rows for k in SCORES
                ),
                4,
            ),
        },
        "realisation_study": _realisation_summary(cases, bank),
        "distractor_free_pct": 100 * np.mean([not r["distractor_counted"] for r in rows]),
        "distractor_free_goal_pct": GOALS["distractor_free_pct"],
        "artery_correct_pct": 100 * sum(r["arteries_correct"] for r in rows) / max(n_lesions, 1),
        "artery_correct_goal_pct": GOALS["artery_correct_pct"],
        "eat_within_10pct_pct": 100
        * np.mean([abs(r["eat_err_pct"]) <= GOALS["eat_within_pct"] for r in rows]),
        "eat_median_err_pct": round(float(np.median([r["eat_err_pct"] for r in rows])), 2),
        "table": rows,
    }
