"""The stage layering rule: a stage imports only ``core``, ``io`` and the stages before it.

Order: core, io, phantom, nuclear, ct, risk, trust, report, audit, pipeline, service;
``cli`` may import everything. One stated exception: the calcium-scoring CT phantom
(``phantom/ct_*.py``) imports ``ct``, because its ground truth must be computed by
the very Agatston, volume and mass definitions the ``ct`` stage implements.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "cardiolens"
ORDER = [
    *("core", "io", "phantom", "nuclear", "ct", "risk", "trust", "report", "audit"),
    *("pipeline", "service"),
]
ALLOWED_EXCEPTIONS = {("phantom/ct_", "ct")}


def _imported_stages(path: Path) -> set[str]:
    stages = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "cardiolens" and len(parts) > 1:
                stages.add(parts[1])
    return stages


def test_no_stage_imports_a_later_stage():
    rank = {stage: i for i, stage in enumerate(ORDER)}
    violations = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        stage = relative.split("/")[0].removesuffix(".py")
        if stage not in rank:
            continue
        for target in _imported_stages(path):
            if target in rank and rank[target] > rank[stage]:
                if not any(relative.startswith(p) and target == t for p, t in ALLOWED_EXCEPTIONS):
                    violations.append(f"{relative} imports cardiolens.{target}")
    assert not violations, "layering violations:\n" + "\n".join(violations)
