"""Entry points: a DICOM file or folder, NIfTI or NRRD becomes a :class:`Study` or :class:`Volume`."""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from cardiolens.core.errors import (
    CardiolensError,
    DicomError,
    GeometryError,
    InputError,
    ParameterError,
    naming_file,
)
from cardiolens.core.study import Series, Study
from cardiolens.core.volume import Volume
from cardiolens.io.dicom_files import (
    MAX_VOXELS,
    NM_IMAGE_STORAGE,
    DicomFile,
    pixel_data,
    read_dicom,
    scan_dicom_folder,
)
from cardiolens.io.nm import assemble_nm_series
from cardiolens.io.roles import assign_roles
from cardiolens.io.slices import assemble_slice_series

__all__ = [
    "IMAGE_SUFFIXES",
    "is_image_file",
    "load_studies",
    "load_study",
    "read_mask",
    "read_volume",
    "write_nifti",
]

logger = logging.getLogger(__name__)

#: File name endings read through SimpleITK rather than as DICOM.
IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


def is_image_file(path: str | Path) -> bool:
    """True for NIfTI, NRRD and MetaImage file names."""
    return str(path).lower().endswith(IMAGE_SUFFIXES)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


# ---------------------------------------------------------------------- NIfTI / NRRD
#: NRRD text encodings: ITK's decoder (teem) can crash on a long run of binary bytes in them.
NRRD_TEXT_ENCODINGS = ("ascii", "text", "txt", "hex")
NRRD_MAX_HEADER_BYTES = 1 << 16
_NRRD_TEXT_BYTES = frozenset(b"0123456789abcdefABCDEFinfINFnaNAxX+-.,\t\n\r\f\v ")
_NRRD_MAX_TOKEN = 64


def _check_nrrd(path: Path) -> None:
    """Refuse a NRRD whose header is unreadable or whose text-encoded data are not text.

    SimpleITK's NRRD reader crashes the process (segmentation fault) on binary data
    declared ``encoding: ascii``, found by fuzzing; such a file is refused here, before
    ITK reads it. NRRD format: teem, http://teem.sourceforge.net/nrrd/format.html.
    """
    with open(path, "rb") as handle:
        head = handle.read(NRRD_MAX_HEADER_BYTES)
    if not head.startswith(b"NRRD"):
        raise InputError("not a NRRD file (it does not start with the NRRD magic)", path)
    blank_line = re.search(rb"\r?\n\r?\n", head)
    if blank_line is None:
        raise InputError(
            f"NRRD header without the blank line that ends it in its first "
            f"{NRRD_MAX_HEADER_BYTES} bytes",
            path,
        )
    text = head[: blank_line.start()].decode("latin-1")
    fields = dict(
        (key.strip().lower(), value.strip())
        for key, sep, value in (line.partition(":") for line in text.splitlines()[1:])
        if sep and not key.startswith("#")
    )
    encoding = fields.get("encoding", "").lower()
    if encoding not in NRRD_TEXT_ENCODINGS:
        return
    if "data file" in fields or "datafile" in fields:
        raise InputError(f"NRRD with {encoding} data in a separate file is not supported", path)
    data = path.read_bytes()[blank_line.end() :]
    if (
        not _NRRD_TEXT_BYTES.issuperset(data)
        or max(map(len, data.split()), default=0) > _NRRD_MAX_TOKEN
    ):
        raise InputError(f"NRRD header says encoding {encoding}, but the data are not text", path)


def _check_declared_size(reader: sitk.ImageFileReader, path: Path) -> None:
    """Refuse a header declaring more than :data:`MAX_VOXELS` values, before reading pixels."""
    size = reader.GetSize()
    values = int(np.prod([int(n) for n in size], dtype=object)) * reader.GetNumberOfComponents()
    if values > MAX_VOXELS or min(size, default=0) < 1:
        raise InputError(
            f"header declares an image of {' x '.join(str(n) for n in size)} voxels "
            f"({values:.3g} values); cardiolens reads 1 to {MAX_VOXELS:.3g} (refused before reading)",
            path,
        )


def _read_image_series(path: Path) -> Series:
    """One series from a NIfTI/NRRD/MetaImage file; a 4D image's last axis are gates."""
    if not path.is_file():
        raise InputError("file not found", path)
    if path.name.lower().endswith((".nrrd", ".nhdr")):
        _check_nrrd(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
        _check_declared_size(reader, path)
        image = reader.Execute()
    except RuntimeError as error:
        first_line = str(error).strip().splitlines()[-1] if str(error).strip() else "unreadable"
        raise InputError(f"cannot read image ({first_line[:200]})", path) from None
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"expected a scalar image; got {image.GetNumberOfComponentsPerPixel()} components", path
        )
    dimension = image.GetDimension()
    metadata = {"units": "", "files": [str(path)], "series_description": _stem(path)}
    if dimension == 3:
        with naming_file(path):
            volume = Volume.from_sitk(image, metadata=metadata)
        gates: list[Volume] = []
    elif dimension == 4:
        array = sitk.GetArrayFromImage(image)  # (t, z, y, x)
        direction = np.asarray(image.GetDirection()).reshape(4, 4)[:3, :3]
        geometry = {
            "spacing_mm": tuple(reversed(image.GetSpacing()[:3])),
            "origin_mm": image.GetOrigin()[:3],
            "direction": direction,
        }
        with naming_file(path):
            gates = [
                Volume(a, **geometry, metadata={**metadata, "gate_index": i})
                for i, a in enumerate(array)
            ]
            volume = Volume(array.sum(axis=0), **geometry, metadata=metadata)
    else:
        raise InputError(f"expected a 3D or 4D image; got {dimension}D", path)
    series = Series(
        series_uid=_stem(path),
        modality="OT",
        volume=volume,
        gates=gates,
        description=_stem(path),
        files=[path],
        metadata=metadata,
    )
    if volume.array.dtype.kind == "f":
        n_bad = int(np.count_nonzero(~np.isfinite(volume.array)))
        if n_bad:
            series.warnings.append(
                f"{n_bad} voxel(s) are NaN or infinite (left out of the value range)"
            )
    return series


def write_nifti(volume: Volume, path: str | Path) -> Path:
    """Write ``volume`` as NIfTI (``.nii`` or ``.nii.gz``); SimpleITK converts LPS to RAS.

    Boolean arrays are written as uint8. Returns the path written.
    """
    path = Path(path)
    if not path.name.lower().endswith((".nii", ".nii.gz")):
        raise InputError("write_nifti needs a .nii or .nii.gz file name", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if volume.array.dtype == bool:
        volume = volume.with_array(volume.array.astype(np.uint8))
    sitk.WriteImage(volume.to_sitk(), str(path), useCompression=path.name.endswith(".gz"))
    return path


# ---------------------------------------------------------------------- DICOM
def _series_from_files(items: list[DicomFile]) -> list[Series]:
    """Series built from the files of one SeriesInstanceUID."""
    multi_frame = [
        i
        for i in items
        if str(i.dataset.get("SOPClassUID")) == NM_IMAGE_STORAGE
        or int(i.dataset.get("NumberOfFrames", 1) or 1) > 1
    ]
    single = [i for i in items if i not in multi_frame]
    series: list[Series] = []
    for item in multi_frame:
        if str(item.dataset.get("Modality", "")) != "NM":
            raise DicomError(
                f"multi-frame {item.dataset.get('Modality', '')} images (enhanced SOP classes) are "
                f"not supported; export classic single-frame slices",
                item.path,
            )
        with naming_file(item.path):
            one = assemble_nm_series(item)
        if len(multi_frame) > 1:  # several NM objects share one series UID: keep them apart
            one.series_uid = str(item.dataset.SOPInstanceUID)
            one.warnings.append(
                f"series {item.series_uid} holds {len(multi_frame)} NM objects; this one is "
                f"identified by its SOPInstanceUID"
            )
        series.append(one)
    if single:
        with naming_file(single[0].path):
            series.append(assemble_slice_series(single))
    return series


def _study_from_files(items: list[DicomFile], source: Path) -> Study:
    first = items[0].dataset
    study = Study(
        study_uid=items[0].study_uid,
        patient_id=str(first.get("PatientID", "")),
        study_date=str(first.get("StudyDate", "")),
        source=source,
    )
    by_series: dict[str, list[DicomFile]] = defaultdict(list)
    for item in items:
        by_series[item.series_uid].append(item)
    errors: list[CardiolensError] = []
    for series_uid, members in by_series.items():
        try:
            study.series.extend(_series_from_files(members))
        except CardiolensError as error:
            errors.append(error)
            message = f"series {series_uid} not loaded: {error}"
            study.warnings.append(message)
            logger.warning(message)
            study.failed_files.update({str(m.path): error.message for m in members})
    if not study.series:
        raise errors[0]
    study.series.sort(key=lambda s: (s.modality, s.description, s.series_uid))
    counts = Counter(s.modality for s in study.series)
    for modality, n in counts.items():
        if n > 1:
            study.warnings.append(f"{n} {modality} series in one study: check each series' role")
    return study


def _apply_overrides(studies: list[Study], overrides: dict[str, str] | None) -> None:
    for study in studies:
        assign_roles(study)
    if not overrides:
        return
    known = {s.series_uid: study for study in studies for s in study.series}
    for uid, role in overrides.items():
        if uid not in known:
            raise ParameterError(
                f"--role names series {uid!r}, which is not in the input; series present: "
                + ", ".join(sorted(known))
            )
        known[uid].get(uid).set_role(role)


def load_studies(
    path: str | Path, role_overrides: dict[str, str] | None = None, progress: bool = False
) -> list[Study]:
    """Every study under ``path`` (a DICOM file or folder, NIfTI or NRRD), one per StudyInstanceUID.

    Parameters
    ----------
    path
        DICOM file, folder searched recursively (any file names), or a
        ``.nii``/``.nii.gz``/``.nrrd``/``.mha`` image (4D: last axis = gates).
    role_overrides
        ``{series_uid: role}`` replacing the inferred roles.
    progress
        Show a progress bar while reading files.

    Raises
    ------
    DicomError
        A single file that is truncated, not DICOM or without pixel data.
    InputError
        A folder without any readable DICOM image.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path)
    if path.is_file() and is_image_file(path):
        series = _read_image_series(path)
        study = Study(study_uid=series.series_uid, series=[series], source=path)
        _apply_overrides([study], role_overrides)
        return [study]
    if path.is_file():
        dataset = read_dicom(path)
        pixel_data(dataset, path)
        items, failed, skipped = [DicomFile(path, dataset)], {}, []
    else:
        items, failed, skipped = scan_dicom_folder(path, progress=progress)
        if not items:
            examples = "; ".join(f"{Path(p).name}: {r}" for p, r in list(failed.items())[:3])
            raise InputError(
                f"no readable DICOM image in folder ({len(failed)} unreadable file(s), "
                f"{len(skipped)} non-image DICOM object(s))"
                f"{': ' + examples if examples else ''}",
                path,
            )
    by_study: dict[str, list[DicomFile]] = defaultdict(list)
    for item in items:
        by_study[item.study_uid].append(item)
    studies = [_study_from_files(members, path) for members in by_study.values()]
    studies.sort(key=lambda s: -sum(len(x.files) for x in s.series))
    for study in studies:
        study.failed_files.update(failed)
        if failed:
            study.warnings.append(f"{len(failed)} file(s) could not be read: see failed_files")
        if skipped:
            study.warnings.append(f"{len(skipped)} non-image DICOM object(s) skipped")
    _apply_overrides(studies, role_overrides)
    return studies


def load_study(
    path: str | Path, role_overrides: dict[str, str] | None = None, progress: bool = False
) -> Study:
    """The study under ``path`` (see :func:`load_studies`).

    When a folder holds several studies, the one with the most files is
    returned and a warning lists the others; use :func:`load_studies` for all.
    """
    studies = load_studies(path, role_overrides=role_overrides, progress=progress)
    study = studies[0]
    if len(studies) > 1:
        others = ", ".join(s.study_uid for s in studies[1:])
        message = (
            f"{Path(path)} holds {len(studies)} studies; loaded {study.study_uid}, left out "
            f"{others} (use load_studies to read all)"
        )
        study.warnings.append(message)
        logger.warning(message)
    return study


def read_volume(path: str | Path) -> Volume:
    """The single volume in a NIfTI/NRRD file or a single-series DICOM file or folder.

    For gated input, the volume is the sum over gates.
    """
    path = Path(path)
    study = load_study(path)
    if len(study.series) != 1:
        raise InputError(
            f"holds {len(study.series)} series ({', '.join(s.series_uid for s in study.series)}); "
            f"read_volume needs exactly one: pass one series' file or folder",
            path,
        )
    return study.series[0].volume


def read_mask(path: str | Path, reference: Volume, tol_mm: float = 0.01) -> Volume:
    """A mask or label image that must share ``reference``'s grid exactly.

    Raises
    ------
    GeometryError
        Naming the file, when shape, spacing, origin or direction differ, with
        what was expected and what arrived.
    """
    mask = read_volume(path)
    problems = []
    if mask.shape != reference.shape:
        problems.append(f"shape {mask.shape} (expected {reference.shape})")
    if not np.allclose(mask.spacing_mm, reference.spacing_mm, atol=tol_mm):
        problems.append(
            f"spacing_mm {_fmt(mask.spacing_mm)} (expected {_fmt(reference.spacing_mm)})"
        )
    if not np.allclose(mask.origin_mm, reference.origin_mm, atol=tol_mm):
        problems.append(f"origin_mm {_fmt(mask.origin_mm)} (expected {_fmt(reference.origin_mm)})")
    if not np.allclose(mask.direction, reference.direction, atol=1e-4):
        problems.append(
            f"direction {_fmt(mask.direction.ravel())} (expected {_fmt(reference.direction.ravel())})"
        )
    if problems:
        raise GeometryError(
            "mask does not match the image grid: "
            + "; ".join(problems)
            + ". Resample the mask onto the image (nearest neighbour) or pass the matching image",
            path,
        )
    return mask


def _fmt(values) -> str:
    return "(" + ", ".join(f"{float(v):.3f}" for v in values) + ")"
