"""Cohort throughput on Dask: studies/min with 1 and 2 LocalCluster workers, and the speed-up.

The cohort is 20 simulated stress-only gated SPECT studies (image-space phantom,
8 gates, varying LVEF and LAD/RCA/LCx defects; simulated once, untimed, into
``benchmarks/results/cohort_studies``). Each run starts its own LocalCluster (one
thread and 3 GiB per worker) on a fresh output folder; wall time covers cluster
start, all analyses and the results table. The 1-minute load average before and
after each run is recorded: on a shared machine the speed-up is only as good as
the idle cores.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

N_STUDIES = 20
GOAL_SPEEDUP = 1.6
STUDIES = Path(__file__).resolve().parent / "results" / "cohort_studies"


def _simulate_one(root: Path, index: int) -> None:
    from cardiolens.phantom.perfusion import DefectSpec
    from cardiolens.phantom.spect import simulate_spect_study

    study = root / f"study{index:02d}"
    if study.is_dir() and len(list(study.glob("*.dcm"))) == 2:
        return
    with tempfile.TemporaryDirectory() as scratch:
        simulate_spect_study(
            scratch,
            seed=100 + index,
            lvef_pct=45.0 + 2.0 * (index % 8),
            defects=[DefectSpec(("LAD", "RCA", "LCx")[index % 3], 50.0, 10.0 + index % 5)],
            include_rest=False,
            method="image_space",
        )
        study.mkdir(parents=True, exist_ok=True)
        for path in Path(scratch).glob("*.dcm"):
            shutil.copy(path, study / path.name)


def simulate(root: Path = STUDIES) -> None:
    """The benchmark cohort (not timed), one study per process on every core."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        list(pool.map(_simulate_one, [root] * N_STUDIES, range(N_STUDIES)))


def _run(workers: int) -> dict:
    from cardiolens.service.cohort import run_cohort

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = run_cohort(STUDIES, out, workers=workers, progress=False, user="bench")
        wall = time.perf_counter() - start
    return {
        "workers": workers,
        "wall_s": round(wall, 1),
        "studies_per_min": round(N_STUDIES / wall * 60, 2),
        "n_failed": len(result.failures),
        "load_avg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def run() -> dict:
    simulate(STUDIES)
    one, two = _run(1), _run(2)
    speedup = round(two["studies_per_min"] / one["studies_per_min"], 2)
    return {
        "n_studies": N_STUDIES,
        "cpu_count": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0)),
        "one_worker": one,
        "two_workers": two,
        "speedup": speedup,
        "goal_speedup": GOAL_SPEEDUP,
        "meets_goal": speedup >= GOAL_SPEEDUP,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
