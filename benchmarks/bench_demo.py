"""Wall time of ``cardiolens demo`` (simulation + analysis + report), goal <= 90 s on 2 cores.

CPU time and the load average are recorded beside the wall time: on a machine
shared with other work the wall time overstates what the demo needs.
"""

from __future__ import annotations

import os
import tempfile
import time

GOAL_S = 90.0


def run() -> dict:
    from cardiolens.cli.demo import run_demo

    with tempfile.TemporaryDirectory() as folder:
        start, cpu_start = time.perf_counter(), time.process_time()
        result = run_demo(folder, progress=False)
        total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "demo_s": round(total, 1),
        "goal_demo_s": GOAL_S,
        "meets_goal": total <= GOAL_S,
        "cpu_s": round(cpu, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "simulate_s": round(result.simulate_s, 1),
        "analyze_s": round(result.analyze_s, 1),
        "measured_vs_true": {
            row.quantity: {
                "measured": None if row.measured is None else round(row.measured, 2),
                "true": None if row.true is None else round(row.true, 2),
            }
            for row in result.rows
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
