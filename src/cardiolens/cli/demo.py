"""``cardiolens demo``: simulate a study with known truth, analyse it, compare.

The demo study is one phantom patient with a gated stress/rest Tc-99m SPECT
holding a reversible LAD defect and a calcium-scoring CT, written as DICOM by
:mod:`cardiolens.phantom` and analysed by :func:`cardiolens.pipeline.analyze_study`
exactly as a real study would be.

To fit the 90 s budget on two CPU cores the SPECT is simulated with the phantom's
``image_space`` method (the activity blurred to the OSEM resolution with noise of
the same coefficient of variation, calibrated against the OSEM path); ``--osem``
runs projection, Poisson noise and OSEM reconstruction instead (several minutes).
An image-space study has no camera, so it is scored against the normal limits built
from the same image-space phantom (``normals_image_space``), which the report names;
an OSEM study gets the database its header selects, as a patient's would.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

DEMO_SEED = 2026
DEMO_LVEF_PCT = 55.0
DEMO_EDV_ML = 120.0
DEMO_DEFECT = {"location": "LAD", "severity_pct": 60.0, "extent_pct": 15.0}


@dataclass(frozen=True)
class Comparison:
    """One measured number beside its ground truth."""

    quantity: str
    measured: float | None
    true: float | None
    note: str = ""


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced and how it compares with the phantom's truth."""

    html_path: Path
    rows: tuple[Comparison, ...]
    simulate_s: float
    analyze_s: float


def _simulate(simulation_dir: Path, seed: int, spect_method: str) -> None:
    from cardiolens.phantom.ct_simulate import simulate_ct_study
    from cardiolens.phantom.perfusion import DefectSpec
    from cardiolens.phantom.spect import simulate_spect_study

    simulate_spect_study(
        simulation_dir / "spect",
        seed=seed,
        lvef_pct=DEMO_LVEF_PCT,
        edv_ml=DEMO_EDV_ML,
        defects=[DefectSpec(**DEMO_DEFECT)],
        n_gates=8,
        method=spect_method,
    )
    simulate_ct_study(simulation_dir / "ct", seed=seed)


def _assemble_study(simulation_dir: Path, study_dir: Path) -> None:
    """One patient's study folder: the SPECT DICOM files and the CT series.

    The two simulators name their phantom patients differently; the CT copies take
    the SPECT's patient identity so the folder holds one patient, as a hybrid
    SPECT + calcium CT work-up would.
    """
    import shutil

    import pydicom

    study_dir.mkdir(parents=True, exist_ok=True)
    spect_files = sorted((simulation_dir / "spect").glob("*.dcm"))
    for path in spect_files:
        shutil.copy(path, study_dir / path.name)
    patient = pydicom.dcmread(spect_files[0], stop_before_pixels=True)
    (study_dir / "ct").mkdir(exist_ok=True)
    for path in sorted((simulation_dir / "ct" / "dicom").iterdir()):
        dataset = pydicom.dcmread(path)
        dataset.PatientID, dataset.PatientName = patient.PatientID, patient.PatientName
        dataset.save_as(study_dir / "ct" / path.name)


def _comparisons(report: dict[str, Any], spect_truth: dict, ct_truth: dict) -> list[Comparison]:
    nuclear = report.get("nuclear") or {}
    stress = nuclear.get("stress") or {}
    function = stress.get("function") or {}
    extent = spect_truth["territory_extent_pct"]
    ischemic_extent = extent["stress"]["total"] - extent.get("rest", {}).get("total", 0.0)
    calcium = report.get("calcium") or {}
    return [
        Comparison("LVEF (%)", function.get("lvef_pct"), spect_truth["lvef_pct"]),
        Comparison("EDV (mL)", function.get("edv_ml"), spect_truth["edv_ml"]),
        Comparison(
            "stress TPD (%)",
            stress.get("tpd_pct"),
            extent["stress"]["total"],
            "true: defect extent, % of LV myocardium",
        ),
        Comparison(
            "SDS",
            nuclear.get("sds"),
            round(ischemic_extent * 68 / 100, 1),
            "true: ischemic extent x 68 / 100 (phantom has no visual score)",
        ),
        Comparison(
            "ischemic TPD (%)",
            nuclear.get("ischemic_tpd_pct"),
            ischemic_extent,
            "true: reversible defect extent",
        ),
        Comparison("Agatston", calcium.get("agatston"), ct_truth["totals"]["agatston"]),
    ]


def run_demo(
    out_dir: str | Path,
    *,
    seed: int = DEMO_SEED,
    spect_method: str = "image_space",
    progress: bool = True,
) -> DemoResult:
    """Simulate the demo patient (``out_dir/simulation``, ``out_dir/study``) and report on it.

    The report (``report.json``, ``report.html``, ``sr.dcm``, SEG, ``audit.sqlite``)
    is written to ``out_dir``.

    Returns
    -------
    DemoResult
        The report page and the measured-vs-true table.
    """
    from cardiolens.nuclear.protocols import shipped_database_path
    from cardiolens.pipeline import analyze_study

    out = Path(out_dir)
    normals = shipped_database_path("image_space") if spect_method == "image_space" else None
    simulation_dir, study_dir = out / "simulation", out / "study"
    start = time.perf_counter()
    _simulate(simulation_dir, seed, spect_method)
    _assemble_study(simulation_dir, study_dir)
    simulated = time.perf_counter()
    report = analyze_study(study_dir, out, user="demo", progress=progress, normals=normals)
    analysed = time.perf_counter()
    spect_truth = json.loads((simulation_dir / "spect" / "ground_truth.json").read_text())
    ct_truth = json.loads((simulation_dir / "ct" / "ground_truth.json").read_text())
    return DemoResult(
        html_path=report.html_path,
        rows=tuple(_comparisons(report.data, spect_truth, ct_truth)),
        simulate_s=simulated - start,
        analyze_s=analysed - simulated,
    )


def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("demo_output"),
    seed: Annotated[int, typer.Option("--seed", help="Phantom seed.")] = DEMO_SEED,
    osem: Annotated[
        bool, typer.Option("--osem", help="Full projection + OSEM SPECT simulation (slow).")
    ] = False,
) -> None:
    """Simulate a stress/rest SPECT (reversible LAD defect) and a calcium CT, analyse, compare."""
    from rich.console import Console
    from rich.table import Table

    from cardiolens.audit import find_key, write_key_file

    if find_key(required=False) is None:  # first run: a key as 'cardiolens audit keygen' makes
        typer.echo(f"no audit key yet; created {write_key_file()} (keep it private)", err=True)
    result = run_demo(out, seed=seed, spect_method="osem" if osem else "image_space")
    table = Table(title="cardiolens demo: measured vs true (digital phantom)")
    for column in ("quantity", "measured", "true", "note"):
        table.add_column(column, justify="left" if column in ("quantity", "note") else "right")
    for row in result.rows:
        table.add_row(
            row.quantity,
            "-" if row.measured is None else f"{row.measured:.1f}",
            "-" if row.true is None else f"{row.true:.1f}",
            row.note,
        )
    console = Console()
    console.print(table)
    console.print(
        f"simulation {result.simulate_s:.1f} s, analysis {result.analyze_s:.1f} s", style="dim"
    )
    typer.echo(str(result.html_path))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
