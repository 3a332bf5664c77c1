"""Ingestion speed (issue 2 acceptance 6): one PhysioNet SPECT study and the 47-slice QRM CT.

Each is read with :func:`cardiolens.io.load_study` five times; the median wall
time is held to the goal of 2 s.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from cardiolens.io import load_study

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GOAL_S = 2.0
REPEATS = 5


def _median_seconds(path: Path) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        load_study(path)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run() -> dict:
    """Median ingestion seconds per input, with the goal; skipped without ../shared/data."""
    spect = SHARED_DATA / "spect" / "physionet_mps" / "dicom"
    ct = SHARED_DATA / "ct" / "qrm_calcium_phantom" / "dicom"
    if not spect.is_dir() or not ct.is_dir():
        return {"skipped": f"reference data not found under {SHARED_DATA}"}
    spect_file = sorted(spect.glob("*.dcm"))[0]
    spect_s = _median_seconds(spect_file)
    ct_s = _median_seconds(ct)
    return {
        "physionet_spect_study_s": round(spect_s, 4),
        "qrm_ct_47_slices_s": round(ct_s, 4),
        "goal_s": GOAL_S,
        "repeats": REPEATS,
        "meets_goal": spect_s < GOAL_S and ct_s < GOAL_S,
    }


if __name__ == "__main__":
    print(run())
