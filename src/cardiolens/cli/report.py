"""``cardiolens report amend``: record a physician's edits and overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

report_app = typer.Typer(help="Work with a written report.", no_args_is_help=True)


@report_app.command("amend")
def amend(
    folder: Annotated[Path, typer.Argument(help="Report folder (cardiolens analyze --out).")],
    user: Annotated[str, typer.Option("--user", help="Physician making the amendment.")],
    text: Annotated[str, typer.Option("--text", help="Physician's text for the report.")] = "",
    override: Annotated[
        list[str],
        typer.Option(
            "--override", help='Result rejected or changed, e.g. "rejected automated segmentation".'
        ),
    ] = [],  # noqa: B006 (typer needs a literal default)
    audit_db: Annotated[
        Path | None, typer.Option("--audit-db", help="Audit log (default: the one of the report).")
    ] = None,
) -> None:
    """Append an amendment (time, user, text, overrides); the automated findings are kept."""
    from cardiolens.pipeline import amend_report

    amended = amend_report(folder, text=text, user=user, overrides=override, audit_db=audit_db)
    count = len(amended["physician"]["amendments"])
    typer.echo(f"{folder / 'report.json'}: amendment {count} recorded")


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
