"""``cardiolens deidentify IN OUT``: DICOM PS3.15 basic confidentiality profile with a keyed UID map."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def deidentify(
    input_path: Annotated[Path, typer.Argument(help="DICOM file or folder.")],
    output_path: Annotated[Path, typer.Argument(help="Output folder (input structure kept).")],
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            envvar="CARDIOLENS_DEID_SECRET",
            help="Key for UIDs, pseudonyms and date offsets (or env CARDIOLENS_DEID_SECRET).",
        ),
    ] = None,
    shift_dates: Annotated[
        bool, typer.Option("--shift-dates", help="Shift dates per patient instead of removing.")
    ] = False,
    allow_burned_in: Annotated[
        bool,
        typer.Option("--allow-burned-in", help="Process files flagged BurnedInAnnotation YES."),
    ] = False,
    keep_private: Annotated[
        list[str] | None,
        typer.Option("--keep-private", help="Private tag to keep, GGGG,EEEE (repeatable)."),
    ] = None,
) -> None:
    """De-identify DICOM files; writes deidentification_log.csv into OUT."""
    from cardiolens.io.deidentify import deidentify as run

    report = run(
        input_path,
        output_path,
        secret=secret or "",
        shift_dates=shift_dates,
        allow_burned_in=allow_burned_in,
        keep_private=keep_private or (),
    )
    typer.echo(
        f"de-identified {len(report.files_written)} file(s) into {report.output_path}; "
        f"{report.n_changes} change(s) logged in {report.log_path}"
    )
    if report.skipped:
        typer.echo(f"{len(report.skipped)} non-DICOM file(s) not copied", err=True)


def register(app: typer.Typer) -> None:
    app.command("deidentify")(deidentify)
