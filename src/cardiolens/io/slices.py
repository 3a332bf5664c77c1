"""Single-frame slice stacks (CT, PET, MR) assembled into volumes with checked geometry.

Slices are ordered by ImagePositionPatient projected on the slice normal
(row x column of ImageOrientationPatient, DICOM PS3.3 C.7.6.2.1.1), never by
InstanceNumber or file name. Checks:

* gantry tilt: slice positions drifting in-plane; corrected by shifting each
  slice onto an orthogonal grid (linear interpolation), with a warning;
* uneven or missing slices: positions are resampled onto a uniform grid at the
  median spacing by linear interpolation along the normal, with a warning that
  names the gap;
* duplicate positions: identical copies are dropped; for PET, repeated positions
  with distinct frame times make a dynamic series (``Series.frames``).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from scipy import ndimage

from cardiolens.core.errors import DicomError, GeometryError
from cardiolens.core.study import Series
from cardiolens.core.volume import Volume
from cardiolens.io.dicom_files import DicomFile, pixel_data
from cardiolens.io.geometry import float_list, orientation_axes, positions_along
from cardiolens.io.pet import PET_UNITS, dicom_datetime, suv_body_weight_factor

__all__ = ["assemble_slice_series", "series_metadata"]

logger = logging.getLogger(__name__)

POSITION_TOLERANCE_MM = 0.05
SPACING_TOLERANCE = 0.01  # relative deviation from the median spacing
MAX_TILT_DEG = 45.0
#: Most slices a resampled grid may have per slice read: missing slices are filled, but a
#: gap of hundreds of slices means corrupt positions, not a gap.
MAX_GRID_FACTOR = 4


def _text(dataset: Dataset, keyword: str) -> str:
    value = dataset.get(keyword)
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _number(dataset: Dataset, keyword: str) -> float | None:
    value = dataset.get(keyword)
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def series_metadata(dataset: Dataset, files: list[Path]) -> dict[str, Any]:
    """Source attributes kept with every volume of a DICOM series."""
    return {
        "series_uid": _text(dataset, "SeriesInstanceUID"),
        "study_uid": _text(dataset, "StudyInstanceUID"),
        "sop_class_uid": _text(dataset, "SOPClassUID"),
        "series_description": _text(dataset, "SeriesDescription"),
        "study_description": _text(dataset, "StudyDescription"),
        "protocol_name": _text(dataset, "ProtocolName"),
        "image_type": _text(dataset, "ImageType"),
        "manufacturer": _text(dataset, "Manufacturer"),
        "model": _text(dataset, "ManufacturerModelName"),
        "patient_position": _text(dataset, "PatientPosition"),
        "series_date": _text(dataset, "SeriesDate") or _text(dataset, "StudyDate"),
        "series_time": _text(dataset, "SeriesTime"),
        "files": [str(p) for p in files],
    }


def _ct_metadata(dataset: Dataset) -> dict[str, Any]:
    return {
        "units": "HU",
        "kvp": _number(dataset, "KVP"),
        "slice_thickness_mm": _number(dataset, "SliceThickness"),
        "convolution_kernel": _text(dataset, "ConvolutionKernel"),
        "exposure_mas": _number(dataset, "Exposure"),
        "ctdi_vol_mgy": _number(dataset, "CTDIvol"),
        "contrast_agent": _text(dataset, "ContrastBolusAgent"),
        "gantry_tilt_deg": _number(dataset, "GantryDetectorTilt"),
    }


def _rescaled(item: DicomFile) -> np.ndarray:
    pixels = pixel_data(item.dataset, item.path)
    if pixels.ndim != 2:
        raise DicomError(
            f"expected a single-frame 2D image; pixel data shape {pixels.shape}", item.path
        )
    slope = _number(item.dataset, "RescaleSlope")
    intercept = _number(item.dataset, "RescaleIntercept")
    out = pixels.astype(np.float32)
    if slope is not None and slope != 1.0:
        out *= np.float32(slope)
    if intercept:
        out += np.float32(intercept)
    return out


def _frame_key(dataset: Dataset) -> float:
    """Start time (s) of the PET frame a slice belongs to, for dynamic series."""
    reference_ms = _number(dataset, "FrameReferenceTime")
    if reference_ms is not None:
        return reference_ms / 1000.0
    moment = dicom_datetime(_text(dataset, "AcquisitionDate"), _text(dataset, "AcquisitionTime"))
    return moment.timestamp() if moment else 0.0


def _uniform_grid(
    positions: np.ndarray,
) -> tuple[np.ndarray, float, list[str]]:
    """Uniform slice positions covering ``positions`` (sorted), the spacing and warnings."""
    steps = np.diff(positions)
    spacing = float(np.median(steps))
    warnings: list[str] = []
    if np.all(np.abs(steps - spacing) <= SPACING_TOLERANCE * spacing + 1e-3):
        return positions, spacing, warnings
    for i, step in enumerate(steps):
        if step > 1.5 * spacing:
            warnings.append(
                f"missing slice(s) between z={positions[i]:.2f} and z={positions[i + 1]:.2f} mm: "
                f"expected spacing {spacing:.2f} mm, found {step:.2f} mm; gap filled by linear "
                f"interpolation"
            )
    if not warnings:
        warnings.append(
            f"uneven slice spacing ({steps.min():.3f} to {steps.max():.3f} mm); resampled to a "
            f"uniform {spacing:.3f} mm grid by linear interpolation along the slice axis"
        )
    n = (positions[-1] - positions[0]) / spacing + 1 if np.isfinite(spacing) and spacing > 0 else 0
    if not np.isfinite(n) or n > MAX_GRID_FACTOR * len(positions):
        raise GeometryError(
            f"{len(positions)} slices span {positions[-1] - positions[0]:.4g} mm at a median spacing "
            f"of {spacing:.4g} mm: the positions are inconsistent (a uniform grid would need "
            f"{n:.3g} slices)"
        )
    n = int(round(n))
    return positions[0] + spacing * np.arange(n), spacing, warnings


def _resample_slices(stack: np.ndarray, positions: np.ndarray, grid: np.ndarray) -> np.ndarray:
    upper = np.clip(np.searchsorted(positions, grid, side="left"), 1, len(positions) - 1)
    lower = upper - 1
    weight = (grid - positions[lower]) / (positions[upper] - positions[lower])
    weight = np.clip(weight, 0.0, 1.0).astype(np.float32)[:, None, None]
    return (1 - weight) * stack[lower] + weight * stack[upper]


def _correct_tilt(
    stack: np.ndarray,
    ipp: np.ndarray,
    along: np.ndarray,
    axes: tuple[np.ndarray, np.ndarray, np.ndarray],
    pixel_spacing: tuple[float, float],
    path: Path,
) -> tuple[np.ndarray, list[str]]:
    """Shift slices onto an orthogonal grid when positions drift in-plane (gantry tilt)."""
    row, col, normal = axes
    offsets = (ipp - ipp[0]) - np.outer(along - along[0], normal)
    drift = np.linalg.norm(offsets, axis=1)
    if len(along) < 2 or drift.max() <= 0.01:
        return stack, []
    tilt_deg = float(np.degrees(np.arctan2(drift[-1], abs(along[-1] - along[0]))))
    if tilt_deg > MAX_TILT_DEG:
        raise GeometryError(
            f"slice positions drift {drift[-1]:.1f} mm in-plane over "
            f"{abs(along[-1] - along[0]):.1f} mm ({tilt_deg:.1f} deg); this is not a gantry tilt "
            f"that can be corrected",
            path,
        )
    expected = np.outer(along - along[0], offsets[-1] / (along[-1] - along[0]))
    if np.abs(offsets - expected).max() > 0.5:
        raise GeometryError("slice positions are not collinear: inconsistent geometry", path)
    shift_rows = offsets @ col / pixel_spacing[0]
    shift_cols = offsets @ row / pixel_spacing[1]
    corrected = np.stack(
        [
            ndimage.shift(s, (dr, dc), order=1, mode="nearest")
            for s, dr, dc in zip(stack, shift_rows, shift_cols, strict=True)
        ]
    )
    message = (
        f"gantry tilt of {tilt_deg:.2f} deg detected; slices shifted onto an orthogonal grid "
        f"(linear interpolation)"
    )
    return corrected, [message]


def _build_volume(
    items: list[DicomFile], modality: str, metadata: dict[str, Any]
) -> tuple[Volume, list[str]]:
    """One 3D volume from single-frame files at distinct positions."""
    metadata = dict(metadata)
    first = items[0]
    iop = float_list(first.dataset, "ImageOrientationPatient", 6, first.path)
    if iop is None:
        raise DicomError("ImageOrientationPatient absent: slice geometry unknown", first.path)
    axes = orientation_axes(iop, first.path)
    ipp_list = []
    for item in items:
        ipp = float_list(item.dataset, "ImagePositionPatient", 3, item.path)
        if ipp is None:
            raise DicomError("ImagePositionPatient absent: slice cannot be placed", item.path)
        ipp_list.append(ipp)
    ipp = np.asarray(ipp_list)
    along = positions_along(ipp, axes[2])
    order = np.argsort(along, kind="stable")
    items = [items[i] for i in order]
    ipp, along = ipp[order], along[order]
    pixel_spacing = float_list(first.dataset, "PixelSpacing", 2, first.path)
    if pixel_spacing is None:
        raise DicomError("PixelSpacing absent: voxel size unknown", first.path)
    shapes = {(int(i.dataset.Rows), int(i.dataset.Columns)) for i in items}
    if len(shapes) > 1:
        raise GeometryError(f"slices of one series differ in size: {sorted(shapes)}", first.path)
    stack = np.stack([_rescaled(i) for i in items])
    stack, warnings = _correct_tilt(stack, ipp, along, axes, tuple(pixel_spacing), first.path)
    if len(items) > 1:
        grid, spacing, grid_warnings = _uniform_grid(along)
        if grid_warnings:
            stack = _resample_slices(stack, along, grid)
            metadata["interpolated_slices"] = [
                int(k) for k, g in enumerate(grid) if np.min(np.abs(along - g)) > 0.01
            ]
            warnings += grid_warnings
    else:
        spacing = _number(first.dataset, "SpacingBetweenSlices") or _number(
            first.dataset, "SliceThickness"
        )
        spacing = abs(spacing) if spacing else 1.0
    volume = Volume(
        stack,
        spacing_mm=(spacing, pixel_spacing[0], pixel_spacing[1]),
        origin_mm=tuple(ipp[0]),
        direction=np.column_stack(axes),
        modality=modality,
        frame_of_reference_uid=_text(first.dataset, "FrameOfReferenceUID") or None,
        metadata=metadata,
    )
    return volume, warnings


def _split_positions(items: list[DicomFile], normal: np.ndarray) -> dict[float, list[DicomFile]]:
    """Files grouped by slice position along ``normal`` (rounded to the tolerance)."""
    groups: dict[float, list[DicomFile]] = defaultdict(list)
    for item in items:
        ipp = float_list(item.dataset, "ImagePositionPatient", 3, item.path)
        if ipp is None:
            raise DicomError("ImagePositionPatient absent: slice cannot be placed", item.path)
        key = round(float(np.asarray(ipp) @ normal) / POSITION_TOLERANCE_MM)
        groups[key].append(item)
    return groups


def _drop_duplicates(groups: dict[float, list[DicomFile]]) -> tuple[list[DicomFile], list[str]]:
    kept: list[DicomFile] = []
    identical = differing = 0
    for members in groups.values():
        members = sorted(members, key=lambda i: int(i.dataset.get("InstanceNumber") or 0))
        kept.append(members[0])
        for other in members[1:]:
            if np.array_equal(
                pixel_data(other.dataset, other.path),
                pixel_data(members[0].dataset, members[0].path),
            ):
                identical += 1
            else:
                differing += 1
    warnings = []
    if identical:
        warnings.append(f"{identical} duplicate slice(s) with identical pixels dropped")
    if differing:
        warnings.append(
            f"{differing} slice(s) at an already occupied position with different pixels "
            f"dropped (kept the lowest InstanceNumber); check for several acquisitions in one series"
        )
    return kept, warnings


def assemble_slice_series(items: list[DicomFile]) -> Series:
    """A :class:`Series` from the single-frame files of one SeriesInstanceUID.

    CT values are HU (RescaleSlope/Intercept), PET values Bq/mL with
    ``metadata["suv_factor"]`` (multiply to get SUVbw) where the header allows.
    """
    warnings: list[str] = []
    keys = [
        tuple(np.round(float_list(i.dataset, "ImageOrientationPatient", 6, i.path) or [0] * 6, 4))
        for i in items
    ]
    orientations = Counter(keys)
    if len(orientations) > 1:
        main, n_main = orientations.most_common(1)[0]
        items = [i for i, key in zip(items, keys, strict=True) if key == main]
        warnings.append(
            f"{len(keys) - n_main} slice(s) with another orientation (localizer?) left out"
        )
    first = items[0].dataset
    modality = _text(first, "Modality") or "OT"
    files = [i.path for i in items]
    metadata = series_metadata(first, files)
    if modality == "CT":
        metadata.update(_ct_metadata(first))
    elif modality == "PT":
        metadata["units"] = PET_UNITS.get(_text(first, "Units").upper(), _text(first, "Units"))
        factor, note = suv_body_weight_factor(first)
        metadata["suv_factor"] = factor
        metadata["suv_note"] = note
        metadata["radiopharmaceutical"] = _text(
            (first.get("RadiopharmaceuticalInformationSequence") or [Dataset()])[0],
            "Radiopharmaceutical",
        )
    else:
        metadata["units"] = _text(first, "Units") or "stored values"
    iop = float_list(first, "ImageOrientationPatient", 6, items[0].path)
    if iop is None:
        raise DicomError("ImageOrientationPatient absent: slice geometry unknown", items[0].path)
    normal = orientation_axes(iop, items[0].path)[2]
    groups = _split_positions(items, normal)
    frames: list[Volume] = []
    frame_times: list[float] = []
    counts = {len(m) for m in groups.values()}
    by_time: dict[float, list[DicomFile]] = defaultdict(list)
    if modality == "PT" and len(counts) == 1 and counts.pop() > 1:
        for item in items:
            by_time[_frame_key(item.dataset)].append(item)
    if len(by_time) > 1 and len({len(m) for m in by_time.values()}) == 1:
        start = min(by_time)
        for key in sorted(by_time):
            frame, frame_warnings = _build_volume(by_time[key], modality, dict(metadata))
            frames.append(frame)
            frame_times.append(key - start)
            warnings += frame_warnings
        durations = np.array(
            [_number(by_time[k][0].dataset, "ActualFrameDuration") or 1.0 for k in sorted(by_time)]
        )
        mean = sum(f.array * (d / durations.sum()) for f, d in zip(frames, durations, strict=True))
        volume = frames[0].with_array(mean.astype(np.float32), metadata=dict(metadata))
        volume.metadata["frame_average"] = "duration-weighted mean of all frames"
    else:
        kept, duplicate_warnings = _drop_duplicates(groups)
        warnings += duplicate_warnings
        volume, volume_warnings = _build_volume(kept, modality, metadata)
        warnings += volume_warnings
    for message in warnings:
        logger.warning("series %s: %s", metadata["series_uid"], message)
    return Series(
        series_uid=metadata["series_uid"],
        modality=modality,
        volume=volume,
        frames=frames,
        frame_times_s=frame_times,
        description=metadata["series_description"],
        files=files,
        warnings=warnings,
        metadata=metadata,
    )
