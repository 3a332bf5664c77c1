"""Shared test fixtures: paths to the real reference data in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(
            f"real reference data not available: {path} (needs ../shared beside the checkout)"
        )
    return path


@pytest.fixture(scope="session")
def physionet_dicom_dir() -> Path:
    """Folder of the four real PhysioNet rest SPECT studies (DICOM NM multi-frame)."""
    return _shared("spect/physionet_mps/dicom")


@pytest.fixture(scope="session")
def physionet_masks_dir() -> Path:
    """Folder of three PhysioNet images with expert LV wall masks (NIfTI)."""
    return _shared("spect/physionet_mps/lv_masks_nifti")


@pytest.fixture(scope="session")
def qrm_ct_dir() -> Path:
    """Real CT scan of a QRM cardiac calcification phantom (47 DICOM slices)."""
    return _shared("ct/qrm_calcium_phantom/dicom")


@pytest.fixture(scope="session")
def qrm_reference_dir() -> Path:
    """Folder with the QRM insert table and a published implementation's results."""
    return _shared("ct/qrm_calcium_phantom")


@pytest.fixture(scope="session")
def uci_heart_dir() -> Path:
    """UCI heart disease processed files (Cleveland, Hungarian)."""
    return _shared("tabular/uci_heart_disease")
