"""``cardiolens simulate spect`` and ``cardiolens simulate pet``: nuclear phantom studies.

Thin layer over :func:`cardiolens.phantom.simulate_spect_study` and
:func:`cardiolens.phantom.simulate_pet_dynamic`; heavy imports stay inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cardiolens.cli.simulate import simulate_app


def spect(
    out: Annotated[
        Path, typer.Option("--out", help="Output folder (DICOM NM, masks, ground_truth.json).")
    ],
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same pixels.")] = 0,
    defect: Annotated[
        list[str] | None,
        typer.Option(
            "--defect",
            help="LOCATION:extent=PCT:severity=PCT[:type=reversible|fixed|mixed][:rest=PCT][:subendocardial]; "
            "LOCATION is LAD, LCx, RCA, S7+13 (AHA segments) or balanced. Repeatable.",
        ),
    ] = None,
    wall_motion: Annotated[
        list[str] | None,
        typer.Option(
            "--wall-motion",
            help="LOCATION[:amplitude=0.3][:delay=60]: regional hypokinesis (radial motion relative "
            "to normal) and phase delay (degrees of the cycle). Repeatable.",
        ),
    ] = None,
    lvef: Annotated[float, typer.Option("--lvef", help="LV ejection fraction (%).")] = 60.0,
    edv: Annotated[float, typer.Option("--edv", help="End-diastolic volume (mL).")] = 120.0,
    counts: Annotated[
        float,
        typer.Option("--counts", help="Total projection counts per acquisition (8e6 full dose)."),
    ] = 8e6,
    gates: Annotated[int, typer.Option("--gates", help="Number of gates: 8 or 16.")] = 8,
    rest: Annotated[
        bool, typer.Option("--rest/--no-rest", help="Also simulate the rest acquisition.")
    ] = True,
    method: Annotated[
        str, typer.Option("--method", help="osem (projection + OSEM) or image_space (fast).")
    ] = "osem",
    attenuation_correction: Annotated[
        bool, typer.Option("--ac/--no-ac", help="Attenuation-corrected OSEM.")
    ] = True,
    extracardiac: Annotated[
        float, typer.Option("--extracardiac", help="Scale of liver/gut activity.")
    ] = 1.0,
    random_anatomy: Annotated[
        bool, typer.Option("--random-anatomy", help="Draw LV pose and size from the seed.")
    ] = False,
) -> None:
    """Simulate a gated stress/rest myocardial perfusion SPECT study with ground truth."""
    from cardiolens.phantom.motion import parse_wall_motion
    from cardiolens.phantom.perfusion import parse_defect_specs
    from cardiolens.phantom.spect import simulate_spect_study

    folder = simulate_spect_study(
        out,
        seed=seed,
        defects=parse_defect_specs(defect or []),
        wall_motion=[parse_wall_motion(text) for text in wall_motion or []],
        lvef_pct=lvef,
        edv_ml=edv,
        counts=counts,
        n_gates=gates,
        include_rest=rest,
        method=method,
        attenuation_correction=attenuation_correction,
        extracardiac=extracardiac,
        randomize_anatomy=random_anatomy,
        progress=True,
    )
    typer.echo(f"SPECT phantom study written to {folder}")


def pet(
    out: Annotated[
        Path, typer.Option("--out", help="Output folder (tacs.csv, ground_truth.json).")
    ],
    mbf: Annotated[float, typer.Option("--mbf", help="Myocardial blood flow (mL/min/g).")] = 1.0,
    tracer: Annotated[str, typer.Option("--tracer", help="rb82 or nh3.")] = "rb82",
    seed: Annotated[int, typer.Option("--seed", help="Noise seed.")] = 0,
    noise: Annotated[
        float, typer.Option("--noise", help="Noise CV of a 10-s frame at the myocardial peak.")
    ] = 0.0,
    v_lv: Annotated[float, typer.Option("--v-lv", help="LV blood spillover fraction.")] = 0.25,
    v_rv: Annotated[float, typer.Option("--v-rv", help="RV blood spillover fraction.")] = 0.05,
) -> None:
    """Simulate dynamic perfusion PET time-activity curves with known MBF."""
    import json

    from cardiolens.phantom.pet import simulate_pet_dynamic

    curves = simulate_pet_dynamic(
        mbf_ml_min_g=mbf, tracer=tracer, seed=seed, noise_cv=noise, v_lv=v_lv, v_rv=v_rv
    )
    out.mkdir(parents=True, exist_ok=True)
    rows = [
        "frame_start_s,frame_duration_s,blood_lv_kbq_ml,blood_rv_kbq_ml,myocardium_kbq_ml,tissue_true_kbq_ml"
    ]
    for values in zip(
        curves.frame_start_s, curves.frame_durations_s, curves.blood_lv, curves.blood_rv, curves.myocardium,
        curves.tissue, strict=True,
    ):  # fmt: skip
        rows.append(",".join(f"{v:.6g}" for v in values))
    (out / "tacs.csv").write_text("\n".join(rows) + "\n")
    (out / "ground_truth.json").write_text(json.dumps(curves.ground_truth(), indent=2))
    typer.echo(f"PET time-activity curves written to {out}")


def register(app: typer.Typer) -> None:
    """Add ``spect`` and ``pet`` to the ``cardiolens simulate`` group."""
    simulate_app.command("spect")(spect)
    simulate_app.command("pet")(pet)
