"""The ``cardiolens`` command line: a thin layer over the Python API.

Each module of this package defines one command group and a ``register(app)``
function; they are discovered here so that stages add commands without editing
a central list. Modules import heavy libraries inside their commands so that
``cardiolens --version`` stays fast.

Deliberate errors (:class:`~cardiolens.core.errors.CardiolensError`) become one
line on stderr naming the file and the problem, with exit code 2.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import typer

from cardiolens import __version__
from cardiolens.core.errors import CardiolensError

app = typer.Typer(
    name="cardiolens",
    help="Cardiac imaging from DICOM study to explained, audited report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cardiolens {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
) -> None:
    """cardiolens: open, transparent cardiac imaging analysis."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_module}").register(app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point; turns CardiolensError into a one-line message and exit code 2."""
    try:
        app(args=argv)
    except CardiolensError as error:
        typer.echo(f"cardiolens: error: {error}", err=True)
        sys.exit(2)
