"""``cardiolens analyze``: a study folder in, an audited report out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# options shared by the commands that run the pipeline (analyze, cohort)
ModelOption = Annotated[
    Path | None, typer.Option("--model", help="Risk model folder (cardiolens risk train).")
]
CalciumPhantomOption = Annotated[
    bool, typer.Option("--calcium-phantom", help="Score CT in calcium-phantom (QA) mode.")
]
NormalsOption = Annotated[
    Path | None, typer.Option("--normals", help="Perfusion normal database (.npz).")
]
QuietOption = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


def _read_clinical(path: Path | None) -> dict | None:
    import json

    from cardiolens.core.errors import InputError

    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:  # JSONDecodeError is a ValueError
        raise InputError(
            f"cannot read the clinical variables as JSON ({str(error)[:160]})", path=path
        ) from None
    if not isinstance(data, dict):
        raise InputError("the clinical file must hold one JSON object {name: value}", path=path)
    for name, value in data.items():
        if value is not None and not isinstance(value, str | int | float):
            raise InputError(
                f"clinical variable {name!r} must be a number, text or null; got "
                f"{type(value).__name__}",
                path=path,
            )
    return data


def _parse_roles(roles: list[str]) -> dict[str, str]:
    from cardiolens.core.errors import ParameterError

    overrides = {}
    for item in roles:
        uid, sep, role = item.partition("=")
        if not sep or not uid or not role:
            raise ParameterError(f"--role expects SERIES_UID=ROLE; got {item!r}")
        overrides[uid] = role
    return overrides


def analyze(
    path: Annotated[Path, typer.Argument(help="DICOM file or folder (or NIfTI) of the study.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for the report.")],
    clinical: Annotated[
        Path | None, typer.Option("--clinical", help="JSON object of clinical variables.")
    ] = None,
    model: ModelOption = None,
    audit_db: Annotated[
        Path | None, typer.Option("--audit-db", help="Audit log (default OUT/audit.sqlite).")
    ] = None,
    role: Annotated[
        list[str], typer.Option("--role", help="Override a series role: SERIES_UID=ROLE.")
    ] = [],  # noqa: B006 (typer needs a literal default)
    calcium_phantom: CalciumPhantomOption = False,
    normals: NormalsOption = None,
    user: Annotated[
        str | None, typer.Option("--user", help="User recorded in the audit log.")
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Run every applicable stage and write report.json, report.html, SR and SEG."""
    from cardiolens.audit import find_key
    from cardiolens.pipeline import analyze_study

    find_key(required=True)  # no audit key: say so before the analysis, not after it

    report = analyze_study(
        path,
        out,
        clinical=_read_clinical(clinical),
        model_dir=model,
        audit_db=audit_db,
        role_overrides=_parse_roles(role),
        calcium_phantom=calcium_phantom,
        normals=normals,
        user=user,
        progress=not quiet,
    )
    typer.echo(str(report.html_path))


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
