"""Nuclear quantification against phantom ground truth, and speed of a gated stress+rest study.

Accuracy: a sweep of simulated SPECT studies (geometry, single- and two-vessel
defects, counts, extracardiac activity; image-space method, ``NUCLEAR_BENCH_METHOD=osem``
for OSEM reconstructions) compared with the phantom's exact EDV, ESV, LVEF and
defect extent (issue 4, acceptance 1). Speed: one gated (8 gates) stress + rest
study analysed end to end (acceptance 4: <= 10 s on 2 cores).
"""

from __future__ import annotations

import os
import time

from cardiolens.nuclear.validation import (
    as_series,
    run_phantom_case,
    standard_cases,
    summarize,
)

GOALS = {
    "lvef_mae_points": "<= 4",
    "edv_within_10pct_fraction": "== 1.0 (EDV within 10 %)",
    "tpd_vs_extent_mae_points": "<= 3",
    "single_vessel_territory_correct_fraction": ">= 0.95",
    "normals_tpd_below_3pct_fraction": ">= 0.90",
    "stress_rest_gated_analysis_s": "<= 10",
}


def _speed(method: str) -> float:
    from cardiolens.nuclear import analyze_perfusion
    from cardiolens.phantom import DefectSpec, simulate_spect

    phantom = simulate_spect(
        seed=7, defects=(DefectSpec("LAD", 60.0),), method=method, include_rest=True
    )
    start = time.perf_counter()
    analyze_perfusion(stress=as_series(phantom.stress), rest=as_series(phantom.rest))
    return time.perf_counter() - start


def run() -> dict:
    method = os.environ.get("NUCLEAR_BENCH_METHOD", "image_space")
    n_cases = int(os.environ.get("NUCLEAR_BENCH_CASES", "32"))
    cases = [
        type(c)(**{**c.__dict__, "method": method}) for c in standard_cases(n=n_cases, seed=100)
    ]
    results = []
    print(
        f"{'case':<34} {'EDV true/meas':>14} {'EF true/meas':>13} "
        f"{'extent/TPD':>11} {'territory true/meas':>20} {'s':>5}"
    )
    for case in cases:
        r = run_phantom_case(case)
        results.append(r)
        print(
            f"{case.label:<34} {r.true['edv_ml']:6.0f}/{r.measured['edv_ml']:<7.0f} "
            f"{r.true['lvef_pct']:5.1f}/{r.measured['lvef_pct']:<7.1f} "
            f"{r.true['extent_pct']:4.1f}/{r.measured['tpd_pct']:<6.1f} "
            f"{str(r.true_territory):>9}/{str(r.measured_territory):<10} {r.analysis_s:5.2f}"
        )
    summary = summarize(results)
    # per group, without the statistics that do not apply to it (NaN is not JSON)
    summary["groups"] = {
        name: {k: v for k, v in summarize(group).items() if v == v}
        for name, group in (
            ("normal", [r for r in results if not r.case.defects]),
            ("single_vessel", [r for r in results if len(r.case.defects) == 1]),
            ("two_vessel", [r for r in results if len(r.case.defects) == 2]),
        )
        if group
    }
    summary["stress_rest_gated_analysis_s"] = _speed(method)
    summary["method"] = method
    summary["goals"] = GOALS
    summary["cases"] = [r.row() for r in results]
    return summary


if __name__ == "__main__":
    import json

    out = run()
    print(json.dumps({k: v for k, v in out.items() if k != "cases"}, indent=2, default=str))
