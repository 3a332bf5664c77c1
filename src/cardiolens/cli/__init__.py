"""The ``cardiolens`` command line: a thin layer over the Python API.

Each module of this package defines one command group and a ``register(app)``
function; they are discovered here so that stages add commands without editing
a central list. Modules import heavy libraries inside their commands so that
``cardiolens --version`` stays fast.

Deliberate errors (:class:`~cardiolens.core.errors.CardiolensError`) and usage
errors become one line on stderr naming the file or option and the problem, with
exit code 2. Ctrl-C is one line, ``cardiolens: interrupted``, with exit code 130
(128 + SIGINT); the report of an interrupted analysis is staged in a hidden folder
that is removed, so none is left behind (:func:`cardiolens.pipeline.analyze_study`).
``-h`` is accepted as ``--help``; help tables keep their full width when the output
is not a terminal.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import sys

import typer
from typer import rich_utils
from typer._click import exceptions as usage  # the click typer 0.29 vendors

from cardiolens import __version__
from cardiolens.__main__ import INTERRUPTED_EXIT_CODE
from cardiolens.core.errors import CardiolensError

#: Width of the help tables when not writing to a terminal (pipes, logs, CI), where
#: rich would otherwise cut them at 80 columns; a terminal's own width is used as is
#: (``COLUMNS`` or ``TERMINAL_WIDTH`` override both).
HELP_WIDTH_NOT_A_TERMINAL = 160


def _help_width() -> int | None:
    if os.environ.get("TERMINAL_WIDTH") or os.environ.get("COLUMNS") or sys.stdout.isatty():
        return int(os.environ["TERMINAL_WIDTH"]) if os.environ.get("TERMINAL_WIDTH") else None
    return HELP_WIDTH_NOT_A_TERMINAL


app = typer.Typer(
    name="cardiolens",
    help="Cardiac imaging from DICOM study to explained, audited report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
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
    """Console entry point; errors become one line on stderr and exit code 2.

    A :class:`CardiolensError` and a usage error (unknown option, missing argument,
    bad value) are printed alike: ``cardiolens: error: <problem>``, the latter with
    the command whose ``--help`` explains it.
    """
    rich_utils.MAX_WIDTH = _help_width()
    try:
        # typer turns Ctrl-C during a command into exit code 130 (its Exit(130))
        code = app(args=argv, standalone_mode=False, prog_name="cardiolens")
    except usage.NoArgsIsHelpError as error:
        typer.echo(error.ctx.get_help() if error.ctx else str(error))
        code = 0
    except usage.UsageError as error:
        command = error.ctx.command_path if error.ctx else "cardiolens"
        typer.echo(
            f"cardiolens: error: {error.format_message().rstrip('.')} (see '{command} --help')",
            err=True,
        )
        code = 2
    except CardiolensError as error:
        typer.echo(f"cardiolens: error: {error}", err=True)
        code = 2
    except typer.Abort:
        typer.echo("cardiolens: aborted", err=True)
        code = 1
    except KeyboardInterrupt:  # outside the command itself (option parsing, cleanup)
        code = INTERRUPTED_EXIT_CODE
    if code == INTERRUPTED_EXIT_CODE:
        typer.echo("cardiolens: interrupted", err=True)
    sys.exit(code if isinstance(code, int) else 0)
