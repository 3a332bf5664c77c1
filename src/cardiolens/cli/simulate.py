"""``cardiolens simulate``: digital phantom studies with ground truth.

The group is created here; phantom modules add their commands (``spect``,
``pet``, ``ct``) through :func:`register` of their own CLI modules.
"""

from __future__ import annotations

import typer

simulate_app = typer.Typer(
    help="Simulate a phantom study (DICOM + ground_truth.json + NIfTI masks).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(simulate_app, name="simulate")
