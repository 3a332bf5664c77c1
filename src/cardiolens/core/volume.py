"""`Volume`: a 3D image with its geometry in the DICOM patient frame (LPS).

Conventions (the same as SimpleITK/ITK and DICOM):

* ``array`` is indexed ``[z, y, x]`` (slice, row, column).
* ``spacing_mm`` is ``(z, y, x)`` in mm.
* ``origin_mm`` is the LPS position (x, y, z) in mm of the centre of voxel ``[0, 0, 0]``.
* ``direction`` is a 3x3 matrix whose columns are the LPS unit vectors of the
  column (x), row (y) and slice (z) index axes, i.e. ITK's direction matrix.

A physical point is therefore ``origin + direction @ (spacing_xyz * index_xyz)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import SimpleITK as sitk

from cardiolens.core.errors import GeometryError, ParameterError

__all__ = ["Volume"]


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3D image in the patient frame.

    Parameters
    ----------
    array
        Voxel values, shape ``(z, y, x)``; HU for CT, counts for SPECT, Bq/mL for PET.
    spacing_mm
        Voxel size ``(z, y, x)`` in mm, all positive.
    origin_mm
        LPS coordinates ``(x, y, z)`` in mm of the centre of voxel ``[0, 0, 0]``.
    direction
        3x3 direction cosines (columns: x, y, z index axes in LPS).
    modality
        DICOM modality code (``CT``, ``NM``, ``PT``, ``MR``) or ``OT`` when unknown.
    frame_of_reference_uid
        DICOM FrameOfReferenceUID shared by images in one coordinate system.
    metadata
        Source attributes worth keeping (units, series UID, file paths...).
    """

    array: np.ndarray
    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    modality: str = "OT"
    frame_of_reference_uid: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        array = np.asarray(self.array)
        if array.ndim != 3:
            raise GeometryError(f"a Volume needs a 3D array (z, y, x); got shape {array.shape}")
        spacing = tuple(float(s) for s in self.spacing_mm)
        if len(spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in spacing):
            raise GeometryError(f"spacing_mm must be three positive numbers; got {self.spacing_mm}")
        origin = tuple(float(o) for o in self.origin_mm)
        if len(origin) != 3 or not all(np.isfinite(origin)):
            raise GeometryError(f"origin_mm must be three finite numbers; got {self.origin_mm}")
        direction = np.asarray(self.direction, dtype=float).reshape(3, 3)
        if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
            raise GeometryError("direction must be an orthonormal 3x3 matrix of direction cosines")
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "spacing_mm", spacing)
        object.__setattr__(self, "origin_mm", origin)
        object.__setattr__(self, "direction", direction)

    # ------------------------------------------------------------------ geometry
    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape ``(z, y, x)``."""
        return tuple(int(n) for n in self.array.shape)  # type: ignore[return-value]

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel in mm^3."""
        return float(np.prod(self.spacing_mm))

    @property
    def affine_lps(self) -> np.ndarray:
        """4x4 matrix mapping a homogeneous index ``(x, y, z, 1)`` to LPS mm."""
        affine = np.eye(4)
        affine[:3, :3] = self.direction * np.asarray(self.spacing_mm[::-1])[None, :]
        affine[:3, 3] = self.origin_mm
        return affine

    def index_to_physical(self, index_zyx: np.ndarray) -> np.ndarray:
        """LPS points (mm), shape ``(n, 3)`` as ``(x, y, z)``, of voxel indices ``(n, 3)`` as ``(z, y, x)``."""
        idx = np.atleast_2d(np.asarray(index_zyx, dtype=float))[:, ::-1]
        return idx @ self.affine_lps[:3, :3].T + np.asarray(self.origin_mm)

    def physical_to_index(self, points_lps: np.ndarray) -> np.ndarray:
        """Continuous voxel indices ``(n, 3)`` as ``(z, y, x)`` of LPS points ``(n, 3)`` in mm."""
        pts = np.atleast_2d(np.asarray(points_lps, dtype=float)) - np.asarray(self.origin_mm)
        idx_xyz = np.linalg.solve(self.affine_lps[:3, :3], pts.T).T
        return idx_xyz[:, ::-1]

    def same_geometry(self, other: Volume, tol_mm: float = 1e-3) -> bool:
        """True when ``other`` has the same shape, spacing, origin and direction."""
        return (
            self.shape == other.shape
            and np.allclose(self.spacing_mm, other.spacing_mm, atol=tol_mm)
            and np.allclose(self.origin_mm, other.origin_mm, atol=tol_mm)
            and np.allclose(self.direction, other.direction, atol=1e-4)
        )

    def with_array(self, array: np.ndarray, **changes: Any) -> Volume:
        """A copy with another array of the same shape (and optional other field changes)."""
        array = np.asarray(array)
        if array.shape != self.array.shape and "spacing_mm" not in changes:
            raise GeometryError(f"with_array expects shape {self.array.shape}; got {array.shape}")
        return replace(self, array=array, **changes)

    # ------------------------------------------------------------------ SimpleITK
    def to_sitk(self) -> sitk.Image:
        """The SimpleITK image with identical voxels and geometry."""
        image = sitk.GetImageFromArray(np.ascontiguousarray(self.array))
        image.SetSpacing(tuple(reversed(self.spacing_mm)))
        image.SetOrigin(self.origin_mm)
        image.SetDirection(tuple(self.direction.ravel()))
        return image

    @classmethod
    def from_sitk(cls, image: sitk.Image, **fields: Any) -> Volume:
        """A Volume from a 3D SimpleITK image (lossless inverse of :meth:`to_sitk`)."""
        if image.GetDimension() != 3:
            raise GeometryError(f"expected a 3D image; got {image.GetDimension()}D")
        return cls(
            array=sitk.GetArrayFromImage(image),
            spacing_mm=tuple(reversed(image.GetSpacing())),
            origin_mm=image.GetOrigin(),
            direction=np.asarray(image.GetDirection()).reshape(3, 3),
            **fields,
        )

    # ------------------------------------------------------------------ resampling
    def resample_to(
        self, reference: Volume, interpolation: str = "linear", default_value: float = 0.0
    ) -> Volume:
        """This image resampled onto the grid of ``reference``.

        ``interpolation`` is ``"linear"``, ``"nearest"`` (masks) or ``"bspline"``.
        """
        return self._resample(reference.to_sitk(), interpolation, default_value)

    def resample_spacing(
        self, spacing_mm: tuple[float, float, float], interpolation: str = "linear"
    ) -> Volume:
        """This image resampled to new voxel spacing ``(z, y, x)`` mm over the same extent."""
        new_spacing = np.asarray(spacing_mm, dtype=float)
        if new_spacing.shape != (3,) or np.any(new_spacing <= 0):
            raise ParameterError(f"spacing_mm must be three positive numbers; got {spacing_mm}")
        extent = np.asarray(self.shape) * np.asarray(self.spacing_mm)
        new_shape = np.maximum(1, np.round(extent / new_spacing)).astype(int)
        ref = sitk.Image([int(n) for n in new_shape[::-1]], sitk.sitkFloat32)
        ref.SetSpacing(tuple(float(s) for s in new_spacing[::-1]))
        # keep the outer corner of the grid fixed: shift the first voxel centre
        shift_xyz = 0.5 * (new_spacing - np.asarray(self.spacing_mm))[::-1]
        ref.SetOrigin(tuple(np.asarray(self.origin_mm) + self.direction @ shift_xyz))
        ref.SetDirection(tuple(self.direction.ravel()))
        return self._resample(ref, interpolation, 0.0)

    def _resample(self, reference: sitk.Image, interpolation: str, default_value: float) -> Volume:
        interpolators = {
            "linear": sitk.sitkLinear,
            "nearest": sitk.sitkNearestNeighbor,
            "bspline": sitk.sitkBSpline,
        }
        if interpolation not in interpolators:
            raise ParameterError(
                f"interpolation must be one of {sorted(interpolators)}; got {interpolation!r}"
            )
        source = self.to_sitk()
        if interpolation != "nearest" and source.GetPixelID() != sitk.sitkFloat64:
            source = sitk.Cast(source, sitk.sitkFloat32)
        out = sitk.Resample(
            source, reference, sitk.Transform(), interpolators[interpolation], default_value
        )
        return Volume.from_sitk(
            out,
            modality=self.modality,
            frame_of_reference_uid=self.frame_of_reference_uid,
            metadata=dict(self.metadata),
        )

    def __repr__(self) -> str:
        return (
            f"Volume(shape={self.shape}, spacing_mm={tuple(round(s, 4) for s in self.spacing_mm)}, "
            f"modality={self.modality!r})"
        )
