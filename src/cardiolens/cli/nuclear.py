"""``cardiolens nuclear``: perfusion scores, gated function and quality flags of a SPECT/PET study."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _gate_axis_length(path: Path) -> int | None:
    """Length of the 4th axis of a NIfTI file (None when not 4D or not NIfTI)."""
    if not path.is_file() or not path.name.lower().endswith((".nii", ".nii.gz")):
        return None
    import nibabel as nib

    header = nib.load(str(path)).header
    dims = header["dim"]
    return int(dims[4]) if int(dims[0]) >= 4 else None


def _select_images(path: Path, state: str) -> dict[str, object]:
    """The stress and rest inputs of a study (the rule of :mod:`cardiolens.nuclear.series`).

    A folder holding several studies (a SPECT and a CT under two Study UIDs) is
    read whole and the study with the emission images analysed.
    """
    from cardiolens.io import load_studies
    from cardiolens.nuclear.series import nuclear_study, select_perfusion_inputs

    study = nuclear_study(load_studies(path))
    inputs = select_perfusion_inputs(study, state, include_other=True)
    one_gate = _gate_axis_length(path) == 1
    images: dict[str, object] = {}
    for name in ("stress", "rest"):
        series = getattr(inputs, name)
        if series is not None:
            images[name] = [series.volume] if one_gate else series
    return images


def nuclear(
    path: Annotated[
        Path,
        typer.Argument(help="DICOM study (file or folder), 3D NIfTI or 4D NIfTI (gates)."),
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    save_mask: Annotated[
        Path | None,
        typer.Option(
            "--save-mask", help="Write the LV myocardium mask (1) on the input grid (.nii.gz)."
        ),
    ] = None,
    normals: Annotated[
        Path | None,
        typer.Option("--normals", help="Normal database (.npz from 'cardiolens normals build')."),
    ] = None,
    state: Annotated[
        str,
        typer.Option(
            "--state", help="Role of an image without a stress/rest header: auto, stress or rest."
        ),
    ] = "auto",
    orientation: Annotated[
        str,
        typer.Option(
            "--orientation",
            help="auto (from the header), transaxial, or short-axis for a series the camera "
            "already reoriented (apex to base, anterior up, septum left).",
        ),
    ] = "auto",
    sex: Annotated[
        str | None,
        typer.Option(
            "--sex", help="Patient sex (female or male), recorded with the normal database."
        ),
    ] = None,
) -> None:
    """Quantify myocardial perfusion SPECT/PET: 17 segments, SSS/SRS/SDS, TPD, EF, quality."""
    import json

    from cardiolens.core.errors import naming_file
    from cardiolens.io import write_nifti
    from cardiolens.nuclear import NormalDatabase, analyze_perfusion

    database = None if normals is None else NormalDatabase.load(normals)
    with naming_file(path):
        images = _select_images(path, state)
        result = analyze_perfusion(
            stress=images.get("stress"),
            rest=images.get("rest"),
            normals=database,
            sex=sex,
            orientation=orientation,
        )
    if save_mask is not None:
        image_result = result.stress or result.rest
        write_nifti(image_result.myocardium_mask(), save_mask)
    if json_output:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    out = result.to_json()
    for name in ("stress", "rest"):
        if name not in out:
            continue
        part = out[name]
        typer.echo(
            f"{name}: summed score {part['summed_score']}, TPD {part['tpd_pct']}% "
            f"(LAD {part['territory_tpd_pct']['LAD']}%, LCx {part['territory_tpd_pct']['LCx']}%, "
            f"RCA {part['territory_tpd_pct']['RCA']}%)"
        )
        if part["function"] is not None:
            f = part["function"]
            typer.echo(f"  EDV {f['edv_ml']} mL, ESV {f['esv_ml']} mL, LVEF {f['lvef_pct']}%")
        for flag in part["quality_flags"]:
            typer.echo(f"  quality: {flag['message']}")
    if "sds" in out:
        typer.echo(f"SDS {out['sds']}, ischemic TPD {out['ischemic_tpd_pct']}%, TID {out['tid']}")
    for name, choice in out["normal_database"].items():
        if choice is not None:
            typer.echo(f"{name} normal database: {choice['key']} ({choice['n_studies']} studies)")


def register(app: typer.Typer) -> None:
    app.command("nuclear")(nuclear)
