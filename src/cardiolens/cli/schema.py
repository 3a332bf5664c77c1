"""``cardiolens schema``: print the JSON Schemas of cardiolens outputs."""

from __future__ import annotations

import typer

schema_app = typer.Typer(help="Print the JSON Schema of an output file.", no_args_is_help=True)


@schema_app.command("report")
def report_schema() -> None:
    """Print the JSON Schema (draft 2020-12) of report.json."""
    import json

    from cardiolens.report.schema import load_schema

    typer.echo(json.dumps(load_schema(), indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(schema_app, name="schema")
