"""``cardiolens info PATH``: the series of a DICOM/NIfTI/NRRD input with role, geometry and warnings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cardiolens.core.errors import ParameterError


def _parse_roles(pairs: list[str]) -> dict[str, str]:
    """``["UID=ROLE", ...]`` as a dict, validating each role name."""
    from cardiolens.core.study import SeriesRole

    overrides = {}
    for pair in pairs:
        uid, sep, role = pair.partition("=")
        if not sep or not uid.strip() or not role.strip():
            raise ParameterError(f"--role expects SERIES_UID=ROLE; got {pair!r}")
        overrides[uid.strip()] = SeriesRole.parse(role).value
    return overrides


def _print_tables(studies: list) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for study in studies:
        console.print(f"[bold]study[/bold] {study.study_uid}  date {study.study_date or '-'}")
        for series in study.series:
            s = series.summary()
            table = Table(title=f"{s['modality']} series {s['series_uid']}", show_header=False)
            table.add_column("field", style="bold")
            table.add_column("value")
            rows = {
                "role": f"{s['role']} (confidence {s['role_confidence']:.2f}, {s['role_source']})",
                "description": s["description"],
                "shape z, y, x": " x ".join(str(n) for n in s["shape"]),
                "spacing mm z, y, x": ", ".join(f"{v:g}" for v in s["spacing_mm"]),
                "gates / volumes": f"{s['n_gates']} / {s['n_volumes']}",
                "value range": f"{s['value_range'][0]:.6g} to {s['value_range'][1]:.6g} {s['units']}",
                "files": str(s["n_files"]),
            }
            for key, value in rows.items():
                table.add_row(key, value)
            for warning in s["warnings"]:
                table.add_row("[yellow]warning[/yellow]", warning)
            console.print(table)
        for warning in study.warnings:
            console.print(f"[yellow]warning[/yellow] {warning}")


def info(
    path: Annotated[Path, typer.Argument(help="DICOM file or folder, NIfTI or NRRD.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print a JSON list, one object per series.")
    ] = False,
    role: Annotated[
        list[str] | None,
        typer.Option("--role", help="Override a series' role: SERIES_UID=ROLE (repeatable)."),
    ] = None,
) -> None:
    """List the series of a study: modality, role, shape, spacing, gates, value range, warnings."""
    from cardiolens.io import load_studies

    studies = load_studies(path, role_overrides=_parse_roles(role or []))
    if not json_output:
        _print_tables(studies)
        return
    rows = [
        {**series.summary(), "study_uid": study.study_uid}
        for study in studies
        for series in study.series
    ]
    typer.echo(json.dumps(rows, indent=2))
    for study in studies:
        for warning in study.warnings:
            typer.echo(f"warning: {warning}", err=True)


def register(app: typer.Typer) -> None:
    app.command("info")(info)
