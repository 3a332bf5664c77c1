"""Patient-frame geometry from DICOM attributes (DICOM PS3.3 C.7.6.2, LPS coordinates)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from cardiolens.core.errors import DicomError

__all__ = ["float_list", "orientation_axes", "positions_along"]


def float_list(dataset: Dataset, keyword: str, length: int, path: str | Path) -> list[float] | None:
    """Attribute ``keyword`` as ``length`` floats, None when absent; DicomError when malformed."""
    value = dataset.get(keyword)
    if value is None or value == "":
        return None
    values = (
        list(value) if isinstance(value, list | tuple) or hasattr(value, "__len__") else [value]
    )
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        raise DicomError(f"{keyword} is not numeric: {value!r}", path) from None
    if len(numbers) != length or not np.all(np.isfinite(numbers)):
        raise DicomError(f"{keyword} must hold {length} finite numbers; got {value!r}", path)
    return numbers


def orientation_axes(
    image_orientation: list[float], path: str | Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit LPS vectors ``(row, column, normal)`` from ImageOrientationPatient.

    ``row`` is the direction of increasing column index (x), ``column`` that of
    increasing row index (y), ``normal = row x column``.
    """
    row = np.asarray(image_orientation[:3], dtype=float)
    col = np.asarray(image_orientation[3:], dtype=float)
    norms = np.linalg.norm(row), np.linalg.norm(col)
    if min(norms) < 1e-6:
        raise DicomError(f"ImageOrientationPatient has a zero vector: {image_orientation}", path)
    row, col = row / norms[0], col / norms[1]
    if abs(float(row @ col)) > 1e-3:
        raise DicomError(
            f"ImageOrientationPatient row and column are not perpendicular "
            f"(cosine {row @ col:.4f}): {image_orientation}",
            path,
        )
    col = col - (row @ col) * row
    col /= np.linalg.norm(col)
    return row, col, np.cross(row, col)


def positions_along(positions_lps: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Signed distance (mm) of each position ``(n, 3)`` along the slice ``normal``."""
    return np.asarray(positions_lps, dtype=float) @ np.asarray(normal, dtype=float)
