"""Wall time of ``cardiolens demo`` (simulation + analysis + report), goal <= 90 s on 2 cores."""

from __future__ import annotations

import tempfile
import time

GOAL_S = 90.0


def run() -> dict:
    from cardiolens.cli.demo import run_demo

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = run_demo(folder, progress=False)
        total = time.perf_counter() - start
    return {
        "demo_s": round(total, 1),
        "goal_demo_s": GOAL_S,
        "meets_goal": total <= GOAL_S,
        "simulate_s": round(result.simulate_s, 1),
        "analyze_s": round(result.analyze_s, 1),
        "measured_vs_true": {
            row.quantity: {"measured": row.measured, "true": row.true} for row in result.rows
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
