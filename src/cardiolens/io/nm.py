"""Reconstructed nuclear medicine multi-frame images (NM Image IOD, DICOM PS3.3 A.5, C.8.4).

Frames are placed by the vectors that FrameIncrementPointer (0028,0009) names
(SliceVector, TimeSlotVector, ...; PS3.3 C.8.4.8), not by their order in the
file. Geometry comes from ImagePositionPatient / ImageOrientationPatient in
DetectorInformationSequence (PS3.3 C.8.4.10), falling back to the top level.
A negative SpacingBetweenSlices (written by GE) means that successive slices
run against the normal row x column: the slice axis is then ``-normal`` and the
direction matrix is left-handed, so no voxel is flipped.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag

from cardiolens.core.errors import DicomError, ModalityError
from cardiolens.core.study import Series
from cardiolens.core.volume import Volume
from cardiolens.io.dicom_files import DicomFile, attribute_values, pixel_data
from cardiolens.io.geometry import float_list, orientation_axes
from cardiolens.io.slices import series_metadata

__all__ = ["FRAME_VECTORS", "assemble_nm_series", "nm_image_kind"]

logger = logging.getLogger(__name__)

#: Frame index vectors of the NM Multi-frame module, by tag.
FRAME_VECTORS = {
    Tag(0x0054, 0x0010): "EnergyWindowVector",
    Tag(0x0054, 0x0020): "DetectorVector",
    Tag(0x0054, 0x0030): "PhaseVector",
    Tag(0x0054, 0x0050): "RotationVector",
    Tag(0x0054, 0x0060): "RRIntervalVector",
    Tag(0x0054, 0x0070): "TimeSlotVector",
    Tag(0x0054, 0x0080): "SliceVector",
    Tag(0x0054, 0x0090): "AngularViewVector",
    Tag(0x0054, 0x0100): "TimeSliceVector",
}
RECONSTRUCTED = {"RECON TOMO", "RECON GATED TOMO"}


def nm_image_kind(dataset: Dataset) -> str:
    """The NM image type value 3 (``RECON TOMO``, ``TOMO``, ``STATIC``...), upper case."""
    image_type = attribute_values(dataset.get("ImageType"))
    return str(image_type[2]).upper() if len(image_type) > 2 else ""


def _frame_indices(dataset: Dataset, n_frames: int, item: DicomFile) -> dict[str, np.ndarray]:
    """Zero-based index of every frame along each vector FrameIncrementPointer names."""
    pointer = dataset.get("FrameIncrementPointer")
    if pointer is None:
        return {"SliceVector": np.arange(n_frames)}
    tags = [Tag(t) for t in (pointer if isinstance(pointer, MultiValue | list) else [pointer])]
    indices: dict[str, np.ndarray] = {}
    for tag in tags:
        keyword = FRAME_VECTORS.get(tag)
        if keyword is None:
            raise DicomError(
                f"FrameIncrementPointer names {tag}, not an NM frame vector", item.path
            )
        values = dataset.get(keyword)
        values = [values] if isinstance(values, int) else list(values or [])
        if len(values) != n_frames:
            raise DicomError(
                f"{keyword} named by FrameIncrementPointer must hold {n_frames} values "
                f"(NumberOfFrames); got {len(values)}",
                item.path,
            )
        indices[keyword] = np.asarray(values, dtype=int) - 1
    return indices


def _nm_geometry(dataset: Dataset, item: DicomFile) -> tuple[list[float], list[float], list[str]]:
    """ImagePositionPatient and ImageOrientationPatient (detector sequence first), and warnings."""
    warnings: list[str] = []
    detector = (dataset.get("DetectorInformationSequence") or [Dataset()])[0]
    ipp = float_list(detector, "ImagePositionPatient", 3, item.path) or float_list(
        dataset, "ImagePositionPatient", 3, item.path
    )
    iop = float_list(detector, "ImageOrientationPatient", 6, item.path) or float_list(
        dataset, "ImageOrientationPatient", 6, item.path
    )
    if iop is None:
        iop = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        warnings.append("no ImageOrientationPatient: axial orientation assumed")
    if ipp is None:
        ipp = [0.0, 0.0, 0.0]
        warnings.append("no ImagePositionPatient: origin set to (0, 0, 0); not registrable to CT")
    return ipp, iop, warnings


def _slice_spacing(dataset: Dataset, pixel_spacing: list[float]) -> tuple[float, float, list[str]]:
    """(spacing mm, sign of the slice axis along the normal, warnings)."""
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        value = dataset.get(keyword)
        if value not in (None, "") and float(value) != 0.0:
            sign = -1.0 if keyword == "SpacingBetweenSlices" and float(value) < 0 else 1.0
            return abs(float(value)), sign, []
    return pixel_spacing[0], 1.0, ["no SpacingBetweenSlices or SliceThickness: pixel spacing used"]


def _energy_windows(dataset: Dataset) -> list[dict[str, Any]]:
    windows = []
    for window in dataset.get("EnergyWindowInformationSequence") or []:
        ranges = window.get("EnergyWindowRangeSequence") or [Dataset()]
        windows.append(
            {
                "name": str(window.get("EnergyWindowName", "")),
                "lower_kev": float(ranges[0].get("EnergyWindowLowerLimit", "nan") or "nan"),
                "upper_kev": float(ranges[0].get("EnergyWindowUpperLimit", "nan") or "nan"),
            }
        )
    return windows


def _nm_metadata(dataset: Dataset, item: DicomFile) -> dict[str, Any]:
    metadata = series_metadata(dataset, [item.path])
    radiopharmaceutical = (dataset.get("RadiopharmaceuticalInformationSequence") or [Dataset()])[0]
    corrected = [str(c).upper() for c in attribute_values(dataset.get("CorrectedImage"))]
    metadata.update(
        units="counts",
        image_id=str(dataset.get("ImageID", "")),
        nm_image_kind=nm_image_kind(dataset),
        energy_windows=_energy_windows(dataset),
        radiopharmaceutical=str(radiopharmaceutical.get("Radiopharmaceutical", "")),
        corrected_image=corrected,
        attenuation_corrected="ATTN" in corrected,
        collimator=str(
            (dataset.get("DetectorInformationSequence") or [Dataset()])[0].get(
                "CollimatorGridName", ""
            )
        ),
        frame_duration_ms=float(dataset.get("ActualFrameDuration") or 0) or None,
        slice_thickness_mm=float(dataset.get("SliceThickness") or 0) or None,
    )
    return metadata


def assemble_nm_series(item: DicomFile) -> Series:
    """A :class:`Series` from one reconstructed NM multi-frame file.

    Values are counts (RescaleSlope/Intercept applied when present), float32.
    For RECON GATED TOMO, ``series.gates`` holds one volume per time slot and
    ``series.volume`` their sum (the ungated equivalent).
    """
    dataset = item.dataset
    kind = nm_image_kind(dataset)
    if kind and kind not in RECONSTRUCTED:
        raise ModalityError(
            f"NM image type {kind!r} is not a reconstruction (expected RECON TOMO or "
            f"RECON GATED TOMO); reconstruct the projections first",
            item.path,
        )
    pixels = pixel_data(dataset, item.path)
    n_frames = int(dataset.get("NumberOfFrames", 1) or 1)
    pixels = pixels.reshape(n_frames, int(dataset.Rows), int(dataset.Columns))
    indices = _frame_indices(dataset, n_frames, item)
    for keyword, values in indices.items():
        if keyword not in ("SliceVector", "TimeSlotVector") and len(set(values.tolist())) > 1:
            raise DicomError(
                f"{keyword} holds {len(set(values.tolist()))} distinct values; only one per file "
                f"is supported (split energy windows/detectors/RR windows into separate files)",
                item.path,
            )
    slices = indices.get("SliceVector", np.zeros(n_frames, dtype=int))
    gates = indices.get("TimeSlotVector", np.zeros(n_frames, dtype=int))
    n_slices, n_gates = int(slices.max()) + 1, int(gates.max()) + 1
    if slices.min() < 0 or gates.min() < 0:
        raise DicomError("SliceVector/TimeSlotVector values must start at 1", item.path)
    if n_slices * n_gates != n_frames or len(set(zip(slices, gates, strict=True))) != n_frames:
        raise DicomError(
            f"{n_frames} frames do not fill {n_gates} gate(s) x {n_slices} slice(s) exactly once",
            item.path,
        )
    slope = float(dataset.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(dataset.get("RescaleIntercept", 0.0) or 0.0)
    data = np.empty((n_gates, n_slices) + pixels.shape[1:], dtype=np.float32)
    data[gates, slices] = pixels.astype(np.float32) * np.float32(slope) + np.float32(intercept)

    pixel_spacing = float_list(dataset, "PixelSpacing", 2, item.path)
    if pixel_spacing is None:
        raise DicomError("PixelSpacing absent: voxel size unknown", item.path)
    ipp, iop, warnings = _nm_geometry(dataset, item)
    row, col, normal = orientation_axes(iop, item.path)
    spacing, sign, spacing_warnings = _slice_spacing(dataset, pixel_spacing)
    warnings += spacing_warnings
    metadata = _nm_metadata(dataset, item)
    metadata["slice_direction_sign"] = sign

    def volume(array: np.ndarray, **extra: Any) -> Volume:
        return Volume(
            array,
            spacing_mm=(spacing, pixel_spacing[0], pixel_spacing[1]),
            origin_mm=tuple(ipp),
            direction=np.column_stack([row, col, sign * normal]),
            modality="NM",
            frame_of_reference_uid=str(dataset.get("FrameOfReferenceUID", "")) or None,
            metadata={**metadata, **extra},
        )

    gated = kind == "RECON GATED TOMO" or n_gates > 1
    gate_volumes = [volume(data[g], gate_index=g) for g in range(n_gates)] if gated else []
    main = volume(data.sum(axis=0) if gated else data[0])
    for message in warnings:
        logger.warning("%s: %s", item.path, message)
    return Series(
        series_uid=metadata["series_uid"],
        modality="NM",
        volume=main,
        gates=gate_volumes,
        description=metadata["series_description"],
        files=[item.path],
        warnings=warnings,
        metadata=metadata,
    )
