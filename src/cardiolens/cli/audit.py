"""``cardiolens audit``: check the tamper-evident audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

audit_app = typer.Typer(help="Audit log: verify its hash chain.", no_args_is_help=True)


@audit_app.command("verify")
def verify_command(
    db: Annotated[Path, typer.Argument(help="SQLite audit log (for example OUT/audit.sqlite).")],
) -> None:
    """Verify the hash chain; exit 0 when intact, 2 naming the first bad entry otherwise."""
    from cardiolens.audit import verify
    from cardiolens.core.errors import AuditError

    result = verify(db)
    if not result.ok:
        raise AuditError(f"audit log does not verify: {result.message}", path=db)
    typer.echo(f"{db}: OK, {result.message}")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
