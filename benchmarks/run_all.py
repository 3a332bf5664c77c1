"""Run every ``benchmarks/bench_*.py`` and write one JSON file of results per benchmark.

Each benchmark module defines ``run() -> dict`` returning measured numbers
(seconds, MB, accuracy) and the goal each is held to. Results go to
``benchmarks/results/<name>.json``; a summary table is printed at the end.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

import cardiolens

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main(selected: list[str]) -> int:
    RESULTS.mkdir(exist_ok=True)
    failures = 0
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if selected and name not in selected:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        start = time.perf_counter()
        try:
            result = {"status": "ok", **module.run()}
        except Exception as error:  # a benchmark failure must not hide the others
            result = {"status": "error", "error": f"{type(error).__name__}: {error}"}
            failures += 1
        result["wall_s"] = round(time.perf_counter() - start, 2)
        result["cardiolens_version"] = cardiolens.__version__
        result["machine"] = {"python": platform.python_version(), "cpu": platform.processor()}
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
        print(f"{name:>20}: {json.dumps(result, default=str)[:400]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
