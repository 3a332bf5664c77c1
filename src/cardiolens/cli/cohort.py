"""``cardiolens cohort``: every study of a folder on a Dask cluster, one results table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cardiolens.cli.analyze import CalciumPhantomOption, ModelOption, NormalsOption, QuietOption


def cohort(
    studies_dir: Annotated[Path, typer.Argument(help="Folder with one sub-folder per study.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (reports, results table).")],
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Address of a running Dask scheduler (tcp://host:8786)."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="LocalCluster worker processes.")
    ] = 2,
    memory_limit: Annotated[
        str, typer.Option("--memory-limit", help="Memory bound per LocalCluster worker.")
    ] = "3GiB",
    model: ModelOption = None,
    calcium_phantom: CalciumPhantomOption = False,
    normals: NormalsOption = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Analyse again the studies that failed before.")
    ] = False,
    user: Annotated[
        str | None, typer.Option("--user", help="User recorded in the audit logs.")
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Analyse every study on Dask; write results.parquet/.csv; list the failures."""
    from cardiolens.service.cohort import run_cohort

    result = run_cohort(
        studies_dir,
        out,
        scheduler=scheduler,
        workers=workers,
        memory_limit=memory_limit,
        retry_failed=retry_failed,
        progress=not quiet,
        model_dir=model,
        calcium_phantom=calcium_phantom,
        normals=normals,
        user=user,
    )
    typer.echo(
        f"{result.n_studies} studies ({result.n_analysed} analysed, {result.n_skipped} "
        f"already finished), {len(result.failures)} failed, {result.wall_s:.1f} s"
    )
    for failure in result.failures:
        typer.echo(f"failed: {failure['study']}: {failure['error']}")
    typer.echo(str(result.parquet_path))
    typer.echo(str(result.csv_path))


def register(app: typer.Typer) -> None:
    app.command("cohort")(cohort)
