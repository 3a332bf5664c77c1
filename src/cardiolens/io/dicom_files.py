"""Finding and reading DICOM files: detection, validation of pixel data, folder scans.

A file is DICOM when it carries the ``DICM`` marker after the 128-byte preamble
(DICOM PS3.10 section 7.1) or, for old files written without the preamble, when
it parses as a data set holding a SOP Class UID.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from cardiolens.core.errors import DicomError, InputError

__all__ = [
    "CT_IMAGE_STORAGE",
    "DicomFile",
    "NM_IMAGE_STORAGE",
    "NON_IMAGE_SOP_CLASSES",
    "is_dicom_file",
    "pixel_data",
    "read_dicom",
    "scan_dicom_folder",
]

logger = logging.getLogger(__name__)

NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"

#: SOP classes that carry no image and are skipped (not failed) in a folder scan.
NON_IMAGE_SOP_CLASSES = {
    "1.2.840.10008.1.3.10": "Media Storage Directory (DICOMDIR)",
    "1.2.840.10008.5.1.4.1.1.88.11": "Basic Text SR",
    "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR",
    "1.2.840.10008.5.1.4.1.1.88.59": "Key Object Selection",
    "1.2.840.10008.5.1.4.1.1.11.1": "Grayscale Softcopy Presentation State",
    "1.2.840.10008.5.1.4.1.1.104.1": "Encapsulated PDF",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture (screen capture)",
}


#: File types found beside DICOM files in study folders (reports, masks, logs), not read as DICOM.
NON_DICOM_SUFFIXES = (
    ".csv", ".json", ".txt", ".md", ".html", ".xml", ".log", ".yaml", ".yml", ".pdf", ".png",
    ".jpg", ".jpeg", ".nii", ".nii.gz", ".nrrd", ".mha", ".mhd", ".npz", ".npy",
)  # fmt: skip


@dataclass(frozen=True)
class DicomFile:
    """A parsed DICOM file and where it came from."""

    path: Path
    dataset: Dataset

    @property
    def study_uid(self) -> str:
        return str(self.dataset.get("StudyInstanceUID", ""))

    @property
    def series_uid(self) -> str:
        return str(self.dataset.get("SeriesInstanceUID", ""))


def is_dicom_file(path: str | Path) -> bool:
    """True when ``path`` starts with the DICOM preamble and ``DICM`` marker."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def read_dicom(path: str | Path) -> Dataset:
    """Parse one DICOM file; raise :class:`DicomError` naming the file and the problem.

    Files without the PS3.10 preamble are accepted only when they parse and hold
    a SOP Class UID (0008,0016).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    has_marker = is_dicom_file(path)
    try:
        dataset = pydicom.dcmread(path, force=not has_marker)
        sop_class = dataset.get("SOPClassUID")
    except Exception as error:  # pydicom raises many types on corrupt input
        reason = "truncated or corrupt" if has_marker else "not a DICOM file"
        raise DicomError(f"{reason} ({type(error).__name__}: {error})", path) from None
    if not has_marker and not sop_class:
        raise DicomError("not a DICOM file (no DICM marker and no SOP Class UID)", path)
    return dataset


def _expected_pixel_bytes(dataset: Dataset) -> int:
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    bits = int(dataset.BitsAllocated)
    n_bits = int(dataset.Rows) * int(dataset.Columns) * frames * samples * bits
    return (n_bits + 7) // 8


def pixel_data(dataset: Dataset, path: str | Path) -> np.ndarray:
    """The stored pixel values of ``dataset`` (before rescale).

    Raises :class:`DicomError` naming ``path`` when pixel data are absent,
    truncated or cannot be decoded.
    """
    if "PixelData" not in dataset:
        sop = str(dataset.get("SOPClassUID", "unknown SOP class"))
        name = getattr(dataset.get("SOPClassUID"), "name", sop)
        raise DicomError(f"no pixel data (PixelData (7FE0,0010) absent; SOP class {name})", path)
    for keyword in ("Rows", "Columns", "BitsAllocated"):
        if keyword not in dataset:
            raise DicomError(f"pixel data without {keyword}: the image cannot be decoded", path)
    if not dataset.file_meta.TransferSyntaxUID.is_compressed:
        found = len(dataset.PixelData)
        expected = _expected_pixel_bytes(dataset)
        if found < expected:
            raise DicomError(
                f"truncated: pixel data hold {found} bytes, expected {expected} "
                f"({dataset.Rows}x{dataset.Columns} x {dataset.get('NumberOfFrames', 1)} frames "
                f"x {dataset.BitsAllocated} bits)",
                path,
            )
    try:
        return dataset.pixel_array
    except Exception as error:
        raise DicomError(
            f"pixel data cannot be decoded ({type(error).__name__}: {error})", path
        ) from None


def _candidate_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def scan_dicom_folder(
    folder: str | Path, progress: bool = False
) -> tuple[list[DicomFile], dict[str, str], list[str]]:
    """Read every DICOM image file under ``folder`` (recursively, any file name).

    Returns
    -------
    files
        Parsed image files (pixel data included).
    failed
        ``{path: reason}`` for files that are not DICOM or are corrupt.
    skipped
        Notes on DICOM objects without an image (SR, DICOMDIR...), skipped on purpose.
        Files named like other types (``NON_DICOM_SUFFIXES``: masks, reports) are not read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder", folder)
    candidates = _candidate_files(folder)
    if progress:
        from tqdm import tqdm

        candidates = tqdm(candidates, desc=f"reading {folder.name}", unit="file")
    files: list[DicomFile] = []
    failed: dict[str, str] = {}
    skipped: list[str] = []
    for path in candidates:
        if path.name.lower().endswith(NON_DICOM_SUFFIXES):
            logger.debug("not read as DICOM (file type): %s", path)
            continue
        try:
            dataset = read_dicom(path)
        except DicomError as error:
            failed[str(path)] = error.message
            continue
        sop_class = str(dataset.get("SOPClassUID", ""))
        if sop_class in NON_IMAGE_SOP_CLASSES:
            skipped.append(f"{path.name}: {NON_IMAGE_SOP_CLASSES[sop_class]}")
            continue
        try:
            pixel_data(dataset, path)  # validates (truncation, decoding); pydicom caches it
        except DicomError as error:
            failed[str(path)] = error.message
            continue
        files.append(DicomFile(path, dataset))
    for path, reason in failed.items():
        logger.warning("skipped %s: %s", path, reason)
    return files, failed, skipped
