"""Normal databases: mean and SD of normalised uptake per polar-map sample.

As in the reference tools (QPS, Emory Cardiac Toolbox, 4DM; Slomka PJ et al.,
J Nucl Cardiol 2005;12:66-77), abnormality is judged against pixel-wise normal
limits built from normal (low-likelihood) studies of the same sex, camera,
tracer and protocol. A database is saved as ``DB.npz`` (arrays) with a
``DB.json`` sidecar holding its provenance.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cardiolens import __version__
from cardiolens.core.errors import AnalysisError, InputError, ParameterError
from cardiolens.nuclear.polar import PolarMap
from cardiolens.nuclear.segment import RayGrid
from cardiolens.nuclear.segments import segment_values_pct

__all__ = [
    "NormalDatabase",
    "build_normal_database",
    "default_normal_database",
    "simulate_normal_database",
    "DEFAULT_DATABASE_FILE",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
#: Used when no header says which protocol (see :mod:`cardiolens.nuclear.protocols`).
DEFAULT_DATABASE_FILE = "normals_anger_lehr_ac.npz"
#: Smallest SD (percentage points) used, so that a small or homogeneous (simulated) database
#: cannot call noise-level dips abnormal (a cardiolens choice).
MIN_SD_PCT = 5.0


@dataclass(frozen=True, eq=False)
class NormalDatabase:
    """Pixel-wise and segment-wise normal limits of normalised uptake.

    Attributes
    ----------
    mean_pct, sd_pct
        Mean and SD (%) per polar-map sample, shape ``(n_rings, n_angles)``.
    segment_mean_pct, segment_sd_pct
        Mean and SD (%) of the 17 AHA segment values, shape ``(17,)``.
    n_studies
        Number of normal studies.
    sex, camera, tracer, protocol
        What the database is for (``protocol`` for example ``stress`` or ``rest``).
    grid
        Polar-map grid of the arrays.
    provenance
        Who/what built it: version, date, inputs, command.
    """

    mean_pct: np.ndarray
    sd_pct: np.ndarray
    segment_mean_pct: np.ndarray
    segment_sd_pct: np.ndarray
    n_studies: int
    sex: str
    camera: str
    tracer: str
    protocol: str
    grid: RayGrid = field(default_factory=RayGrid)
    provenance: dict[str, Any] = field(default_factory=dict)

    def check_grid(self, polar: PolarMap) -> None:
        """Raise ParameterError when ``polar`` is on another grid than the database."""
        if polar.values_pct.shape != self.mean_pct.shape:
            raise ParameterError(
                f"normal database grid {self.mean_pct.shape} does not match the polar map "
                f"{polar.values_pct.shape}; rebuild it with this version of cardiolens"
            )

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (no arrays)."""
        return {
            "format_version": FORMAT_VERSION,
            "n_studies": self.n_studies,
            "sex": self.sex,
            "camera": self.camera,
            "tracer": self.tracer,
            "protocol": self.protocol,
            "grid": {
                "n_apical": self.grid.n_apical,
                "n_cylindrical": self.grid.n_cylindrical,
                "n_angles": self.grid.n_angles,
            },
            "provenance": self.provenance,
        }

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (.npz arrays) and its ``.json`` sidecar; returns the .npz path."""
        path = Path(path)
        if path.suffix != ".npz":
            raise ParameterError(f"a normal database file must end in .npz; got {path.name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            mean_pct=self.mean_pct.astype(np.float32),
            sd_pct=self.sd_pct.astype(np.float32),
            segment_mean_pct=self.segment_mean_pct,
            segment_sd_pct=self.segment_sd_pct,
        )
        path.with_suffix(".json").write_text(json.dumps(self.describe(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> NormalDatabase:
        """Read a database written by :meth:`save`."""
        path = Path(path)
        sidecar = path.with_suffix(".json")
        if not path.exists() or not sidecar.exists():
            raise InputError(
                "a normal database needs the .npz file and its .json sidecar "
                "(made by 'cardiolens normals build')",
                path,
            )
        try:
            meta = json.loads(sidecar.read_text())
            with np.load(path) as arrays:
                data = {k: np.asarray(arrays[k], dtype=float) for k in arrays.files}
            grid = RayGrid(**meta["grid"])
            return cls(
                mean_pct=data["mean_pct"],
                sd_pct=data["sd_pct"],
                segment_mean_pct=data["segment_mean_pct"],
                segment_sd_pct=data["segment_sd_pct"],
                n_studies=int(meta["n_studies"]),
                sex=meta["sex"],
                camera=meta["camera"],
                tracer=meta["tracer"],
                protocol=meta["protocol"],
                grid=grid,
                provenance=meta.get("provenance", {}),
            )
        except (KeyError, ValueError, OSError, json.JSONDecodeError) as error:
            raise InputError(f"not a cardiolens normal database ({error})", path) from error


def build_normal_database(
    studies: Sequence[PolarMap],
    *,
    sex: str,
    camera: str,
    tracer: str,
    protocol: str,
    provenance: dict[str, Any] | None = None,
) -> NormalDatabase:
    """Mean and SD per polar-map sample and per AHA segment from normal studies.

    Parameters
    ----------
    studies
        Polar maps of normal studies (at least 3), all on the same grid.
    sex, camera, tracer, protocol
        Population the limits apply to (for example ``female``, ``D-SPECT``,
        ``Tc-99m sestamibi``, ``stress``).
    provenance
        Extra provenance (source files, command); version and date are added.

    Returns
    -------
    NormalDatabase
    """
    if len(studies) < 3:
        raise ParameterError(f"a normal database needs at least 3 studies; got {len(studies)}")
    shapes = {p.values_pct.shape for p in studies}
    if len(shapes) != 1:
        raise ParameterError(f"polar maps are on different grids: {sorted(shapes)}")
    stack = np.stack([p.values_pct for p in studies])
    segments = np.stack([segment_values_pct(p) for p in studies])
    if np.isnan(segments).any():
        empty = sorted({int(s) + 1 for s in np.argwhere(np.isnan(segments))[:, 1]})
        raise ParameterError(
            f"some normal studies have no samples in AHA segment(s) {empty}: "
            "their LV segmentation failed; remove them from the list"
        )
    record = {
        "cardiolens_version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "min_sd_pct": MIN_SD_PCT,
        **(provenance or {}),
    }
    logger.info(
        "normal database from %d studies (%s, %s, %s, %s)",
        len(studies),
        sex,
        camera,
        tracer,
        protocol,
    )
    return NormalDatabase(
        mean_pct=stack.mean(axis=0),
        sd_pct=np.maximum(stack.std(axis=0, ddof=1), MIN_SD_PCT),
        segment_mean_pct=segments.mean(axis=0),
        segment_sd_pct=np.maximum(segments.std(axis=0, ddof=1), MIN_SD_PCT),
        n_studies=len(studies),
        sex=sex,
        camera=camera,
        tracer=tracer,
        protocol=protocol,
        grid=studies[0].grid,
        provenance=record,
    )


def default_normal_database() -> NormalDatabase:
    """The Anger LEHR attenuation-corrected database shipped with cardiolens.

    Built from projected, OSEM-reconstructed normal phantoms; the analysis picks
    the shipped database matching each image's header instead
    (:func:`cardiolens.nuclear.protocols.choose_normal_database`). See
    ``cardiolens/nuclear/data/README.md`` for how they were built and their limits.
    """
    path = resources.files("cardiolens.nuclear") / "data" / DEFAULT_DATABASE_FILE
    with resources.as_file(path) as file:
        if not Path(file).exists():
            raise InputError(
                "the default normal database is missing from the installation; "
                "pass --normals DB.npz built with 'cardiolens normals build'",
                file,
            )
        return NormalDatabase.load(file)


def simulate_normal_database(
    *,
    n_studies: int = 30,
    seed: int = 0,
    method: str = "image_space",
    progress: bool = False,
) -> NormalDatabase:
    """A normal database from simulated normal SPECT phantoms (no defect).

    Each study draws its anatomy (pose, size, wall thickness), counts (4-12
    million), ejection fraction and extracardiac activity (x0.5-2) from ``seed``; the
    stress summed image is analysed exactly as a patient's. This is the
    stand-in shipped as the default until a site builds its own database from
    real normal studies (``cardiolens normals build``).

    Parameters
    ----------
    n_studies
        Number of simulated normals.
    seed
        Seed of the population (study ``i`` uses ``seed + i``).
    method
        Phantom reconstruction method (``image_space`` or ``osem``).
    progress
        Show a progress bar.
    """
    from cardiolens.nuclear.analysis import prepare_polar_map
    from cardiolens.phantom.spect import simulate_spect

    rng = np.random.default_rng(seed)
    maps: list[PolarMap] = []
    parameters = []
    iterator = range(n_studies)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="simulated normals")
    for i in iterator:
        draw = {
            "edv_ml": float(rng.uniform(80, 170)),
            "lvef_pct": float(rng.uniform(50, 72)),
            "counts": float(rng.uniform(4e6, 12e6)),
            "extracardiac": float(rng.uniform(0.5, 2.0)),
        }
        phantom = simulate_spect(
            seed=seed + i,
            method=method,
            randomize_anatomy=True,
            include_rest=False,
            **draw,
        )
        record = {"seed": seed + i, **{k: round(v, 2) for k, v in draw.items()}}
        try:
            maps.append(prepare_polar_map(phantom.stress.summed))
        except AnalysisError as error:
            logger.warning("simulated normal %d left out: %s", seed + i, error)
            record["left_out"] = str(error)
        parameters.append(record)
    return build_normal_database(
        maps,
        sex="any",
        camera="simulated parallel-hole SPECT (cardiolens phantom)",
        tracer="Tc-99m perfusion agent (simulated)",
        protocol="stress or rest",
        provenance={
            "source": "cardiolens.phantom.simulate_spect, randomised normal anatomy, no defect",
            "method": method,
            "population_seed": seed,
            "command": f"cardiolens normals simulate --n {n_studies} --seed {seed} --method {method}",
            "studies": parameters,
        },
    )
