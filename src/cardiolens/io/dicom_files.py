"""Finding and reading DICOM files: detection, validation of pixel data, folder scans.

A file is DICOM when it carries the ``DICM`` marker after the 128-byte preamble
(DICOM PS3.10 section 7.1) or, for old files written without the preamble, when
it parses as a data set holding a SOP Class UID.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.datadict import DicomDictionary, dictionary_keyword, dictionary_VM
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pydicom.valuerep import IS, DSdecimal, DSfloat

from cardiolens.core.errors import DicomError, InputError

__all__ = [
    "CT_IMAGE_STORAGE",
    "MAX_FRAMES",
    "MAX_VOXELS",
    "DicomFile",
    "NM_IMAGE_STORAGE",
    "NON_IMAGE_SOP_CLASSES",
    "is_dicom_file",
    "pixel_data",
    "quiet_pydicom",
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


#: Largest image cardiolens decodes: 2^30 voxels (4 GiB as float32) and 10^5 frames. A header
#: declaring more (65535 x 65535 x 10^4 voxels, 10^6 frames) is refused before any allocation.
MAX_VOXELS = 1 << 30
MAX_FRAMES = 100_000
#: Deepest sequence nesting accepted (PS3.5 sets no limit; real objects stay below 10).
MAX_SEQUENCE_DEPTH = 32
_NUMERIC_STRING_VRS = ("IS", "DS")


@contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Silence pydicom's warnings and log lines about odd values: the reader raises
    :class:`DicomError` on what matters, and a CLI error must stay one line."""
    pydicom_logger = logging.getLogger("pydicom")
    disabled = pydicom_logger.disabled
    pydicom_logger.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        pydicom_logger.disabled = disabled


def attribute_values(value: object) -> list[object]:
    """The values of a multi-valued attribute as a list; pydicom gives a single value
    unwrapped (a one-valued CorrectedImage is the string ``"ATTN"``, not a list)."""
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, MultiValue | list | tuple) else [value]


def _attribute_name(tag: BaseTag) -> str:
    keyword = dictionary_keyword(tag) if tag in DicomDictionary else ""
    return f"{keyword} ({tag.group:04X},{tag.element:04X})".strip()


def _invalid_number(value: object) -> bool:
    """True when an IS/DS value stayed text because it is not a number (pydicom keeps it)."""
    values = value if isinstance(value, MultiValue | list | tuple) else [value]
    return any(isinstance(v, str) and not isinstance(v, IS | DSfloat | DSdecimal) for v in values)


def _value_problem(tag: BaseTag, element: DataElement) -> str | None:
    """Why a decoded value is unusable (not a number, several values for VM 1), or None."""
    if element.VR in _NUMERIC_STRING_VRS and _invalid_number(element.value):
        return f"holds {str(element.value)[:40]!r}, not a valid {element.VR} number"
    if (
        isinstance(element.value, MultiValue)
        and len(element.value) > 1
        and tag in DicomDictionary
        and dictionary_VM(tag) == "1"
    ):
        return f"holds {len(element.value)} values; the standard allows one (VM 1)"
    return None


def _check_values(dataset: Dataset, path: Path, depth: int = 0) -> None:
    """Decode every attribute now, so that a corrupt value fails here, naming it.

    pydicom decodes values on first access and keeps an IS/DS value that is not a
    number as text (``NumberOfFrames = '1A'``), which would fail later as a bare
    ``ValueError``. Public attributes that cannot be decoded raise
    :class:`DicomError`; private ones are dropped (cardiolens never reads them).
    """
    if depth > MAX_SEQUENCE_DEPTH:
        raise DicomError(f"sequences nested deeper than {MAX_SEQUENCE_DEPTH} levels", path)
    for tag in list(dataset.keys()):
        try:
            element = dataset[tag]
            problem = _value_problem(tag, element)
        except Exception as error:  # pydicom raises many types on a corrupt value
            problem = f"cannot be decoded ({type(error).__name__}: {str(error)[:120]})"
        if problem is not None:
            if tag.is_private:
                del dataset[tag]
                continue
            raise DicomError(f"attribute {_attribute_name(tag)} {problem}", path)
        if element.VR == "SQ":
            for item in element.value:
                _check_values(item, path, depth + 1)


def _check_transfer_syntax(dataset: Dataset, path: Path) -> None:
    """Refuse a corrupt Transfer Syntax UID; supply one for files without meta information."""
    file_meta = dataset.file_meta
    uid = file_meta.get("TransferSyntaxUID")
    if uid is None:
        implicit, little = dataset.original_encoding
        file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian
            if implicit
            else (ExplicitVRLittleEndian if little in (True, None) else ExplicitVRBigEndian)
        )
        return
    if not UID(str(uid)).is_transfer_syntax:
        raise DicomError(
            f"TransferSyntaxUID (0002,0010) {str(uid)[:64]!r} is not a DICOM transfer syntax: "
            "the file meta information is corrupt",
            path,
        )


def read_dicom(path: str | Path) -> Dataset:
    """Parse one DICOM file; raise :class:`DicomError` naming the file and the problem.

    Files without the PS3.10 preamble are accepted only when they parse and hold
    a SOP Class UID (0008,0016). Every attribute is decoded here (see
    :func:`_check_values`) and the transfer syntax checked, so later reads of the
    data set cannot fail on a corrupt value.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    has_marker = is_dicom_file(path)
    with quiet_pydicom():
        try:
            dataset = pydicom.dcmread(path, force=not has_marker)
            sop_class = dataset.get("SOPClassUID")
        except Exception as error:  # pydicom raises many types on corrupt input
            reason = "truncated or corrupt" if has_marker else "not a DICOM file"
            raise DicomError(
                f"{reason} ({type(error).__name__}: {str(error)[:160]})", path
            ) from None
        if not has_marker and not sop_class:
            raise DicomError("not a DICOM file (no DICM marker and no SOP Class UID)", path)
        _check_values(dataset, path)
        _check_transfer_syntax(dataset, path)
    return dataset


def _declared_pixels(dataset: Dataset, path: str | Path) -> tuple[int, int]:
    """(frames, bytes) the pixel data header declares; refuses sizes beyond the limits."""
    declared = dataset.get("NumberOfFrames")
    frames = 1 if declared in (None, "") else int(declared)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    rows, columns, bits = int(dataset.Rows), int(dataset.Columns), int(dataset.BitsAllocated)
    if frames < 1 or samples < 1 or rows < 1 or columns < 1:
        raise DicomError(
            f"pixel data header declares {rows}x{columns} pixels, {frames} frame(s), {samples} "
            "sample(s): every count must be at least 1",
            path,
        )
    if bits not in (1, 8, 16, 32, 64):
        raise DicomError(f"BitsAllocated is {bits}; expected 1, 8, 16, 32 or 64", path)
    voxels = rows * columns * frames * samples
    if frames > MAX_FRAMES or voxels > MAX_VOXELS:
        raise DicomError(
            f"pixel data header declares {frames} frame(s) of {rows}x{columns} ({voxels:.3g} "
            f"values); cardiolens reads at most {MAX_FRAMES} frames and {MAX_VOXELS:.3g} values "
            "(refused before reading)",
            path,
        )
    return frames, (voxels * bits + 7) // 8


def pixel_data(dataset: Dataset, path: str | Path) -> np.ndarray:
    """The stored pixel values of ``dataset`` (before rescale).

    Raises :class:`DicomError` naming ``path`` when pixel data are absent,
    truncated, larger than :data:`MAX_VOXELS` / :data:`MAX_FRAMES` or cannot be
    decoded.
    """
    if "PixelData" not in dataset:
        sop = str(dataset.get("SOPClassUID", "unknown SOP class"))
        name = getattr(dataset.get("SOPClassUID"), "name", sop)
        raise DicomError(f"no pixel data (PixelData (7FE0,0010) absent; SOP class {name})", path)
    for keyword in ("Rows", "Columns", "BitsAllocated"):
        if keyword not in dataset:
            raise DicomError(f"pixel data without {keyword}: the image cannot be decoded", path)
    frames, expected = _declared_pixels(dataset, path)
    if not dataset.file_meta.TransferSyntaxUID.is_compressed:
        found = len(dataset.PixelData)
        if found < expected:
            raise DicomError(
                f"truncated: pixel data hold {found} bytes, expected {expected} "
                f"({dataset.Rows}x{dataset.Columns} x {frames} frames "
                f"x {dataset.BitsAllocated} bits)",
                path,
            )
    try:
        with quiet_pydicom():
            pixels = dataset.pixel_array
    except Exception as error:
        raise DicomError(
            f"pixel data cannot be decoded ({type(error).__name__}: {str(error)[:160]})", path
        ) from None
    n_values = (
        frames * int(dataset.Rows) * int(dataset.Columns) * int(dataset.get("SamplesPerPixel") or 1)
    )
    if pixels.size != n_values:
        raise DicomError(
            f"pixel data decode to {pixels.size} values, but the header declares {frames} "
            f"frame(s) of {dataset.Rows}x{dataset.Columns} ({n_values}): NumberOfFrames or the "
            "image size is wrong",
            path,
        )
    return pixels


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
