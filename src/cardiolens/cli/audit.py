"""``cardiolens audit``: verify the tamper-evident audit log, print its head, make a key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

audit_app = typer.Typer(
    help="Audit log: verify its chain, print its head, make a key.", no_args_is_help=True
)


@audit_app.command("verify")
def verify_command(
    db: Annotated[Path, typer.Argument(help="SQLite audit log (for example OUT/audit.sqlite).")],
    head: Annotated[
        str | None,
        typer.Option("--head", help="SEQ:HASH kept outside the log (audit head, or a report's)."),
    ] = None,
) -> None:
    """Verify the chain; exit 0 saying what was proven, 2 naming the first bad entry."""
    from cardiolens.audit import verify
    from cardiolens.core.errors import AuditError

    result = verify(db, head=head)
    if not result.ok:
        raise AuditError(f"audit log does not verify: {result.message}", path=db)
    typer.echo(f"{db}: OK, {result.message}")


@audit_app.command("head")
def head_command(
    db: Annotated[Path, typer.Argument(help="SQLite audit log.")],
) -> None:
    """Print SEQ:HASH of the newest entry: keep it elsewhere and pass it to verify --head."""
    from cardiolens.audit import head

    seq, digest = head(db)
    typer.echo(f"{seq}:{digest}")


@audit_app.command("keygen")
def keygen_command(
    path: Annotated[
        Path | None,
        typer.Argument(help="Key file to create (default ~/.config/cardiolens/audit.key)."),
    ] = None,
) -> None:
    """Create a random 256-bit audit key file (owner-readable only); never overwrites."""
    from cardiolens.audit import write_key_file

    written = write_key_file(path)
    typer.echo(f"audit key written to {written}; keep it away from the audit database")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
