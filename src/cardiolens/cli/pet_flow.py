"""``cardiolens pet-flow``: myocardial blood flow, flow reserve and CFC from dynamic PET."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cardiolens.cli.simulate import simulate_app


def load_dynamic_scans(path: Path, tracer: str | None) -> dict[str, object]:
    """``{"rest": DynamicScan, "stress": DynamicScan}`` (either may be absent) of a study or file."""
    from cardiolens.core.errors import InputError, ModalityError
    from cardiolens.core.study import SeriesRole
    from cardiolens.io import load_study
    from cardiolens.io.pet_dynamic import read_dynamic_nifti
    from cardiolens.io.roles import stress_or_rest
    from cardiolens.nuclear.flow import scan_from_frames, scan_from_series

    if path.is_file() and path.name.lower().endswith((".nii", ".nii.gz")):
        frames, timing = read_dynamic_nifti(path)
        kind, _, _ = stress_or_rest({"series_description": path.name})
        scan = scan_from_frames(
            frames,
            timing,
            source=path,
            tracer=tracer,
            state=kind or "rest",
            header_text=(path.name,),
        )
        return {scan.state: scan}
    study = load_study(path)
    dynamic = [
        s
        for s in study.series
        if s.role == SeriesRole.PET_DYNAMIC or (s.modality == "PT" and s.frames)
    ]
    if not dynamic:
        pet = [s for s in study.series if s.modality == "PT"]
        if pet:
            raise InputError(
                "a single frame: no dynamic PET series (several time frames) to quantify flow",
                pet[0].files[0] if pet[0].files else path,
            )
        found = ", ".join(sorted({s.modality for s in study.series})) or "none"
        raise ModalityError(f"no dynamic PET series (modalities found: {found})", path)
    scans: dict[str, object] = {}
    for series in dynamic:
        scan = scan_from_series(series, tracer=tracer)
        if scan.state in scans:
            other = "stress" if scan.state == "rest" else "rest"
            if other in scans:
                raise InputError(
                    f"more than one rest and one stress dynamic series in {path}", path
                )
            scan = scan_from_series(series, tracer=tracer, state=other)
        scans[scan.state] = scan
    return scans


def pet_flow(
    path: Annotated[
        Path,
        typer.Argument(help="DICOM study (folder) with dynamic PET, or 4D NIfTI + JSON sidecar."),
    ],
    tracer: Annotated[
        str | None,
        typer.Option("--tracer", help="rb82, nh3 or h2o (default: from the header)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Quantify PET myocardial blood flow (rest, stress), MFR and coronary flow capacity."""
    import json

    from cardiolens.core.errors import naming_file
    from cardiolens.nuclear.flow import FlowTracer, analyze_flow

    if tracer is not None:
        tracer = FlowTracer.parse(tracer).value
    scans = load_dynamic_scans(path, tracer)
    with naming_file(path):
        result = analyze_flow(rest=scans.get("rest"), stress=scans.get("stress"))
    out = result.to_json()
    if json_output:
        typer.echo(json.dumps(out, indent=2))
        return
    for name in ("rest", "stress"):
        part = out[name]
        if part is None:
            continue
        territories = ", ".join(f"{t} {v:.2f}" for t, v in part["territory_mbf_ml_min_g"].items())
        typer.echo(f"{name}: MBF {part['global_mbf_ml_min_g']:.2f} mL/min/g ({territories})")
    if out["mfr"] is not None:
        territories = ", ".join(f"{t} {v:.2f}" for t, v in out["mfr"]["territories"].items())
        typer.echo(f"MFR {out['mfr']['global']:.2f} ({territories})")
        typer.echo("CFC: " + ", ".join(f"{t} {c}" for t, c in out["cfc"]["territories"].items()))
    typer.echo(out["summary"])
    for reason in out["review_reasons"]:
        typer.echo(f"  needs review: {reason}")


def simulate_pet_flow(
    out: Annotated[
        Path, typer.Option("--out", help="Output folder (rest/, stress/, ground_truth.json).")
    ],
    tracer: Annotated[str, typer.Option("--tracer", help="rb82, nh3 or h2o.")] = "rb82",
    seed: Annotated[int, typer.Option("--seed", help="Seed of flows, noise and bolus.")] = 0,
    noise: Annotated[bool, typer.Option("--noise/--no-noise", help="Clinical-count noise.")] = True,
    motion_mm: Annotated[
        float, typer.Option("--motion-mm", help="Patient shift (mm, along x) from 150 s on.")
    ] = 0.0,
) -> None:
    """Simulate a dynamic rest + stress PET flow study (DICOM) with known MBF per segment."""
    from cardiolens.phantom.pet_flow import write_flow_study

    options = {"motion_mm": (motion_mm, 0.0, 0.0), "motion_start_s": 150.0} if motion_mm else {}
    folder = write_flow_study(out, tracer=tracer, seed=seed, noise=noise, **options)
    typer.echo(f"wrote {folder} (rest/, stress/, ground_truth.json)")


def register(app: typer.Typer) -> None:
    app.command("pet-flow")(pet_flow)
    simulate_app.command("pet-flow")(simulate_pet_flow)
