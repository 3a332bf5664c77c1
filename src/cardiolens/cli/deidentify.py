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
        typer.Option(
            "--allow-burned-in",
            help="Process images whose pixels may show PHI (BurnedInAnnotation or "
            "RecognizableVisualFeatures YES, screen captures, scans); they are listed.",
        ),
    ] = False,
    private: Annotated[
        str,
        typer.Option(
            "--private",
            help="remove: every private attribute (default); retain-safe: keep those of "
            "PS3.15 Table E.3.10-1.",
        ),
    ] = "remove",
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
        private=private,
    )
    typer.echo(
        f"de-identified {len(report.files_written)} file(s) into {report.output_path}; "
        f"{report.n_changes} change(s) logged in {report.log_path}"
    )
    if report.skipped:
        typer.echo(f"{len(report.skipped)} non-DICOM file(s) not copied", err=True)
    for path, reason in report.pixel_phi.items():
        typer.echo(f"pixels not cleaned, check them: {path}: {reason}", err=True)


def register(app: typer.Typer) -> None:
    app.command("deidentify")(deidentify)
