"""``cardiolens report amend|sign``: a physician's typed changes, addenda and sign-off."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

report_app = typer.Typer(
    help="Work with a written report: amend (recomputed), sign, add addenda.",
    no_args_is_help=True,
)

_Folder = Annotated[Path, typer.Argument(help="Report folder (cardiolens analyze --out).")]
_AuditDb = Annotated[
    Path | None,
    typer.Option("--audit-db", help="Audit log (default: the report's own, in its folder)."),
]


@report_app.command("amend")
def amend(
    folder: _Folder,
    user: Annotated[str, typer.Option("--user", help="Physician making the amendment.")],
    text: Annotated[str, typer.Option("--text", help="Physician's text for the report.")] = "",
    segment_score: Annotated[
        list[str],
        typer.Option(
            "--segment-score",
            help="STATE:SEGMENT=SCORE, e.g. stress:7=2 (AHA segment 1-17, score 0-4); "
            "SSS/SRS/SDS and the narrative are recomputed.",
        ),
    ] = [],  # noqa: B006 (typer needs a literal default)
    exclude_lesion: Annotated[
        list[int],
        typer.Option(
            "--exclude-lesion",
            help="Calcium lesion number (as in the report) left out of the score.",
        ),
    ] = [],  # noqa: B006
    lesion_artery: Annotated[
        list[str],
        typer.Option(
            "--lesion-artery", help="LESION=ARTERY, e.g. 3=LCx: reassign a calcium lesion."
        ),
    ] = [],  # noqa: B006
    impression: Annotated[
        str | None, typer.Option("--impression", help="The physician's impression.")
    ] = None,
    override: Annotated[
        list[str],
        typer.Option(
            "--override", help='A remark recorded as is, e.g. "rejected automated segmentation".'
        ),
    ] = [],  # noqa: B006
    addendum: Annotated[
        bool, typer.Option("--addendum", help="The report is signed final: add an addendum.")
    ] = False,
    audit_db: _AuditDb = None,
) -> None:
    """Amend a report: typed changes are recomputed, a new SR supersedes the old (kept)."""
    from cardiolens.pipeline import amend_report
    from cardiolens.report.changes import (
        Impression,
        LesionExclusion,
        parse_lesion_artery,
        parse_segment_score,
    )
    from cardiolens.report.narrative import mesa_statement

    changes = [
        *map(parse_segment_score, segment_score),
        *map(LesionExclusion, exclude_lesion),
        *map(parse_lesion_artery, lesion_artery),
        *([Impression(impression)] if impression is not None else []),
    ]
    amended = amend_report(
        folder,
        text=text,
        user=user,
        changes=changes,
        overrides=override,
        addendum=addendum,
        audit_db=audit_db,
    )
    entry = amended["physician"]["amendments"][-1]
    count = len(amended["physician"]["amendments"])
    typer.echo(f"{folder / 'report.json'}: {entry['kind']} {count} recorded")
    for change in entry["changes"]:
        typer.echo(f"  {change['target']}: {change['before']} -> {change['after']}")
    for name, state in (amended.get("nuclear") or {}).items():
        if isinstance(state, dict) and "summed_score" in state:
            typer.echo(f"  {name} summed score {state['summed_score']}")
    if (amended.get("nuclear") or {}).get("sds") is not None:
        typer.echo(f"  SDS {amended['nuclear']['sds']}")
    if amended.get("calcium"):
        calcium = amended["calcium"]
        typer.echo(f"  Agatston {calcium['agatston']:.1f}, {calcium['cac_drs']['label']}")
        mesa = mesa_statement(calcium)
        if mesa:
            typer.echo(f"  {mesa}")
    if entry.get("sr"):
        typer.echo(f"  new DICOM SR {folder / entry['sr']}")


@report_app.command("sign")
def sign(
    folder: _Folder,
    reader: Annotated[str, typer.Option("--reader", help="Reading physician.")],
    status: Annotated[
        str, typer.Option("--status", help="preliminary or final (final locks the report).")
    ] = "final",
    organization: Annotated[
        str | None,
        typer.Option("--organization", help="Reader's organisation (SR verifying organisation)."),
    ] = None,
    audit_db: _AuditDb = None,
) -> None:
    """Sign a report; a final report is locked and later changes are addenda."""
    from cardiolens.pipeline import sign_report

    signed = sign_report(
        folder, reader=reader, status=status, organization=organization, audit_db=audit_db
    )
    signoff = signed["physician"]["signoff"]
    typer.echo(
        f"{folder / 'report.json'}: signed {signoff['status']} by {signoff['reader']} "
        f"at {signoff['time_utc']}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
