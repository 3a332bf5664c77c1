"""Parametric left ventricle: truncated prolate ellipsoids in the patient frame (LPS).

The end-diastolic (ED) endocardium is a prolate ellipsoid with short semi-axis
``a`` and long semi-axis ``c``; the epicardium is the confocal-free offset
ellipsoid ``(a + w, c + w)`` with the same centre, so the wall is ``w`` thick at
the equator and at the apex. Both are cut by the valve plane, which lies
``valve_truncation * c`` beyond the equator on the base side (a slightly
narrowing base, as in the model of Germano et al., J Nucl Med 1995).

LV frame (the same convention as :mod:`cardiolens.core.aha`)
-------------------------------------------------------------
* ``long_axis``: unit LPS vector from base to apex. In a typical patient it
  points to the patient's left (+x), anterior (-y) and inferior (-z).
* ``anterior_axis``: the short-axis direction of the anterior wall, i.e. minus
  the projection of the patient's inferior direction (-z) onto the short-axis
  plane, so the inferior wall faces the diaphragm.
* ``septal_axis = long_axis x anterior_axis``: points to the patient's right
  and anterior, towards the right ventricle.
* Short-axis angle ``theta``: 0 anterior, 90 septal, 180 inferior, 270 lateral.
* Axial coordinate ``h``: distance from the ED endocardial apex towards the base
  (mm); ``h < 0`` is the apex cap (AHA segment 17). Long-axis fraction
  ``f = h / H`` with ``H`` the ED apex-to-valve-plane length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cardiolens.core.errors import ParameterError

__all__ = [
    "LVGeometry",
    "LVCoordinates",
    "lv_axes",
    "truncated_ellipsoid_volume_mm3",
    "design_lv",
    "lv_coordinates",
]


def lv_axes(azimuth_deg: float, elevation_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Long, anterior and septal unit axes (LPS) of an LV with the given orientation.

    Parameters
    ----------
    azimuth_deg
        Angle in the axial plane between the patient's anterior direction (-y) and
        the long axis, rotating towards the patient's left (+x); typically 40-60.
    elevation_deg
        Downward tilt of the long axis below the axial plane towards the feet (-z);
        typically 15-35.

    Returns
    -------
    tuple of numpy.ndarray
        ``(long_axis, anterior_axis, septal_axis)``, each shape ``(3,)``.
    """
    az, el = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    long_axis = np.array([np.cos(el) * np.sin(az), -np.cos(el) * np.cos(az), -np.sin(el)])
    inferior = np.array([0.0, 0.0, -1.0])
    inferior_sa = inferior - (inferior @ long_axis) * long_axis
    anterior_axis = -inferior_sa / np.linalg.norm(inferior_sa)
    septal_axis = np.cross(long_axis, anterior_axis)
    return long_axis, anterior_axis, septal_axis


def truncated_ellipsoid_volume_mm3(a_mm: float, c_mm: float, t_valve_mm: float) -> float:
    """Volume (mm^3) of a prolate ellipsoid ``(r/a)^2 + (t/c)^2 <= 1`` restricted to ``t >= t_valve``.

    ``V = pi a^2 [(c - t_v) - (c^3 - t_v^3) / (3 c^2)]`` for ``-c <= t_v <= c``.
    """
    return float(
        np.pi * a_mm**2 * ((c_mm - t_valve_mm) - (c_mm**3 - t_valve_mm**3) / (3 * c_mm**2))
    )


@dataclass(frozen=True)
class LVGeometry:
    """End-diastolic LV shape and pose.

    Parameters
    ----------
    apex_lps_mm
        LPS position (x, y, z) of the ED endocardial apex in mm.
    long_axis, anterior_axis, septal_axis
        Orthonormal LPS unit vectors of the LV frame (see the module docstring).
    endo_radius_mm
        ED endocardial short semi-axis ``a`` (mm).
    endo_half_length_mm
        ED endocardial long semi-axis ``c`` (mm).
    wall_thickness_mm
        ED wall thickness ``w`` (mm) at the equator and at the apex.
    valve_truncation
        Valve plane position beyond the equator as a fraction of ``c`` (0 = equator).
    """

    apex_lps_mm: tuple[float, float, float]
    long_axis: tuple[float, float, float]
    anterior_axis: tuple[float, float, float]
    septal_axis: tuple[float, float, float]
    endo_radius_mm: float
    endo_half_length_mm: float
    wall_thickness_mm: float
    valve_truncation: float = 0.25

    @property
    def cavity_length_mm(self) -> float:
        """ED distance ``H`` from the endocardial apex to the valve plane (mm)."""
        return self.endo_half_length_mm * (1.0 + self.valve_truncation)

    @property
    def centre_lps_mm(self) -> np.ndarray:
        """LPS centre (mm) of the ED cavity: the midpoint of apex and valve-plane centre."""
        return np.asarray(self.apex_lps_mm) - 0.5 * self.cavity_length_mm * np.asarray(
            self.long_axis
        )

    @property
    def edv_mm3(self) -> float:
        """Analytic ED cavity volume (mm^3)."""
        c = self.endo_half_length_mm
        return truncated_ellipsoid_volume_mm3(self.endo_radius_mm, c, -self.valve_truncation * c)

    @property
    def myocardial_volume_mm3(self) -> float:
        """Analytic LV myocardial volume (mm^3): epicardial minus endocardial truncated ellipsoid."""
        c, w = self.endo_half_length_mm, self.wall_thickness_mm
        t_v = -self.valve_truncation * c
        epi = truncated_ellipsoid_volume_mm3(self.endo_radius_mm + w, c + w, t_v)
        return epi - self.edv_mm3

    def endo_radius_profile(self, h_mm: np.ndarray) -> np.ndarray:
        """ED endocardial radius (mm) at axial coordinates ``h`` (0 outside the cavity)."""
        c = self.endo_half_length_mm
        t = c - np.asarray(h_mm, dtype=float)
        inside = (h_mm >= 0) & (h_mm <= self.cavity_length_mm)
        return np.where(
            inside, self.endo_radius_mm * np.sqrt(np.clip(1 - (t / c) ** 2, 0, None)), 0.0
        )

    def epi_radius_profile(self, h_mm: np.ndarray) -> np.ndarray:
        """ED epicardial radius (mm) at axial coordinates ``h`` (0 outside the LV)."""
        c, w = self.endo_half_length_mm, self.wall_thickness_mm
        t = c - np.asarray(h_mm, dtype=float)
        inside = (h_mm >= -w) & (h_mm <= self.cavity_length_mm)
        return np.where(
            inside,
            (self.endo_radius_mm + w) * np.sqrt(np.clip(1 - (t / (c + w)) ** 2, 0, None)),
            0.0,
        )


def design_lv(
    *,
    edv_ml: float,
    centre_lps_mm: tuple[float, float, float],
    azimuth_deg: float = 50.0,
    elevation_deg: float = 25.0,
    wall_thickness_mm: float = 10.0,
    aspect_ratio: float = 2.6,
    valve_truncation: float = 0.25,
) -> LVGeometry:
    """The LV whose analytic ED cavity volume is exactly ``edv_ml``.

    Parameters
    ----------
    edv_ml
        End-diastolic volume (mL).
    centre_lps_mm
        LPS centre (mm) of the ED cavity (midpoint of apex and valve-plane centre).
    azimuth_deg, elevation_deg
        Long-axis orientation (see :func:`lv_axes`).
    wall_thickness_mm
        ED wall thickness (mm); about 10 mm in a normal adult.
    aspect_ratio
        ``c / a`` of the endocardial ellipsoid; 2.6 gives an 85 mm cavity for 120 mL.
    valve_truncation
        Valve plane beyond the equator as a fraction of ``c``.
    """
    if not edv_ml > 0:
        raise ParameterError(f"edv_ml must be positive; got {edv_ml}")
    if not 0 < wall_thickness_mm < 30:
        raise ParameterError(f"wall_thickness_mm must be in (0, 30) mm; got {wall_thickness_mm}")
    # V = pi a^2 c K with c = aspect * a
    k = (1 + valve_truncation) - (1 + valve_truncation**3) / 3
    a = (edv_ml * 1000.0 / (np.pi * aspect_ratio * k)) ** (1 / 3)
    c = aspect_ratio * a
    long_axis, anterior, septal = lv_axes(azimuth_deg, elevation_deg)
    apex = np.asarray(centre_lps_mm, dtype=float) + 0.5 * c * (1 + valve_truncation) * long_axis
    return LVGeometry(
        apex_lps_mm=tuple(float(v) for v in apex),
        long_axis=tuple(float(v) for v in long_axis),
        anterior_axis=tuple(float(v) for v in anterior),
        septal_axis=tuple(float(v) for v in septal),
        endo_radius_mm=float(a),
        endo_half_length_mm=float(c),
        wall_thickness_mm=float(wall_thickness_mm),
        valve_truncation=float(valve_truncation),
    )


@dataclass(frozen=True)
class LVCoordinates:
    """Cylindrical LV-frame coordinates of points (all arrays of one shape).

    ``h_mm``: axial distance from the ED endocardial apex towards the base;
    ``r_mm``: distance from the long axis; ``angle_deg``: short-axis angle
    (0 anterior, 90 septal, 180 inferior, 270 lateral).
    """

    h_mm: np.ndarray
    r_mm: np.ndarray
    angle_deg: np.ndarray


def lv_coordinates(points_lps_mm: np.ndarray, geometry: LVGeometry) -> LVCoordinates:
    """LV-frame coordinates of LPS points ``(..., 3)`` in mm."""
    d = np.asarray(points_lps_mm, dtype=float) - np.asarray(geometry.apex_lps_mm)
    along = d @ np.asarray(geometry.long_axis)
    x_ant = d @ np.asarray(geometry.anterior_axis)
    x_sep = d @ np.asarray(geometry.septal_axis)
    return LVCoordinates(
        h_mm=-along,
        r_mm=np.hypot(x_ant, x_sep),
        angle_deg=np.mod(np.rad2deg(np.arctan2(x_sep, x_ant)), 360.0),
    )
