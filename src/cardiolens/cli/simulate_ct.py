"""``cardiolens simulate ct``: a calcium-scoring CT phantom with ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def simulate_ct_command(
    out: Annotated[
        Path, typer.Option("--out", help="Output folder (dicom/, ground_truth.json, NIfTI masks).")
    ],
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same pixels).")] = 0,
    lesion: Annotated[
        list[str] | None,
        typer.Option(
            "--lesion",
            help="ARTERY:volume=MM3:density=MG_CM3[:position=0-1]; repeat; random if absent.",
        ),
    ] = None,
    slice_thickness: Annotated[
        float, typer.Option("--slice-thickness", help="Slice thickness (mm).")
    ] = 3.0,
    slice_increment: Annotated[
        float | None,
        typer.Option("--slice-increment", help="Slice spacing (mm); below the thickness overlaps."),
    ] = None,
    noise: Annotated[
        float, typer.Option("--noise", help="Image noise standard deviation at full dose (HU).")
    ] = 20.0,
    dose_fraction: Annotated[
        float, typer.Option("--dose-fraction", help="Dose relative to full (noise / sqrt(dose)).")
    ] = 1.0,
    slices: Annotated[int, typer.Option("--slices", help="Number of slices.")] = 60,
    pixel: Annotated[
        float, typer.Option("--pixel", help="Pixel size (mm) of the 512 x 512 matrix.")
    ] = 0.7,
    kvp: Annotated[float, typer.Option("--kvp", help="Tube voltage (kV).")] = 120.0,
    eat_ml: Annotated[float, typer.Option("--eat-ml", help="Epicardial fat volume (mL).")] = 150.0,
    distractors: Annotated[
        bool,
        typer.Option("--distractors/--no-distractors", help="Aortic wall and valve calcification."),
    ] = True,
) -> None:
    """Simulate a non-contrast calcium-scoring CT (DICOM) with its ground truth."""
    from cardiolens.phantom.ct_lesions import parse_lesion_spec
    from cardiolens.phantom.ct_simulate import simulate_ct_study

    specs = [parse_lesion_spec(text) for text in lesion] if lesion else "random"
    folder = simulate_ct_study(
        out,
        seed=seed,
        matrix=(slices, 512, 512),
        pixel_mm=pixel,
        slice_thickness_mm=slice_thickness,
        slice_increment_mm=slice_increment,
        kvp=kvp,
        noise_hu=noise,
        dose_fraction=dose_fraction,
        lesions=specs,
        eat_ml=eat_ml,
        distractors=distractors,
    )
    typer.echo(f"CT phantom written to {folder}")


def register(app: typer.Typer) -> None:
    from cardiolens.cli.simulate import simulate_app

    simulate_app.command("ct")(simulate_ct_command)
