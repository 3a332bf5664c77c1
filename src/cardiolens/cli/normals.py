"""``cardiolens normals``: build normal databases for nuclear perfusion scoring."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

normals_app = typer.Typer(
    help="Normal databases (mean and SD per polar-map sample) for perfusion scoring.",
    no_args_is_help=True,
)

_IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".dcm")


def _study_paths(source: Path) -> list[Path]:
    """Studies listed in a text file (one path per line) or held in a folder (one per entry)."""
    from cardiolens.core.errors import InputError

    if source.is_file():
        lines = [line.strip() for line in source.read_text().splitlines()]
        paths = [
            (source.parent / line) if not Path(line).is_absolute() else Path(line)
            for line in lines
            if line and not line.startswith("#")
        ]
    elif source.is_dir():
        paths = sorted(
            p for p in source.iterdir() if p.is_dir() or p.name.lower().endswith(_IMAGE_SUFFIXES)
        )
    else:
        raise InputError("no such list file or folder", source)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InputError(f"listed studies not found: {', '.join(missing)}", source)
    if not paths:
        raise InputError(
            "no studies found (a list file or a folder of NIfTI/DICOM studies)", source
        )
    return paths


@normals_app.command("build")
def build(
    source: Annotated[
        Path, typer.Argument(help="Text file listing normal studies, or a folder of them.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Database file to write (.npz; a .json sidecar is added).")
    ],
    sex: Annotated[str, typer.Option("--sex", help="Population sex: female, male or any.")],
    camera: Annotated[
        str, typer.Option("--camera", help="Camera/reconstruction the limits apply to.")
    ],
    tracer: Annotated[str, typer.Option("--tracer", help="Tracer, e.g. 'Tc-99m sestamibi'.")],
    protocol: Annotated[str, typer.Option("--protocol", help="Protocol, e.g. stress or rest.")],
) -> None:
    """Build a normal database from normal (low-likelihood) studies."""
    from cardiolens.io import load_study
    from cardiolens.nuclear import build_normal_database
    from cardiolens.nuclear.analysis import prepare_polar_map

    paths = _study_paths(source)
    maps = []
    for path in paths:
        series = load_study(path).series[0]
        maps.append(prepare_polar_map(series))
    database = build_normal_database(
        maps,
        sex=sex,
        camera=camera,
        tracer=tracer,
        protocol=protocol,
        provenance={"studies": [str(p) for p in paths], "command": "cardiolens normals build"},
    )
    written = database.save(out)
    typer.echo(f"normal database of {database.n_studies} studies written to {written}")


@normals_app.command("simulate")
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Database file to write (.npz).")],
    n: Annotated[int, typer.Option("--n", help="Number of simulated normal studies.")] = 30,
    seed: Annotated[int, typer.Option("--seed", help="Population seed.")] = 1000,
    method: Annotated[
        str, typer.Option("--method", help="Phantom method: image_space or osem.")
    ] = "image_space",
) -> None:
    """Build the default database from simulated normal phantoms (see nuclear/data/README.md)."""
    from cardiolens.nuclear.normals import simulate_normal_database

    database = simulate_normal_database(n_studies=n, seed=seed, method=method, progress=True)
    written = database.save(out)
    typer.echo(f"simulated normal database of {database.n_studies} studies written to {written}")


@normals_app.command("build-default")
def build_default(
    cache: Annotated[
        Path,
        typer.Option("--cache", help="Folder of simulated normals (resumable; shared by workers)."),
    ],
    database: Annotated[
        list[str] | None,
        typer.Option("--database", help="Database key (default: all), e.g. anger_lehr_ac."),
    ] = None,
    n: Annotated[int, typer.Option("--n", help="Normals per database.")] = 30,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir", help="Write normals_<key>.npz/.json here once all are simulated."
        ),
    ] = None,
) -> None:
    """Simulate (projection + OSEM) the normals of the shipped databases and build them.

    Safe to run in several processes at once and to interrupt: cached normals are kept.
    """
    from cardiolens.nuclear.normal_build import (
        RECIPES,
        build_recipe_database,
        recipe,
        simulate_recipes,
    )

    items = [recipe(key) for key in database] if database else list(RECIPES)
    simulate_recipes(items, cache, n, progress=True)
    if out_dir is None:
        return
    for item in items:
        written = build_recipe_database(item, cache, n).save(out_dir / f"normals_{item.key}.npz")
        typer.echo(f"{item.key}: written to {written}")


def register(app: typer.Typer) -> None:
    app.add_typer(normals_app, name="normals")
