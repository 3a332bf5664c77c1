"""Classical LV myocardium segmentation from count profiles normal to the mid-myocardium.

The myocardium is sampled along rays from the long axis: perpendicular to it
in the cylindrical part of the LV and from a centre on the axis over the apical
dome (hybrid cylindrical/spherical sampling of Germano G et al., J Nucl Med
1995;36:2138-2147, QGS, and Garcia EV et al., Emory Cardiac Toolbox). On each
ray the count maximum is the mid-myocardium (maximal-count sampling). Two
pairs of boundaries are kept:

* the *visible* myocardium (``r_inner_mm``, ``r_outer_mm``): where the count
  profile falls to half its height above the cavity and the background (the
  mask a reader would draw; with a population-typical wall in defects where
  the profile has no contrast);
* the *anatomical* endo- and epicardium (``r_endo_mm``, ``r_epi_mm``): half the
  wall thickness either side of the mid-myocardium. SPECT resolution (12-15 mm)
  is coarser than the wall (about 10 mm), so a threshold on the blurred profile
  misplaces the endocardium by several mm; as in QGS the wall is modelled
  instead: a population thickness in one (summed or ungated) image, and in gated
  studies an end-diastolic thickness measured from the count profiles of the
  gates (partial-volume fit) kept at constant myocardial volume over the cycle,
  see :mod:`cardiolens.nuclear.function`.
The valve plane is a plane fitted to the basal ends of the walls: a bright wall
ends where its counts fall halfway from the LV's count level to the background, a
defect wall (below 70 % of that level) halfway from its own level, as it reaches
the base at reduced counts; mildly reduced walls (70-80 %) are left out of the
fit. The endocardial apex is where the inner surface meets the long axis. In a
defect, or where a ray has followed extracardiac activity, the mid-myocardium is
interpolated across from the bright wall of the same ring (as QPS does) and
sampled there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.aha import aha_segment
from cardiolens.core.errors import AnalysisError
from cardiolens.core.volume import Volume
from cardiolens.nuclear.localize import working_volume
from cardiolens.nuclear.reorient import LvAxes, frame_from_axis

__all__ = ["RayGrid", "LvSurfaces", "fit_surfaces", "myocardium_mask", "refine_lv_axes"]

logger = logging.getLogger(__name__)

_RADIAL_STEP_MM = 1.0
_SEARCH_WINDOW_MM = 8.0
#: A local count maximum is the mid-myocardium when it reaches this fraction of the ray's maximum.
_PEAK_FRACTION = 0.5
#: A ray whose maximum is below this fraction of its ring's bright wall is in a defect.
_DEFECT_FRACTION = 0.6
#: A wall whose level stands less than this fraction of the LV's above the background is
#: too faint to show where it ends (the valve plane is fitted to the other walls).
_MIN_WALL_CONTRAST = 0.3
#: A wall below this fraction of the LV's count level (a defect of 30 % or more) ends where
#: its counts fall halfway from its own level to the background, not the LV's: a defect wall
#: reaches the base at reduced counts.
_DARK_WALL_FRACTION = 0.7
#: Walls between the dark and this fraction (mild reductions, or a normal wall whose base
#: merges with extracardiac activity) are left out of the valve-plane fit.
_BRIGHT_WALL_FRACTION = 0.8
#: A ray farther than this fraction of its ring's median radius from it is an outlier.
_RING_OUTLIER_FRACTION = 0.35
#: Largest base excursion of a gate from the summed image's valve plane, mm.
_VALVE_MOTION_MM = 12.0
#: Largest difference of the valve height between opposite walls / 2, mm.
_MAX_VALVE_TILT_MM = 8.0
#: Population LV wall thickness, mm (normal end-diastolic wall 6-11 mm; Lang RM et al.,
#: J Am Soc Echocardiogr 2015;28:1-39): ungated images, and gated ones where the wall
#: cannot be measured from the gates.
DEFAULT_WALL_THICKNESS_MM = 10.0


@dataclass(frozen=True)
class RayGrid:
    """Sampling grid of the LV: rings of rays by angle, apex first.

    ``n_apical`` rings sample the apical dome from the axis origin at elevations
    from near 90 deg (along the axis, towards the apex) to near 0 deg; ``n_cylindrical``
    rings sample the rest of the LV perpendicular to the axis at equal fractions of
    the distance from the origin to the valve plane. ``n_angles`` rays per ring,
    centred on ``(k + 0.5) * 360 / n_angles`` degrees.
    """

    n_apical: int = 6
    n_cylindrical: int = 12
    n_angles: int = 72

    @property
    def n_rings(self) -> int:
        """Total rings (apical dome plus cylindrical)."""
        return self.n_apical + self.n_cylindrical

    @property
    def angle_deg(self) -> np.ndarray:
        """Ray angles (n_angles,), degrees (0 anterior, 90 septal)."""
        return (np.arange(self.n_angles) + 0.5) * 360.0 / self.n_angles

    @property
    def elevation_deg(self) -> np.ndarray:
        """Elevations of the apical rings above the short-axis plane (n_apical,), degrees."""
        return 90.0 - (np.arange(self.n_apical) + 0.5) * 90.0 / self.n_apical

    @property
    def cylinder_fraction(self) -> np.ndarray:
        """Positions of the cylindrical rings as fractions of origin-to-valve distance."""
        return (np.arange(self.n_cylindrical) + 0.5) / self.n_cylindrical


@dataclass(frozen=True, eq=False)
class LvSurfaces:
    """Mid-myocardial, endocardial and epicardial surfaces on a :class:`RayGrid`.

    Arrays are ``(n_rings, n_angles)``; radii are in mm from the long axis
    (cylindrical rings) or from the axis origin (apical rings).

    Attributes
    ----------
    axes, grid
        LV frame and sampling grid.
    max_counts
        Maximal count on each ray (image units).
    r_mid_mm
        Mid-myocardium (count maximum) radius.
    r_endo_mm, r_epi_mm
        Anatomical endocardium and epicardium (mid-wall -+ half the wall thickness).
    r_inner_mm, r_outer_mm
        Inner and outer half-maximum limits of the visible myocardium (the mask).
    valve_height_mm
        Height of the valve plane above the axis origin along each angle (n_angles,).
    apex_endo_height_mm
        Height of the endocardial apex (negative: below the origin).
    reference_counts
        75th percentile of the apical and mid ray maxima (the LV's count level), image units.
    valve_level_counts
        Count level below which the basal wall was taken to end, image units.
    wall_end_height_mm
        Height where the angle-averaged wall counts fall below that level, mm.
    """

    axes: LvAxes
    grid: RayGrid
    max_counts: np.ndarray
    r_mid_mm: np.ndarray
    r_endo_mm: np.ndarray
    r_epi_mm: np.ndarray
    r_inner_mm: np.ndarray
    r_outer_mm: np.ndarray
    valve_height_mm: np.ndarray
    apex_endo_height_mm: float
    reference_counts: float
    valve_level_counts: float
    wall_end_height_mm: float

    # ------------------------------------------------------------------ geometry
    @property
    def _step(self) -> tuple[np.ndarray, float]:
        dtheta = np.deg2rad(360.0 / self.grid.n_angles)
        return self.valve_height_mm / self.grid.n_cylindrical, dtheta

    def mid_height_mm(self) -> np.ndarray:
        """Height along the long axis of each mid-myocardial sample (n_rings, n_angles), mm."""
        g = self.grid
        apical = -self.r_mid_mm[: g.n_apical] * np.sin(np.deg2rad(g.elevation_deg))[:, None]
        cyl = g.cylinder_fraction[:, None] * self.valve_height_mm[None, :]
        return np.vstack([apical, cyl])

    def long_axis_fraction(self) -> np.ndarray:
        """AHA long-axis fraction of each sample: 0 endocardial apex, 1 valve plane, < 0 apex cap."""
        span = np.maximum(self.valve_height_mm - self.apex_endo_height_mm, 1.0)
        return (self.mid_height_mm() - self.apex_endo_height_mm) / span[None, :]

    def segment_map(self) -> np.ndarray:
        """AHA segment (1-17) of each sample (n_rings, n_angles)."""
        return aha_segment(self.long_axis_fraction(), self.grid.angle_deg[None, :])

    def area_mm2(self) -> np.ndarray:
        """Mid-myocardial surface area represented by each sample (n_rings, n_angles), mm^2."""
        g = self.grid
        dh, dtheta = self._step
        dphi = np.deg2rad(90.0 / g.n_apical)
        cos_el = np.cos(np.deg2rad(g.elevation_deg))[:, None]
        apical = self.r_mid_mm[: g.n_apical] ** 2 * cos_el * dphi * dtheta
        cyl = self.r_mid_mm[g.n_apical :] * dtheta * dh[None, :]
        return np.vstack([apical, cyl])

    def enclosed_ml(self, radius: np.ndarray) -> float:
        """Volume enclosed by a star-shaped surface and the valve plane, mL."""
        g = self.grid
        dh, dtheta = self._step
        dphi = np.deg2rad(90.0 / g.n_apical)
        cos_el = np.cos(np.deg2rad(g.elevation_deg))[:, None]
        apical = np.sum(radius[: g.n_apical] ** 3 / 3.0 * cos_el) * dphi * dtheta
        cyl = np.sum(0.5 * radius[g.n_apical :] ** 2 * dh[None, :]) * dtheta
        return float(apical + cyl) / 1000.0

    @property
    def cavity_volume_ml(self) -> float:
        """LV cavity volume inside the endocardium and below the valve plane, mL."""
        return self.enclosed_ml(self.r_endo_mm)

    def points_lps(self, radius: np.ndarray) -> np.ndarray:
        """LPS positions (n_rings, n_angles, 3), mm, of a surface given by radii on the grid."""
        origin, axis, offset, direction = _ray_geometry(self.axes, self.grid, self.valve_height_mm)
        return origin + offset[..., None] * axis + radius[..., None] * direction


def _ray_geometry(
    axes: LvAxes, grid: RayGrid, valve_height_mm: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Origin, axis, per-ray offset along the axis (mm) and ray direction vectors on a grid."""
    axis = np.asarray(axes.long_axis_lps)
    radial = axes.direction(grid.angle_deg)  # (n_angles, 3)
    el = np.deg2rad(grid.elevation_deg)[:, None, None]
    apical = -np.sin(el) * axis + np.cos(el) * radial[None]
    cyl = np.broadcast_to(radial[None], (grid.n_cylindrical, grid.n_angles, 3))
    direction = np.concatenate([apical, cyl], axis=0)
    offset = np.vstack(
        [
            np.zeros((grid.n_apical, grid.n_angles)),
            grid.cylinder_fraction[:, None] * valve_height_mm[None, :],
        ]
    )
    return np.asarray(axes.origin_lps), axis, offset, direction


def _profiles(
    image: np.ndarray,
    work: Volume,
    origin: np.ndarray,
    axis: np.ndarray,
    offset: np.ndarray,
    direction: np.ndarray,
    radii: np.ndarray,
) -> np.ndarray:
    """Count profiles (..., n_radii) along rays, linear interpolation, 0 outside the image."""
    start = origin + offset[..., None] * axis
    points = start[..., None, :] + radii[:, None] * direction[..., None, :]
    index = work.physical_to_index(points.reshape(-1, 3)).T
    values = ndi.map_coordinates(image, index, order=1, mode="constant", cval=0.0)
    return values.reshape(points.shape[:-1])


def _circular_smooth(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Median filter over (ring, angle) with wrap-around in angle."""
    pad = size[1] // 2
    padded = np.pad(values, ((0, 0), (pad, pad)), mode="wrap")
    return ndi.median_filter(padded, size=size, mode="nearest")[:, pad : pad + values.shape[1]]


def _boundaries(
    profiles: np.ndarray,
    radii: np.ndarray,
    peak: np.ndarray,
    inner_fraction: float,
    outer_fraction: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Inner and outer radii where each profile falls to ``fraction`` of its peak above background.

    The background is the profile minimum on that side (cavity inside, within
    25 mm outside), so that a small cavity filled by partial volume still gives
    an endocardium. Outward, a valley (the profile rising again towards
    extracardiac activity) ends the wall before the threshold is reached.
    """
    n = profiles.shape[-1]
    ar = np.arange(n)
    p = peak[..., None]
    peak_value = np.take_along_axis(profiles, p, axis=-1)
    inner_bg = np.where(ar <= p, profiles, np.inf).min(axis=-1, keepdims=True)
    outer_zone = (ar >= p) & (radii <= radii[peak][..., None] + 25.0)
    outer_bg = np.where(outer_zone, profiles, np.inf).min(axis=-1, keepdims=True)
    thr_in = inner_bg + inner_fraction * (peak_value - inner_bg)
    thr_out = outer_bg + outer_fraction * (peak_value - outer_bg)
    inner_idx = np.where((profiles < thr_in) & (ar < p), ar, -1).max(axis=-1)
    rising = np.zeros(profiles.shape, dtype=bool)
    rising[..., :-1] = profiles[..., 1:] > profiles[..., :-1] + 0.02 * peak_value
    below_out = profiles < thr_out
    outer_stop = below_out | (rising & (ar > p + 1))
    outer_idx = np.where(outer_stop & (ar > p), ar, n - 1).min(axis=-1)

    def crossing(i0: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        i1 = np.minimum(i0 + 1, n - 1)
        p0 = np.take_along_axis(profiles, i0[..., None], axis=-1)[..., 0]
        p1 = np.take_along_axis(profiles, i1[..., None], axis=-1)[..., 0]
        t = np.clip((threshold[..., 0] - p0) / np.where(p1 != p0, p1 - p0, 1.0), 0.0, 1.0)
        return radii[i0] + t * (radii[i1] - radii[i0])

    inner = np.where(inner_idx < 0, 0.0, crossing(np.maximum(inner_idx, 0), thr_in))
    crossed = np.take_along_axis(below_out, outer_idx[..., None], axis=-1)[..., 0]
    outer = np.where(crossed, crossing(np.maximum(outer_idx - 1, 0), thr_out), radii[outer_idx])
    return inner, outer


def _search_peak(
    profiles: np.ndarray, radii: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Index of the mid-myocardium on each ray: the innermost count peak within [lo, hi] mm.

    The myocardium is the first hot structure met from the cavity; liver or bowel
    behind the inferior wall may be hotter, so the innermost local maximum that
    reaches half the window's maximum is taken rather than the global maximum.
    """
    allowed = (radii >= lo[..., None]) & (radii <= hi[..., None])
    masked = np.where(allowed, profiles, -np.inf)
    top = masked.max(axis=-1, keepdims=True)
    local = np.zeros(profiles.shape, dtype=bool)
    local[..., 1:-1] = (masked[..., 1:-1] >= masked[..., :-2]) & (
        masked[..., 1:-1] >= masked[..., 2:]
    )
    # a window edge counts as a peak when the profile still rises/falls beyond it
    local[..., 0] = masked[..., 0] >= masked[..., 1]
    local |= allowed & ~np.roll(allowed, -1, axis=-1) & (masked >= np.roll(masked, 1, axis=-1))
    candidate = local & allowed & (masked >= _PEAK_FRACTION * top)
    first = np.argmax(candidate, axis=-1)
    return np.where(candidate.any(axis=-1), first, np.argmax(masked, axis=-1))


def _bridge_defects(
    radius: np.ndarray, ray_max: np.ndarray, angle_deg: np.ndarray, level: np.ndarray
) -> np.ndarray:
    """Mid-wall radii with the low-count rays of each ring interpolated across the defect.

    Where the wall is dark (ray maximum below ``level``, per ring) the count profile has
    no peak and its maximum lies wherever blur from the cavity edge or neighbouring
    activity is highest. As QPS does, the surface is instead interpolated across the
    defect from the count-bearing wall of the same ring (periodic linear interpolation
    in angle; Germano G et al., J Nucl Med 1995;36:2138-2147). A bright ray far from
    its ring's median radius (more than :data:`_RING_OUTLIER_FRACTION` of it, at least
    8 mm) has followed extracardiac activity and is interpolated as well. Rings with
    fewer than a fifth of their rays kept are left unchanged.
    """
    out = np.array(radius, dtype=float)
    for i in range(out.shape[0]):
        bright = ray_max[i] >= level[i]
        if bright.any():
            median = float(np.median(out[i, bright]))
            bright &= np.abs(out[i] - median) <= max(8.0, _RING_OUTLIER_FRACTION * median)
        if bright.all() or not _enough_angles(bright):
            continue
        out[i, ~bright] = np.interp(
            angle_deg[~bright], angle_deg[bright], out[i, bright], period=360.0
        )
    return out


def _ring_level(ray_max: np.ndarray) -> np.ndarray:
    """Per-ring count level below which a ray is in a defect (n_rings,)."""
    return _DEFECT_FRACTION * np.percentile(ray_max, 90, axis=-1)


def _nearest_peak(profiles: np.ndarray, radii: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Index of the count maximum within +-half a wall of ``radius`` on each ray."""
    half = 0.5 * DEFAULT_WALL_THICKNESS_MM
    return _search_peak(profiles, radii, radius - half, radius + half)


def _track_mid_wall(
    profiles: np.ndarray, radii: np.ndarray, n_apical: int, radius0: float
) -> np.ndarray:
    """Mid-wall peak indices found ring by ring from the apex towards the base.

    The apical dome is searched widely (0.3 to 2 times the expected mid-wall radius);
    each following ring only within +-5 mm of the smoothed ring below it, so that the
    surface cannot jump to extracardiac activity beyond the base.
    """
    n_rings, n_angles = profiles.shape[:2]
    angle = (np.arange(n_angles) + 0.5) * 360.0 / n_angles
    lo = np.full(profiles.shape[:2], 0.3 * radius0)
    hi = np.full(profiles.shape[:2], 2.0 * radius0 + 5.0)
    peak = _search_peak(profiles, radii, lo, hi)
    apical_max = np.take_along_axis(profiles[:n_apical], peak[:n_apical, :, None], axis=-1)[..., 0]
    level = _ring_level(apical_max)
    apical = _bridge_defects(radii[peak[:n_apical]], apical_max, angle, level)
    apical = _circular_smooth(apical, (3, 7))
    peak[:n_apical] = _search_peak(
        profiles[:n_apical], radii, apical - _SEARCH_WINDOW_MM, apical + _SEARCH_WINDOW_MM
    )
    top = float(np.percentile(apical_max, 90))
    previous = _circular_smooth(radii[peak[n_apical - 1 : n_apical]], (1, 9))[0]
    for ring in range(n_apical, n_rings):
        peak[ring] = _search_peak(profiles[ring], radii, previous - 5.0, previous + 5.0)
        ring_max = np.take_along_axis(profiles[ring], peak[ring][:, None], axis=-1)[:, 0]
        # a defect is dark against the LV level; a ring past the base is dark everywhere
        ring_level = _DEFECT_FRACTION * max(float(np.percentile(ring_max, 90)), 0.5 * top)
        bridged = _bridge_defects(
            radii[peak[ring : ring + 1]], ring_max[None], angle, np.array([ring_level])
        )
        dark = bridged[0] != radii[peak[ring]]
        peak[ring, dark] = _nearest_peak(profiles[ring, dark], radii, bridged[0, dark])
        previous = _circular_smooth(bridged, (1, 9))[0]
    return peak


def _wall_end_heights(cyl_max: np.ndarray, heights: np.ndarray, threshold: float) -> np.ndarray:
    """Height (mm) per angle where the ray maximum first falls below ``threshold``, apex to base."""
    low = cyl_max < threshold
    first_low = np.where(low.any(axis=0), np.argmax(low, axis=0), len(heights) - 1)
    i1 = np.maximum(first_low, 1)
    i0 = i1 - 1
    cols = np.arange(cyl_max.shape[1])
    c0, c1 = cyl_max[i0, cols], cyl_max[i1, cols]
    t = np.clip((c0 - threshold) / np.where(c0 != c1, c0 - c1, 1.0), 0, 1)
    return heights[i0] + t * (heights[i1] - heights[i0])


def _wall_levels(cyl_max: np.ndarray, level: float) -> np.ndarray:
    """Count level of the wall at each angle (n_angles,): 75th percentile over the LV's rings.

    The rings are those that cross the LV wall (a tenth of their rays at ``level`` or
    above), not the rings past the base, which are dark at every angle.
    """
    rings = np.percentile(cyl_max, 90, axis=1) >= level
    return np.percentile(cyl_max[rings] if rings.any() else cyl_max, 75, axis=0)


def _enough_angles(angles: np.ndarray) -> bool:
    """True when at least 3 and a fifth of the angles are selected (too few to trust otherwise)."""
    return bool(angles.sum() >= max(3, 0.2 * angles.size))


def _bright_angles(cyl_max: np.ndarray, level: float) -> np.ndarray:
    """Angles (n_angles,) whose wall is not a defect: 75th percentile of the ring maxima >= level.

    The percentile is over the rings that cross the LV wall (:func:`_wall_levels`);
    all angles are returned when fewer than a fifth are bright.
    """
    bright = _wall_levels(cyl_max, level) >= level
    return bright if _enough_angles(bright) else np.ones_like(bright)


def _valve_plane(
    limit: np.ndarray, angle_deg: np.ndarray, max_height_mm: float, bright: np.ndarray
) -> np.ndarray:
    """Per-angle valve height (n_angles,), mm, of a plane fitted robustly to the bright wall's ends."""
    theta = np.deg2rad(angle_deg)
    design = np.column_stack([np.ones_like(theta), np.cos(theta), np.sin(theta)])
    keep = bright.copy()
    for _ in range(3):  # robust plane: drop angles far from the fit (defects, noise)
        coef, *_ = np.linalg.lstsq(design[keep], limit[keep], rcond=None)
        residual = np.abs(design @ coef - limit)
        keep = bright & (residual <= max(6.0, 2.5 * np.median(residual[bright])))
    # the mitral-aortic valve plane tilts little against the short axis: limit the tilt
    tilt = float(np.hypot(coef[1], coef[2]))
    if tilt > _MAX_VALVE_TILT_MM:
        coef[1:] *= _MAX_VALVE_TILT_MM / tilt
        coef[0] = float(np.median((limit - design[:, 1:] @ coef[1:])[keep]))
    return np.clip(design @ coef, 8.0, max_height_mm)


def fit_surfaces(
    volume: Volume,
    axes: LvAxes,
    *,
    grid: RayGrid | None = None,
    prior: LvSurfaces | None = None,
    boundary_fraction: float = 0.45,
    endo_fraction: float | None = None,
    valve_fraction: float = 0.5,
    wall_thickness_mm: float = DEFAULT_WALL_THICKNESS_MM,
    valve_height_mm: np.ndarray | None = None,
    count_ceiling: float | None = None,
) -> LvSurfaces:
    """Endocardial, mid-myocardial and epicardial surfaces of the LV in one image.

    Parameters
    ----------
    volume
        Emission image (summed or one gate), transaxial, any grid.
    axes
        LV frame from :func:`~cardiolens.nuclear.reorient.estimate_lv_axes`.
    grid
        Sampling grid (default :class:`RayGrid`).
    prior
        Surfaces of the summed image when fitting one gate: the mid-wall search is
        restricted to +-8 mm of the prior's mid-myocardium.
    boundary_fraction
        Fraction of the profile height above background that bounds the visible
        myocardium (the mask). 0.45 is a cardiolens choice, made on the three
        PhysioNet expert LV masks (Dice 0.76, 0.77, 0.76; at 0.5 the second falls below 0.75).
    valve_fraction
        The basal wall has ended where its counts fall below this fraction of the way
        from the extracardiac background to the LV reference count.
    wall_thickness_mm
        Myocardial wall thickness that places the anatomical endo- and epicardium, mm.
    valve_height_mm
        Valve plane to use (height per angle, mm) instead of detecting it.
    count_ceiling
        Counts are capped at this level (image units) so that hot extracardiac
        activity (gut, liver) cannot pull the mid-myocardium or set the LV maximum.

    Returns
    -------
    LvSurfaces
    """
    grid = grid or RayGrid()
    work = working_volume(volume)
    image = ndi.gaussian_filter(np.clip(work.array, 0, None).astype(np.float32), 0.5)
    if count_ceiling is not None:
        image = np.minimum(image, count_ceiling)
    radius0 = axes.mid_wall_radius_mm
    radii = np.arange(0.0, 2.5 * radius0 + 15.0, _RADIAL_STEP_MM)
    origin = np.asarray(axes.origin_lps)
    axis = np.asarray(axes.long_axis_lps)

    # phase A: fixed heights in mm to find the mid-wall and the valve plane
    heights = np.arange(0.0, 4.0 * radius0 + 20.0, 4.0)
    coarse = RayGrid(grid.n_apical, len(heights), grid.n_angles)
    _, _, _, direction = _ray_geometry(axes, coarse, np.zeros(grid.n_angles))
    offset = np.vstack(
        [np.zeros((grid.n_apical, grid.n_angles)), np.repeat(heights[:, None], grid.n_angles, 1)]
    )
    prof = _profiles(image, work, origin, axis, offset, direction, radii)
    if prior is None:
        peak = _track_mid_wall(prof, radii, grid.n_apical, radius0)
    else:
        prior_mid = _interpolate_rings(prior, heights)
        peak = _search_peak(
            prof, radii, prior_mid - _SEARCH_WINDOW_MM, prior_mid + _SEARCH_WINDOW_MM
        )
    ray_max = np.take_along_axis(prof, peak[..., None], axis=-1)[..., 0]
    smooth_max = _circular_smooth(ray_max, (3, 5))
    reference = float(np.percentile(smooth_max[: grid.n_apical + len(heights) // 2], 75))
    if not np.isfinite(reference) or reference <= 0:
        raise AnalysisError("no myocardial counts along the LV rays: the LV was not found")
    # the wall ends where its counts fall to a fraction of the way from background to the LV level
    outside = (radii[None, None, :] >= radii[peak][..., None]) & (
        radii[None, None, :] <= radii[peak][..., None] + 25.0
    )
    background = float(np.median(np.where(outside, prof, np.inf).min(axis=-1)))
    valve_level = background + valve_fraction * (reference - background)
    if prior is not None:
        # a gate is noisy: scale the summed image's level by the gate's share of the counts
        share = float(
            np.median(ray_max[: grid.n_apical + 4])
            / np.median(prior.max_counts[: grid.n_apical + 4])
        )
        valve_level = prior.valve_level_counts * share
    cyl_max = smooth_max[grid.n_apical :]
    if prior is None:
        bright = _bright_angles(cyl_max, _DEFECT_FRACTION * reference)
    else:
        bright = _bright_angles(
            prior.max_counts[grid.n_apical :], _DEFECT_FRACTION * prior.reference_counts
        )
    ring_end = float(
        _wall_end_heights(cyl_max[:, bright].mean(axis=1, keepdims=True), heights, valve_level)[0]
    )
    if valve_height_mm is not None:
        valve = np.asarray(valve_height_mm, dtype=float)
    elif prior is None:
        own = _wall_levels(cyl_max, _DEFECT_FRACTION * reference)
        dark = (own < _DARK_WALL_FRACTION * reference) & (
            own - background >= _MIN_WALL_CONTRAST * (reference - background)
        )
        level = np.where(dark, background + valve_fraction * (own - background), valve_level)
        limit = _wall_end_heights(cyl_max, heights, level)
        fitted = dark | (own >= _BRIGHT_WALL_FRACTION * reference)
        if not _enough_angles(fitted):
            fitted = np.ones_like(fitted)
        valve = _valve_plane(limit, grid.angle_deg, float(heights[-1]), fitted)
    else:
        # a gate: the whole valve plane moves along the axis (base descent in systole),
        # measured on the angle-averaged wall counts, which are far less noisy than one ray
        shift = ring_end - prior.wall_end_height_mm
        valve = prior.valve_height_mm + np.clip(shift, -_VALVE_MOTION_MM, _VALVE_MOTION_MM)
    mid_a = _circular_smooth(radii[peak], (3, 7)).astype(float)

    # phase B: the standard grid, rings at fractions of the valve height
    origin, axis, offset_b, direction_b = _ray_geometry(axes, grid, valve)
    prof_b = _profiles(image, work, origin, axis, offset_b, direction_b, radii)
    cyl_rows = np.interp(offset_b[grid.n_apical :], heights, np.arange(len(heights)))
    mid_prior = np.vstack(
        [
            mid_a[: grid.n_apical],
            ndi.map_coordinates(
                mid_a[grid.n_apical :],
                [cyl_rows.ravel(), np.tile(np.arange(grid.n_angles), grid.n_cylindrical)],
                order=1,
                mode="nearest",
            ).reshape(grid.n_cylindrical, grid.n_angles),
        ]
    )
    peak_b = _search_peak(
        prof_b, radii, mid_prior - _SEARCH_WINDOW_MM, mid_prior + _SEARCH_WINDOW_MM
    )
    max_counts = np.take_along_axis(prof_b, peak_b[..., None], axis=-1)[..., 0]
    # defects: the surface bridged from the bright wall, sampled there
    bridged = _bridge_defects(
        radii[peak_b],
        max_counts,
        grid.angle_deg,
        np.full(grid.n_rings, _DEFECT_FRACTION * reference),
    )
    dark = bridged != radii[peak_b]
    peak_b[dark] = _nearest_peak(prof_b[dark], radii, bridged[dark])
    max_counts = np.take_along_axis(prof_b, peak_b[..., None], axis=-1)[..., 0]
    r_mid = radii[peak_b].astype(float)
    inner, outer = _boundaries(
        prof_b,
        radii,
        peak_b,
        boundary_fraction if endo_fraction is None else endo_fraction,
        boundary_fraction,
    )
    # where the wall has little contrast (defect) the profile edges are noise: use typical half-walls
    valid = max_counts >= 0.6 * reference
    half_in = float(np.median((r_mid - inner)[valid])) if valid.any() else 5.0
    half_out = float(np.median((outer - r_mid)[valid])) if valid.any() else 5.0
    inner = np.where(valid, inner, r_mid - half_in)
    outer = np.where(valid, outer, r_mid + half_out)
    inner = np.clip(_circular_smooth(inner, (3, 5)), 0.0, r_mid)
    outer = np.maximum(_circular_smooth(outer, (3, 5)), r_mid)
    r_mid = _circular_smooth(r_mid, (3, 3))
    r_endo = np.clip(r_mid - 0.5 * wall_thickness_mm, 0.0, None)
    apex_endo = -float(np.mean(r_endo[0])) * np.sin(np.deg2rad(grid.elevation_deg[0]))
    return LvSurfaces(
        axes=axes,
        grid=grid,
        max_counts=max_counts,
        r_mid_mm=r_mid,
        r_endo_mm=r_endo,
        r_epi_mm=r_mid + 0.5 * wall_thickness_mm,
        r_inner_mm=inner,
        r_outer_mm=outer,
        valve_height_mm=valve,
        apex_endo_height_mm=apex_endo,
        reference_counts=reference,
        valve_level_counts=valve_level,
        wall_end_height_mm=ring_end,
    )


def _interpolate_rings(prior: LvSurfaces, heights: np.ndarray) -> np.ndarray:
    """The prior's mid-wall radius on phase-A rings (apical rings, then fixed heights)."""
    g = prior.grid
    cyl_heights = g.cylinder_fraction[:, None] * prior.valve_height_mm[None, :]
    cyl = np.empty((len(heights), g.n_angles))
    for k in range(g.n_angles):
        cyl[:, k] = np.interp(heights, cyl_heights[:, k], prior.r_mid_mm[g.n_apical :, k])
    return np.vstack([prior.r_mid_mm[: g.n_apical], cyl])


def _grid_coordinates(
    surfaces: LvSurfaces, points_lps: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Continuous (ring, angle) grid coordinates and radial distance of LPS points.

    Points above the valve plane get ring coordinate +inf.
    """
    g = surfaces.grid
    height, rho, angle = surfaces.axes.to_lv(points_lps)
    col = angle / (360.0 / g.n_angles) - 0.5
    valve = np.interp(
        angle,
        np.append(g.angle_deg, g.angle_deg[0] + 360.0),
        np.append(surfaces.valve_height_mm, surfaces.valve_height_mm[0]),
        period=360.0,
    )
    apical = height < 0
    elevation = np.rad2deg(np.arctan2(-height, rho))
    row_apical = (90.0 - elevation) / (90.0 / g.n_apical) - 0.5
    row_cyl = g.n_apical + height / np.maximum(valve, 1e-6) * g.n_cylindrical - 0.5
    row = np.where(apical, row_apical, np.where(height <= valve, row_cyl, np.inf))
    radial = np.where(apical, np.hypot(height, rho), rho)
    return row, col, radial


def myocardium_mask(surfaces: LvSurfaces, reference: Volume) -> Volume:
    """Binary LV myocardium mask (1 inside, 0 outside) on the grid of ``reference``.

    A voxel belongs to the myocardium when its centre lies between the
    endocardial and epicardial surfaces and below the valve plane.
    """
    index = np.indices(reference.shape).reshape(3, -1).T
    points = reference.index_to_physical(index)
    row, col, radial = _grid_coordinates(surfaces, points)
    inside = np.isfinite(row)
    g = surfaces.grid

    # pad one column each side for wrap-around interpolation in angle
    def lookup(values: np.ndarray) -> np.ndarray:
        padded = np.concatenate([values[:, -1:], values, values[:, :1]], axis=1)
        out = np.full(row.shape, np.nan)
        out[inside] = ndi.map_coordinates(
            padded,
            [np.clip(row[inside], 0, g.n_rings - 1), col[inside] + 1.0],
            order=1,
            mode="nearest",
        )
        return out

    endo = lookup(surfaces.r_inner_mm)
    epi = lookup(surfaces.r_outer_mm)
    mask = inside & (radial >= endo) & (radial <= epi)
    return reference.with_array(
        mask.reshape(reference.shape).astype(np.uint8),
        metadata={**reference.metadata, "label": "LV myocardium"},
    )


def refine_lv_axes(
    volume: Volume, axes: LvAxes, *, iterations: int = 3, count_ceiling: float | None = None
) -> LvAxes:
    """Long axis refitted through the centres of the mid-myocardial rings.

    The mid-myocardium is found by maximal-count sampling around the current
    axis; the centres of its cylindrical rings (middle 70 % of the LV, where the
    rings are complete) define a better axis (the reorientation loop of QGS,
    Germano G et al., J Nucl Med 1995). Stops when the axis moves < 1 deg.
    ``count_ceiling`` is passed to :func:`fit_surfaces`.
    """
    for _ in range(iterations):
        surfaces = fit_surfaces(volume, axes, count_ceiling=count_ceiling)
        g = surfaces.grid
        keep = (g.cylinder_fraction >= 0.15) & (g.cylinder_fraction <= 0.85)
        points = surfaces.points_lps(surfaces.r_mid_mm)[g.n_apical :][keep]
        centres = points.mean(axis=1)
        mean = centres.mean(axis=0)
        _, _, vt = np.linalg.svd(centres - mean)
        old = np.asarray(axes.long_axis_lps)
        new = vt[0] if vt[0] @ old >= 0 else -vt[0]
        change = np.degrees(np.arccos(np.clip(new @ old, -1.0, 1.0)))
        if change > 30.0:
            logger.warning("axis refinement rejected: it would turn the axis by %.0f deg", change)
            break
        # keep the apical origin at the same height along the new axis
        origin = mean + ((np.asarray(axes.origin_lps) - mean) @ new) * new
        axes = frame_from_axis(new, origin, float(np.median(surfaces.r_mid_mm[g.n_apical :])))
        if change < 1.0:
            break
    return axes
