"""Shared test fixtures: paths to the real reference data.

The data come from ``../shared/data`` beside the checkout (or the folder named by
``CARDIOLENS_SHARED_DATA``) and, where that is absent, from the subsets vendored
in ``tests/data`` (see its README): a ``NAME.tar.xz`` there stands for the folder
``NAME`` and is unpacked once per session.

The audit log refuses writers without an HMAC key kept outside the database; the
session gets a test key unless one is configured (``CARDIOLENS_AUDIT_KEY``).
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CARDIOLENS_SHARED_DATA") or REPO.parent / "shared" / "data")
VENDORED_DATA = REPO / "tests" / "data"
TEST_AUDIT_KEY = "cardiolens-test-suite-audit-key-not-for-production"

os.environ.setdefault("CARDIOLENS_AUDIT_KEY", TEST_AUDIT_KEY)


def _vendored(relative: str, unpack_root: Path) -> Path | None:
    """``tests/data/relative``, unpacking the ``.tar.xz`` of it or of a folder above it."""
    path = VENDORED_DATA / relative
    if path.exists():
        return path
    parts = Path(relative).parts
    for depth in range(len(parts), 0, -1):
        folder = Path(*parts[:depth])
        archive = VENDORED_DATA / folder.parent / f"{folder.name}.tar.xz"
        if archive.is_file():
            target = unpack_root / folder.parent
            if not (unpack_root / folder).exists():
                target.mkdir(parents=True, exist_ok=True)
                with tarfile.open(archive) as tar:
                    tar.extractall(target, filter="data")
            unpacked = unpack_root / relative
            return unpacked if unpacked.exists() else None
    return None


@pytest.fixture(scope="session")
def real_data(tmp_path_factory: pytest.TempPathFactory):
    """``real_data("spect/...")``: the shared folder, else the vendored copy, else a skip."""
    unpack_root = tmp_path_factory.mktemp("vendored_data")

    def find(relative: str) -> Path:
        shared = SHARED_DATA / relative
        if shared.exists():
            return shared
        vendored = _vendored(relative, unpack_root)
        if vendored is None:
            pytest.skip(f"real reference data not available: {shared} nor {VENDORED_DATA}")
        return vendored

    return find


@pytest.fixture(scope="session")
def physionet_dicom_dir(real_data) -> Path:
    """Folder of the four real PhysioNet rest SPECT studies (DICOM NM multi-frame)."""
    return real_data("spect/physionet_mps/dicom")


@pytest.fixture(scope="session")
def physionet_masks_dir(real_data) -> Path:
    """Folder of three PhysioNet images with expert LV wall masks (NIfTI)."""
    return real_data("spect/physionet_mps/lv_masks_nifti")


@pytest.fixture(scope="session")
def qrm_ct_dir(real_data) -> Path:
    """Real CT scan of a QRM cardiac calcification phantom (47 DICOM slices)."""
    return real_data("ct/qrm_calcium_phantom/dicom")


@pytest.fixture(scope="session")
def qrm_reference_dir(real_data) -> Path:
    """Folder with the QRM insert table and a published implementation's results."""
    return real_data("ct/qrm_calcium_phantom")


@pytest.fixture(scope="session")
def uci_heart_dir(real_data) -> Path:
    """UCI heart disease processed files (Cleveland, Hungarian)."""
    return real_data("tabular/uci_heart_disease")
