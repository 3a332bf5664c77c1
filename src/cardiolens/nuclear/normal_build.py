"""The shipped normal databases: projected, OSEM-reconstructed normal phantoms per protocol.

Each :class:`DatabaseRecipe` names a camera set-up of the phantom
(:data:`cardiolens.phantom.spect_physics.ACQUISITION_PRESETS`), with or without
attenuation correction, and a population seed. Study ``i`` of a recipe is a
normal (no defect) gated stress study with random anatomy (pose, size, wall
thickness, organ positions), alternately female (breasts over the anterior
chest, smaller body and heart) and male, random counts, ejection fraction and
extracardiac activity (:func:`draw_normal`). Its summed stress reconstruction
is cached as one ``.npz`` file; the database is then built from the cached
images, analysed exactly as a patient's (:func:`prepare_polar_map`).

The build is resumable and parallel-safe: a case already cached is skipped, a
case being simulated by another process is marked by an exclusive lock file, and
files are written under a temporary name then renamed. ``cardiolens normals
build-default`` runs it (see ``nuclear/data/README.md``).

Seeds: the populations use seeds 20000-23999, kept apart from the validation
sweeps (:func:`cardiolens.nuclear.validation.osem_cases`: 5000-5999; the
unseen-seed check: 9000-9999; the image-space benchmark: 100-199).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cardiolens.core.errors import AnalysisError, ParameterError
from cardiolens.core.volume import Volume
from cardiolens.nuclear.normals import NormalDatabase, build_normal_database

__all__ = [
    "DatabaseRecipe",
    "RECIPES",
    "recipe",
    "draw_normal",
    "simulate_normal_case",
    "build_recipe_database",
    "simulate_recipes",
]

logger = logging.getLogger(__name__)

TRACER_TC99M = "Tc-99m sestamibi"


@dataclass(frozen=True)
class DatabaseRecipe:
    """How one shipped database is simulated.

    ``key`` is the database file stem (``normals_<key>.npz``); ``preset`` the
    phantom camera (``anger_lehr`` or ``czt_hr``); ``camera`` the text stored in
    the database; ``seed`` the first seed of the population.
    """

    key: str
    preset: str
    attenuation_correction: bool
    camera: str
    tracer: str
    seed: int

    @property
    def camera_kind(self) -> str:
        """``anger`` or ``czt``."""
        return "czt" if self.preset.startswith("czt") else "anger"


RECIPES: tuple[DatabaseRecipe, ...] = (
    DatabaseRecipe(
        "anger_lehr_ac",
        "anger_lehr",
        True,
        "Anger dual-head LEHR, 180 deg, OSEM 4x8 + 6 mm Gaussian, attenuation-corrected",
        TRACER_TC99M,
        20000,
    ),
    DatabaseRecipe(
        "anger_lehr_nac",
        "anger_lehr",
        False,
        "Anger dual-head LEHR, 180 deg, OSEM 4x8 + 6 mm Gaussian, no attenuation correction",
        TRACER_TC99M,
        21000,
    ),
    DatabaseRecipe(
        "czt_hr_ac",
        "czt_hr",
        True,
        "CZT-like high resolution (2.5 mm intrinsic, UHR parallel-hole approximation), "
        "OSEM 6x8 + 5 mm Gaussian, attenuation-corrected",
        TRACER_TC99M,
        22000,
    ),
    DatabaseRecipe(
        "czt_hr_nac",
        "czt_hr",
        False,
        "CZT-like high resolution (2.5 mm intrinsic, UHR parallel-hole approximation), "
        "OSEM 6x8 + 5 mm Gaussian, no attenuation correction",
        TRACER_TC99M,
        23000,
    ),
)


def recipe(key: str) -> DatabaseRecipe:
    """The recipe called ``key``."""
    for item in RECIPES:
        if item.key == key:
            return item
    raise ParameterError(
        f"unknown normal database {key!r}; expected one of {', '.join(r.key for r in RECIPES)}"
    )


def draw_normal(item: DatabaseRecipe, index: int) -> dict[str, Any]:
    """Parameters of normal ``index`` of a recipe (drawn from its seed + index).

    Even indices are female (EDV 65-130 mL), odd male (EDV 90-175 mL); LVEF
    55-75 %, 4-12 million counts, extracardiac activity x0.5-2.
    """
    seed = item.seed + index
    rng = np.random.default_rng([seed, 7])
    sex = "female" if index % 2 == 0 else "male"
    low, high = (65.0, 130.0) if sex == "female" else (90.0, 175.0)
    return {
        "seed": seed,
        "sex": sex,
        "edv_ml": round(float(rng.uniform(low, high)), 1),
        "lvef_pct": round(float(rng.uniform(55, 75)), 1),
        "counts": round(float(rng.uniform(4e6, 12e6)), -3),
        "extracardiac": round(float(rng.uniform(0.5, 2.0)), 2),
    }


def _case_path(cache_dir: Path, item: DatabaseRecipe, index: int) -> Path:
    return cache_dir / item.key / f"normal_{item.seed + index}.npz"


def _lock_alive(lock: Path) -> bool:
    """True while the process whose id the lock file holds still runs (on this machine)."""
    try:
        os.kill(int(lock.read_text() or "0"), 0)
    except (ValueError, ProcessLookupError, FileNotFoundError):
        return False
    except PermissionError:
        return True
    return True


def simulate_normal_case(item: DatabaseRecipe, index: int, cache_dir: str | Path) -> Path | None:
    """Simulate normal ``index`` of ``item`` into the cache; the path, or None if another process has it.

    An existing file is kept (resumable). The summed stress image, its grid and
    the drawn parameters are stored.
    """
    from cardiolens.phantom.spect import simulate_spect
    from cardiolens.phantom.spect_physics import ACQUISITION_PRESETS

    path = _case_path(Path(cache_dir), item, index)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_suffix(".lock")
    if lock.exists() and not _lock_alive(lock):
        lock.unlink(missing_ok=True)  # left by a process that was killed
    try:
        descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return None
    try:
        os.write(descriptor, str(os.getpid()).encode())
        draw = draw_normal(item, index)
        phantom = simulate_spect(
            **draw,
            method="osem",
            attenuation_correction=item.attenuation_correction,
            protocol=ACQUISITION_PRESETS[item.preset],
            randomize_anatomy=True,
            include_rest=False,
        )
        summed = phantom.stress.summed
        temporary = path.with_name(path.stem + ".partial.npz")
        np.savez_compressed(
            temporary,
            image=summed.array.astype(np.float32),
            spacing_mm=np.asarray(summed.spacing_mm),
            origin_mm=np.asarray(summed.origin_mm),
            parameters=json.dumps(draw),
        )
        os.replace(temporary, path)
    finally:
        os.close(descriptor)
        lock.unlink(missing_ok=True)
    return path


def _load_case(path: Path) -> tuple[Volume, dict[str, Any]]:
    with np.load(path) as data:
        volume = Volume(
            np.asarray(data["image"]),
            spacing_mm=tuple(float(v) for v in data["spacing_mm"]),
            origin_mm=tuple(float(v) for v in data["origin_mm"]),
            modality="NM",
        )
        return volume, json.loads(str(data["parameters"]))


def build_recipe_database(
    item: DatabaseRecipe, cache_dir: str | Path, n_studies: int, *, sex: str = "any"
) -> NormalDatabase:
    """The database of ``item`` from its first ``n_studies`` cached normals (``sex``: any, female, male)."""
    from cardiolens.nuclear.analysis import prepare_polar_map

    maps, records, missing = [], [], []
    for index in range(n_studies):
        path = _case_path(Path(cache_dir), item, index)
        if not path.exists():
            missing.append(item.seed + index)
            continue
        volume, draw = _load_case(path)
        if sex != "any" and draw["sex"] != sex:
            continue
        try:
            maps.append(prepare_polar_map(volume))
        except AnalysisError as error:
            logger.warning("normal %s left out: %s", draw["seed"], error)
            draw = {**draw, "left_out": str(error)}
        records.append(draw)
    if missing:
        raise ParameterError(
            f"{item.key}: {len(missing)} of {n_studies} normals are not simulated yet "
            f"(seeds {missing[0]}...{missing[-1]}); run 'cardiolens normals build-default' again"
        )
    return build_normal_database(
        maps,
        sex=sex,
        camera=item.camera,
        tracer=item.tracer,
        protocol="stress or rest",
        provenance={
            "database_key": item.key,
            "source": "cardiolens.phantom.simulate_spect, method osem (projection with attenuation "
            "and collimator response, Poisson noise, OSEM), randomised normal anatomy, no defect",
            "acquisition_preset": item.preset,
            "camera_kind": item.camera_kind,
            "attenuation_corrected": item.attenuation_correction,
            "population_seed": item.seed,
            "command": f"cardiolens normals build-default --database {item.key} --n {n_studies}",
            "studies": records,
        },
    )


def simulate_recipes(
    items: Iterable[DatabaseRecipe], cache_dir: str | Path, n_studies: int, progress: bool = False
) -> int:
    """Simulate every missing normal of ``items`` (skipping those another process holds); number done."""
    work = [(item, i) for item in items for i in range(n_studies)]
    if progress:
        from tqdm import tqdm

        work = tqdm(work, desc="normal phantoms (projection + OSEM)")
    done = 0
    for item, index in work:
        done += simulate_normal_case(item, index, cache_dir) is not None
    return done
