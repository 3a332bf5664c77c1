"""``cardiolens calcium``: coronary calcium scores and epicardial fat of a CT."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def calcium(
    path: Annotated[Path, typer.Argument(help="CT study folder or file (DICOM, NIfTI, NRRD).")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    phantom: Annotated[
        bool, typer.Option("--phantom", help="Scanner QA mode for calcium phantoms (QRM).")
    ] = False,
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels", help="Lesion label mask (NIfTI) to rescore: 1 LM, 2 LAD, 3 LCx, 4 RCA."
        ),
    ] = None,
    overlay_dir: Annotated[
        Path | None, typer.Option("--overlay-dir", help="Write axial PNG overlays here.")
    ] = None,
    kv_threshold: Annotated[
        bool,
        typer.Option(
            "--kv-threshold", help="kV-specific threshold (147 HU at 100 kV) instead of 130 HU."
        ),
    ] = False,
) -> None:
    """Agatston, volume, mass and integrated mass scores, CAC-DRS and epicardial fat."""
    import json

    from cardiolens.core.errors import naming_file
    from cardiolens.ct import load_calcium_ct, score_calcium
    from cardiolens.ct.score import check_label_codes

    volume = load_calcium_ct(path)
    mask = None
    if labels is not None:
        from cardiolens.io import read_mask

        mask = read_mask(labels, volume)
        check_label_codes(mask, labels)
    with naming_file(path):
        result = score_calcium(
            volume, phantom=phantom, labels=mask, kv_specific_threshold=kv_threshold
        )
    if overlay_dir is not None and result.lesion_labels is not None:
        from cardiolens.ct.overlay import write_overlays

        write_overlays(volume, result.lesion_labels, result.lesions, overlay_dir)
    if json_output:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    _print_table(result)


def _print_table(result) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    calibration = result.mass_calibration
    console.print(
        f"Agatston {result.agatston:.1f} ({result.category}), {result.cac_drs.label}; "
        f"volume {result.volume_mm3:.1f} mm^3, mass {result.mass_mg:.2f} mg "
        f"(c = {calibration.factor_mg_per_hu_mm3:.3e} mg/(HU mm^3), {calibration.source})"
    )
    if result.cac_drs.vessels is not None:  # patient scans (phantom inserts have no artery)
        console.print(_artery_table(result))
    table = Table(
        "artery",
        "Agatston",
        "volume mm^3",
        "mass mg",
        "integrated mg",
        "peak HU",
        "centre mm",
        "review",
    )
    for lesion in result.lesions:
        table.add_row(
            lesion.artery.value if lesion.artery else "-",
            f"{lesion.agatston:.1f}",
            f"{lesion.volume_mm3:.1f}",
            f"{lesion.mass_mg:.2f}",
            f"{lesion.mass_integrated_mg:.2f}",
            f"{lesion.peak_hu:.0f}",
            ", ".join(f"{c:.1f}" for c in lesion.centroid_mm),
            "yes" if lesion.needs_review else "",
        )
    console.print(table)
    if result.eat is not None:
        console.print(
            f"Epicardial fat: {result.eat.volume_ml:.1f} mL, mean {result.eat.mean_hu:.1f} HU"
        )
    for flag in result.quality_flags:
        console.print(f"[yellow]flag:[/yellow] {flag}")


def _artery_table(result):
    """Per-artery and total Agatston, volume, mass and lesion count (stents noted)."""
    from rich.table import Table

    table = Table("artery", "Agatston", "volume mm^3", "mass mg", "lesions", "note")
    stented = set(result.stented_arteries)
    for artery, scores in result.per_artery.items():
        table.add_row(
            artery.value,
            f"{scores.agatston:.1f}",
            f"{scores.volume_mm3:.1f}",
            f"{scores.mass_mg:.2f}",
            str(sum(lesion.artery == artery for lesion in result.lesions)),
            "stent present: score not interpretable" if artery in stented else "",
        )
    table.add_row(
        "total",
        f"{result.agatston:.1f}",
        f"{result.volume_mm3:.1f}",
        f"{result.mass_mg:.2f}",
        str(len(result.lesions)),
        result.cac_drs.label,
    )
    return table


def register(app: typer.Typer) -> None:
    app.command("calcium")(calcium)
