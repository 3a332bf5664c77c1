"""LV long axis, anatomical orientation and oblique reslicing (short axis, VLA, HLA).

The first long axis points from the cavity centre through the opening of the
myocardial shell (the valve plane), found from the wall contrast met by rays in
all directions; it is then refined by a line fit through the centres of the
mid-myocardial rings (:func:`cardiolens.nuclear.segment.refine_lv_axes`, the
reorientation loop of QGS, Germano G et al., J Nucl Med 1995;36:2138-2147). Angles follow :mod:`cardiolens.core.aha` and the phantom's LV frame
(:mod:`cardiolens.phantom.lv_geometry`): 0 deg anterior, opposite the inferior
(diaphragmatic) wall, i.e. the patient's superior direction projected on the
short-axis plane; 90 deg septal = (base-to-apex axis) x (anterior axis), which
points to the patient's right and anterior, towards the right ventricle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.errors import AnalysisError, ParameterError
from cardiolens.core.volume import Volume
from cardiolens.nuclear.localize import (
    LvLocation,
    _fibonacci_directions,
    field_of_view,
    working_volume,
)

__all__ = [
    "LvAxes",
    "View",
    "estimate_lv_axes",
    "frame_from_axis",
    "threshold_myocardium",
    "reslice",
]

logger = logging.getLogger(__name__)

_SUPERIOR_LPS = np.array([0.0, 0.0, 1.0])
_ANTERIOR_LPS = np.array([0.0, -1.0, 0.0])


@dataclass(frozen=True)
class LvAxes:
    """The LV coordinate frame in the patient (LPS) system.

    Attributes
    ----------
    origin_lps
        Point on the long axis (mm, LPS) from which the apical dome is sampled:
        about one mid-wall radius above the epicardial apex.
    long_axis_lps
        Unit vector from apex to base.
    anterior_lps
        Unit vector of short-axis angle 0 deg (anterior).
    septal_lps
        Unit vector of short-axis angle 90 deg (septal).
    mid_wall_radius_mm
        Median distance of the myocardium from the long axis, mm.
    """

    origin_lps: tuple[float, float, float]
    long_axis_lps: tuple[float, float, float]
    anterior_lps: tuple[float, float, float]
    septal_lps: tuple[float, float, float]
    mid_wall_radius_mm: float

    def direction(self, angle_deg: np.ndarray) -> np.ndarray:
        """Unit short-axis vectors (..., 3) at the given angles (0 anterior, 90 septal)."""
        theta = np.deg2rad(np.asarray(angle_deg, dtype=float))[..., None]
        return np.cos(theta) * np.asarray(self.anterior_lps) + np.sin(theta) * np.asarray(
            self.septal_lps
        )

    def to_lv(self, points_lps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """LV coordinates of LPS points (n, 3): height along the axis, radius and angle (deg)."""
        rel = np.asarray(points_lps, dtype=float) - np.asarray(self.origin_lps)
        height = rel @ np.asarray(self.long_axis_lps)
        ant = rel @ np.asarray(self.anterior_lps)
        sep = rel @ np.asarray(self.septal_lps)
        return height, np.hypot(ant, sep), np.mod(np.rad2deg(np.arctan2(sep, ant)), 360.0)

    def to_dict(self) -> dict[str, list[float] | float]:
        """JSON-ready axes (rounded)."""
        return {
            "origin_lps_mm": [round(v, 2) for v in self.origin_lps],
            "long_axis_lps": [round(v, 4) for v in self.long_axis_lps],
            "anterior_lps": [round(v, 4) for v in self.anterior_lps],
            "septal_lps": [round(v, 4) for v in self.septal_lps],
            "mid_wall_radius_mm": round(self.mid_wall_radius_mm, 2),
        }


class View(StrEnum):
    """Standard cardiac oblique views."""

    SHORT_AXIS = "short_axis"
    VERTICAL_LONG_AXIS = "vla"
    HORIZONTAL_LONG_AXIS = "hla"


def threshold_myocardium(
    work: Volume, location: LvLocation, *, fraction: float = 0.5
) -> np.ndarray:
    """First myocardium estimate: the hot connected region around the located LV centre.

    Voxels above ``fraction`` of the robust maximum (95th percentile) of the
    matched shell, restricted to a sphere 30 mm beyond the shell; the connected
    component that overlaps the shell most.
    """
    image = ndi.gaussian_filter(np.clip(work.array, 0, None).astype(np.float32), 0.8)
    index = np.indices(work.shape).reshape(3, -1).T
    dist = np.linalg.norm(
        work.index_to_physical(index) - np.asarray(location.center_lps), axis=1
    ).reshape(work.shape)
    radius = location.mid_wall_radius_mm
    shell = np.abs(dist - radius) <= 8.0
    shell &= field_of_view(work.array)
    if not shell.any():
        raise AnalysisError("the located LV lies outside the field of view")
    reference = float(np.percentile(image[shell], 95))
    hot = (image >= fraction * reference) & (dist <= radius + 30.0)
    labels, n = ndi.label(hot)
    if n == 0:
        raise AnalysisError("no myocardium above threshold around the located LV")
    overlap = ndi.sum(shell, labels, index=np.arange(1, n + 1))
    return labels == (int(np.argmax(overlap)) + 1)


def frame_from_axis(
    long_axis_lps: np.ndarray, origin_lps: np.ndarray, mid_wall_radius_mm: float
) -> LvAxes:
    """LV axes with the anatomical angle reference for a given long axis (apex to base)."""
    axis = np.asarray(long_axis_lps, dtype=float)
    axis = axis / np.linalg.norm(axis)
    anterior, septal = _orthonormal_frame(axis)
    return LvAxes(
        origin_lps=tuple(float(v) for v in origin_lps),
        long_axis_lps=tuple(float(v) for v in axis),
        anterior_lps=tuple(float(v) for v in anterior),
        septal_lps=tuple(float(v) for v in septal),
        mid_wall_radius_mm=float(mid_wall_radius_mm),
    )


def _orthonormal_frame(long_axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Anterior and septal unit vectors perpendicular to ``long_axis`` (apex to base)."""
    anterior = _SUPERIOR_LPS - (_SUPERIOR_LPS @ long_axis) * long_axis
    if np.linalg.norm(anterior) < 0.2:  # long axis nearly cranio-caudal
        anterior = _ANTERIOR_LPS - (_ANTERIOR_LPS @ long_axis) * long_axis
    anterior /= np.linalg.norm(anterior)
    septal = np.cross(-long_axis, anterior)
    return anterior, septal


def estimate_lv_axes(
    volume: Volume,
    location: LvLocation,
    *,
    long_axis_lps: tuple[float, float, float] | None = None,
) -> LvAxes:
    """Long axis and anatomical orientation of the LV.

    Parameters
    ----------
    volume
        Transaxial emission image.
    location
        Result of :func:`~cardiolens.nuclear.localize.localize_lv`.
    long_axis_lps
        Manual override of the long axis direction (apex to base, LPS); it is
        normalised, and the apex position is still found from the data.

    Returns
    -------
    LvAxes
    """
    work = working_volume(volume)
    mask = threshold_myocardium(work, location)
    index = np.argwhere(mask)
    points = work.index_to_physical(index)
    if len(points) < 20:
        raise AnalysisError(
            f"the myocardium found is too small ({len(points)} voxels) for a long axis"
        )
    if long_axis_lps is not None:
        axis = np.asarray(long_axis_lps, dtype=float)
        if axis.shape != (3,) or not np.all(np.isfinite(axis)) or np.linalg.norm(axis) == 0:
            raise ParameterError(
                f"long_axis_lps must be three finite numbers, not all zero; got {long_axis_lps}"
            )
        axis = axis / np.linalg.norm(axis)
    else:
        axis = valve_opening_direction(work, location)
    # the axis passes through the cavity centre (a defect would pull the myocardium's centroid)
    rel = points - np.asarray(location.center_lps)
    height = rel @ axis
    radial = np.linalg.norm(rel - np.outer(height, axis), axis=1)
    mid_radius = float(np.median(radial[height > np.percentile(height, 30)]))
    apex_height = float(np.percentile(height, 1))
    origin = np.asarray(location.center_lps) + (apex_height + mid_radius) * axis
    axes = frame_from_axis(axis, origin, mid_radius)
    logger.info("LV long axis (apex to base, LPS) %s", np.round(axis, 3))
    return axes


def valve_opening_direction(
    work: Volume, location: LvLocation, *, power: float = 16.0
) -> np.ndarray:
    """Unit LPS vector from the LV cavity towards the valve plane (apex to base).

    From the cavity centre, rays in 400 directions meet the myocardium except
    through the open base. Each direction is weighted by ``(1 - c) ** power``
    where ``c`` (0..1) is the wall contrast met between 0.5 and 1.8 mid-wall
    radii (relative to the cavity and the hottest 10 % of directions); the
    weighted mean direction points to the opening. Unlike moments of the
    myocardium it does not depend on the LV's length-to-width ratio. The high
    power keeps reduced but present walls (perfusion defects, c about 0.3) from
    competing with the empty valve opening (c about 0).
    """
    image = ndi.gaussian_filter(np.clip(work.array, 0, None).astype(np.float32), 1.0)
    centre = work.physical_to_index(np.asarray([location.center_lps]))[0]
    radius = location.mid_wall_radius_mm / float(np.mean(work.spacing_mm))
    directions = _fibonacci_directions(400)
    steps = np.linspace(0.5, 1.8, 14) * radius
    points = centre[None, None, :] + steps[None, :, None] * directions[:, None, :]
    values = ndi.map_coordinates(image, points.reshape(-1, 3).T, order=1)
    wall = values.reshape(len(directions), len(steps)).max(axis=1)
    core = float(ndi.map_coordinates(image, centre[:, None], order=1)[0])
    top = float(np.percentile(wall, 90))
    contrast = np.clip((wall - core) / max(top - core, 1e-9), 0.0, 1.0)
    mean = ((1.0 - contrast) ** power)[:, None] * directions
    opening_zyx = mean.sum(axis=0)
    if np.linalg.norm(opening_zyx) < 1e-6:
        raise AnalysisError("the LV has no open base in the image: cannot orient the long axis")
    lps = work.direction @ (opening_zyx[::-1] * np.asarray(work.spacing_mm[::-1]))
    return lps / np.linalg.norm(lps)


def reslice(
    volume: Volume,
    axes: LvAxes,
    view: View | str,
    *,
    spacing_mm: float = 2.0,
    fov_mm: float = 128.0,
) -> Volume:
    """The volume resampled into a standard cardiac view around the LV.

    Short axis: slices from apex to base, anterior up, septum left. Vertical
    long axis: slices from septum to lateral, anterior up, apex right.
    Horizontal long axis: slices from anterior to inferior, septum left, apex up.

    Parameters
    ----------
    volume
        Transaxial image.
    axes
        LV frame from :func:`estimate_lv_axes`.
    view
        ``short_axis``, ``vla`` or ``hla``.
    spacing_mm, fov_mm
        Isotropic voxel size and cube edge of the output, mm.
    """
    try:
        view = View(view)
    except ValueError:
        raise ParameterError(
            f"view must be one of {', '.join(v.value for v in View)}; got {view!r}"
        ) from None
    u = np.asarray(axes.long_axis_lps)
    ant = np.asarray(axes.anterior_lps)
    sep = np.asarray(axes.septal_lps)
    columns = {
        View.SHORT_AXIS: (-sep, -ant, u),
        View.VERTICAL_LONG_AXIS: (-u, -ant, -sep),
        View.HORIZONTAL_LONG_AXIS: (-sep, u, -ant),
    }[view]
    direction = np.column_stack(columns)
    n = int(round(fov_mm / spacing_mm))
    centre = np.asarray(axes.origin_lps) + 0.25 * fov_mm * u
    origin = centre - direction @ np.full(3, 0.5 * (n - 1) * spacing_mm)
    reference = Volume(
        np.zeros((n, n, n), dtype=np.float32),
        spacing_mm=(spacing_mm,) * 3,
        origin_mm=tuple(origin),
        direction=direction,
        modality=volume.modality,
    )
    out = volume.resample_to(reference)
    return out.with_array(out.array, metadata={**volume.metadata, "view": view.value})
