"""LV long axis, anatomical orientation and oblique reslicing (short axis, VLA, HLA).

The long axis is the axis of rotational symmetry of the LV myocardium: the
principal axis of the thresholded myocardium whose eigenvalue differs most from
the other two, refined by a line fit through the centres of the short-axis rings
(as in the reorientation step of QGS, Germano G et al., J Nucl Med 1995;36:2138).
Its sign points from apex to base: the apex is the end where myocardium crosses
the axis. Angles follow :mod:`cardiolens.core.aha` and the phantom's LV frame
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
from cardiolens.nuclear.localize import LvLocation, field_of_view, working_volume

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
#: Typical apex-to-base direction (towards patient right, posterior, superior).
_TYPICAL_BASE_DIRECTION_LPS = np.array([-1.0, 1.0, 1.0]) / np.sqrt(3.0)


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


def _unique_axis(points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Principal axis whose eigenvalue differs most from the other two (symmetry axis)."""
    centre = np.average(points, axis=0, weights=weights)
    rel = points - centre
    cov = (rel * weights[:, None]).T @ rel / weights.sum()
    values, vectors = np.linalg.eigh(cov)
    gaps = [abs(values[i] - np.mean(np.delete(values, i))) for i in range(3)]
    return vectors[:, int(np.argmax(gaps))]


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
    weights = np.clip(work.array[mask].astype(float), 1e-6, None)
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
        centre = np.average(points, axis=0, weights=weights)
    else:
        axis = _unique_axis(points, weights)
        if axis @ _TYPICAL_BASE_DIRECTION_LPS < 0:
            axis = -axis
        centre = np.average(points, axis=0, weights=weights)
        axis, centre = _refine_axis(points, axis, centre)
        axis = _orient_apex_to_base(
            work, axis, np.asarray(location.center_lps), location.mid_wall_radius_mm
        )
    rel = points - centre
    height = rel @ axis
    radial = np.linalg.norm(rel - np.outer(height, axis), axis=1)
    mid_radius = float(np.median(radial[height > np.percentile(height, 30)]))
    apex_height = float(np.percentile(height, 1))
    origin = centre + (apex_height + mid_radius) * axis
    axes = frame_from_axis(axis, origin, mid_radius)
    logger.info("LV long axis (apex to base, LPS) %s", np.round(axis, 3))
    return axes


def _refine_axis(
    points: np.ndarray, axis: np.ndarray, centre: np.ndarray, iterations: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Line fit through the centres of short-axis rings of the myocardium."""
    for _ in range(iterations):
        anterior, septal = _orthonormal_frame(axis)
        rel = points - centre
        height = rel @ axis
        angle = np.arctan2(rel @ septal, rel @ anterior)
        centres = []
        for h in np.arange(np.floor(height.min()), np.ceil(height.max()) + 1.0, 4.0):
            ring = np.abs(height - h) <= 3.0
            # only rings that go round: at least 10 of 12 angular sectors occupied
            sectors = np.unique(np.floor((angle[ring] + np.pi) / (np.pi / 6)).astype(int))
            if ring.sum() >= 12 and len(sectors) >= 10:
                centres.append(points[ring].mean(axis=0))
        if len(centres) < 3:
            break
        centres_arr = np.asarray(centres)
        mean = centres_arr.mean(axis=0)
        _, _, vt = np.linalg.svd(centres_arr - mean)
        new_axis = vt[0] if vt[0] @ axis >= 0 else -vt[0]
        # a short-ring fit may tilt wildly when few rings exist; accept moderate corrections
        if np.degrees(np.arccos(np.clip(new_axis @ axis, -1, 1))) > 30.0:
            break
        axis, centre = new_axis, mean
    return axis, centre


def _orient_apex_to_base(
    work: Volume, axis: np.ndarray, centre: np.ndarray, mid_radius_mm: float
) -> np.ndarray:
    """Flip ``axis`` so that it points from the apex to the base.

    Along the axis the apex side crosses the apical wall (hot) while the base
    side leaves through the open valve plane: the mean of the count maxima of a
    bundle of rays within 20 deg of each direction decides. Too little
    difference (< 10 %) falls back to the typical anatomical direction.
    """
    anterior, septal = _orthonormal_frame(axis)
    radii = np.arange(4.0, 2.5 * mid_radius_mm + 10.0, 2.0)
    tilt = np.deg2rad(20.0)
    spin = np.deg2rad(np.arange(0.0, 360.0, 45.0))
    bundle = [axis] + [
        np.cos(tilt) * axis + np.sin(tilt) * (np.cos(a) * anterior + np.sin(a) * septal)
        for a in spin
    ]
    image = ndi.gaussian_filter(np.clip(work.array, 0, None).astype(np.float32), 1.0)

    def side_max(sign: float) -> float:
        peaks = []
        for ray in bundle:
            points = centre + np.outer(radii, sign * ray)
            values = ndi.map_coordinates(image, work.physical_to_index(points).T, order=1)
            peaks.append(values.max())
        return float(np.mean(peaks))

    towards_plus, towards_minus = side_max(1.0), side_max(-1.0)
    if abs(towards_plus - towards_minus) > 0.1 * max(towards_plus, towards_minus):
        # the apex is on the hotter side; the axis must point away from it
        return -axis if towards_plus > towards_minus else axis
    return axis if axis @ _TYPICAL_BASE_DIRECTION_LPS >= 0 else -axis


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
