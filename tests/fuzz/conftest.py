"""Seed inputs of the fuzz tests (real files where we have them) and the run size.

``CARDIOLENS_FUZZ_SCALE`` multiplies every test's number of mutants (1 in CI, more
under ``make fuzz``); ``CARDIOLENS_FUZZ_SEED`` changes the seeded mutations.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

FUZZ_SCALE = max(1, int(os.environ.get("CARDIOLENS_FUZZ_SCALE", "1")))
FUZZ_SEED = int(os.environ.get("CARDIOLENS_FUZZ_SEED", "13"))


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.fuzz.harness import SESSION

    if SESSION["inputs"]:
        terminalreporter.write_line(
            f"fuzz: {SESSION['inputs']} mutated inputs (scale {FUZZ_SCALE}, seed {FUZZ_SEED}) "
            f"and {SESSION['foreign']} foreign files: {SESSION['results']} read, "
            f"{SESSION['errors']} one-line CardiolensError, {SESSION['findings']} findings"
        )


def rng_for(test: str, index: int) -> np.random.Generator:
    """The generator of mutant ``index`` of ``test``: reproducible from the seed alone."""
    return np.random.default_rng([FUZZ_SEED, sum(map(ord, test)), index])


def count(n: int) -> int:
    """Mutants to run for a test that runs ``n`` in CI."""
    return n * FUZZ_SCALE


@pytest.fixture(scope="session")
def spect_seed(physionet_dicom_dir) -> Path:
    """One real NM multi-frame SPECT file (GE Discovery NM 530c)."""
    return sorted(physionet_dicom_dir.glob("*.dcm"))[0]


@pytest.fixture(scope="session")
def ct_seeds(qrm_ct_dir) -> list[Path]:
    """Three real CT slices of one series (QRM phantom, Canon Aquilion ONE)."""
    return sorted(qrm_ct_dir.glob("*.dcm"))[:3]


@pytest.fixture(scope="session")
def pet_seeds(tmp_path_factory) -> list[Path]:
    """Four PET slices (Bq/mL, SUV attributes) as written by the PET ingestion tests."""
    from tests.io.test_pet import _as_pet, _stored

    folder = tmp_path_factory.mktemp("pet_seed")
    paths = _stored(folder, "pet")
    for path in paths:
        _as_pet(path).save_as(path)
    return paths


@pytest.fixture(scope="session")
def nifti_seeds(physionet_masks_dir, tmp_path_factory) -> dict[str, Path]:
    """Real SPECT image and expert mask as NIfTI (``image``/``mask`` uncompressed,
    ``image_gz`` as shipped) and the image as NRRD (``nrrd``)."""
    import SimpleITK as sitk

    folder = tmp_path_factory.mktemp("nifti_seed")
    seeds = {"image_gz": physionet_masks_dir / "patient001_0000.nii.gz"}
    for key, name in (("image", "patient001_0000"), ("mask", "patient001")):
        seeds[key] = folder / f"{name}.nii"
        seeds[key].write_bytes(
            gzip.decompress((physionet_masks_dir / f"{name}.nii.gz").read_bytes())
        )
    seeds["nrrd"] = folder / "patient001_0000.nrrd"
    sitk.WriteImage(sitk.ReadImage(str(seeds["image"])), str(seeds["nrrd"]), useCompression=False)
    return seeds


@pytest.fixture(scope="session")
def risk_model(uci_heart_dir, tmp_path_factory):
    """A small logistic risk model folder (the folder format of every kind) trained on UCI (Cleveland + Hungarian)."""
    from cardiolens.risk.datasets import load_uci_heart
    from cardiolens.trust.workflow import train_risk_model

    table = load_uci_heart(uci_heart_dir).drop(columns="num")
    out = tmp_path_factory.mktemp("fuzz_model")
    features = [c for c in table.columns if c not in ("cad", "site")]
    train_risk_model(
        table, "cad", features=features, model="logistic", outer_folds=2, n_boot=10, out=out
    )
    return out, table


@pytest.fixture(scope="session")
def report_seed(ct_seeds, tmp_path_factory) -> Path:
    """A report folder written by ``analyze`` (one real CT slice: a report with a failure)."""
    from cardiolens.pipeline import analyze_study

    out = tmp_path_factory.mktemp("report_seed")
    analyze_study(ct_seeds[0], out / "report", progress=False)
    return out / "report"


def copy_folder(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


NONSENSE_JSON = (None, "", "x", -1, 0, 1e308, float("nan"), 10**30, [], {}, True, [None], {"": 1})


def mutate_json(value, rng: np.random.Generator, depth: int = 0):
    """``value`` with one randomly chosen node replaced by nonsense or removed."""
    if isinstance(value, dict) and value and depth < 6 and rng.random() < 0.8:
        key = list(value)[int(rng.integers(0, len(value)))]
        out = dict(value)
        if rng.random() < 0.15:
            del out[key]
        else:
            out[key] = mutate_json(value[key], rng, depth + 1)
        return out
    if isinstance(value, list) and value and depth < 6 and rng.random() < 0.8:
        index = int(rng.integers(0, len(value)))
        out = list(value)
        out[index] = mutate_json(value[index], rng, depth + 1)
        return out
    return NONSENSE_JSON[int(rng.integers(0, len(NONSENSE_JSON)))]


def json_text(value) -> str:
    return json.dumps(value, allow_nan=True)
