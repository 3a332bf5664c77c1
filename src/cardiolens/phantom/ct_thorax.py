"""Thorax anatomy of the calcium-scoring CT phantom: body, lungs, bones, heart, fat, vessels.

Coordinates are LPS millimetres (x patient left, y posterior, z superior) with the body
axis along z. The heart is an ellipsoid whose long axis points from the base to the apex
(left, anterior, inferior). Angles around it follow the AHA convention of
:mod:`cardiolens.core.aha` (0 anterior, 90 septal, 180 inferior, 270 lateral); the long-axis
coordinate ``lax`` runs from -1 (base) to +1 (apex). The epicardial fat layer lies between
the heart surface and the pericardium at a radial thickness ``t(lax, angle)``: a base layer
plus ridges in the atrioventricular groove (``lax = -0.55``) and the anterior and posterior
interventricular grooves, where the coronary arteries run, as in real hearts.

HU values (non-contrast, 120 kV): fat -100 (epicardial -95 with texture, giving the
typical EAT mean near -90), lung -850, blood 38, myocardium 45, pericardium 20, muscle 50,
cancellous bone 250, cortical bone 700.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from cardiolens.ct.candidates import AV_GROOVE_L, CORONARY_ATLAS

__all__ = [
    "CORONARY_COURSES",
    "HU",
    "HeartGeometry",
    "coronary_centrelines",
    "random_heart",
]

#: Tissue HU of the phantom (non-contrast CT, 120 kV).
HU = {
    "air": -1000.0,
    "lung": -850.0,
    "fat": -100.0,
    "epicardial_fat": -95.0,
    "muscle": 50.0,
    "blood": 38.0,
    "myocardium": 45.0,
    "pericardium": 20.0,
    "cancellous_bone": 250.0,
    "cortical_bone": 700.0,
    "liver": 60.0,
}

#: Coronary courses on the heart surface: (lax, angle_deg) way-points, proximal to distal
#: (the standard anatomy of :data:`cardiolens.ct.candidates.CORONARY_ATLAS`).
CORONARY_COURSES: dict[str, tuple[tuple[float, float], ...]] = {
    artery.value: course for artery, course in CORONARY_ATLAS.items()
}

_GROOVE_ANGLES_DEG = (30.0, 160.0)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@dataclass(frozen=True)
class HeartGeometry:
    """The heart ellipsoid, its frame and its epicardial fat layer.

    Attributes
    ----------
    centre_mm
        LPS centre of the heart ellipsoid.
    axes_mm
        Semi-axes along the long axis, the anterior and the septal direction.
    frame
        3x3 matrix whose rows are the unit long axis ``u`` (base to apex), anterior ``a``
        and septal ``v`` directions.
    eat_base_mm
        Base thickness of the epicardial fat layer.
    groove_mm
        Extra thickness of the fat in the grooves.
    """

    centre_mm: np.ndarray
    axes_mm: np.ndarray
    frame: np.ndarray
    eat_base_mm: float
    groove_mm: float = 6.0

    @classmethod
    def from_orientation(
        cls, centre_mm, axes_mm, long_axis, eat_base_mm: float, groove_mm: float = 6.0
    ) -> HeartGeometry:
        """Build the frame from the long axis: anterior = anterior-superior made orthogonal."""
        u = _unit(np.asarray(long_axis, dtype=float))
        a = _unit(np.array([0.0, -1.0, 1.0]) - np.dot([0.0, -1.0, 1.0], u) * u)
        v = np.cross(u, a)
        if v[0] > 0:  # septal points to the patient's right (-x)
            v = -v
        return cls(
            np.asarray(centre_mm, float),
            np.asarray(axes_mm, float),
            np.stack([u, a, v]),
            eat_base_mm,
            groove_mm,
        )

    def direction(self, lax: np.ndarray, angle_deg: np.ndarray) -> np.ndarray:
        """Unit vectors ``(n, 3)`` from the centre to the surface point ``(lax, angle)``."""
        return _unit_rows(self._local_surface(lax, angle_deg) @ self.frame)

    def _local_surface(self, lax: np.ndarray, angle_deg: np.ndarray) -> np.ndarray:
        lax = np.atleast_1d(np.asarray(lax, float))
        phi = np.deg2rad(np.atleast_1d(np.asarray(angle_deg, float)))
        ring = np.sqrt(np.clip(1.0 - lax**2, 0.0, None))
        A, B, C = self.axes_mm
        return np.stack([lax * A, ring * B * np.cos(phi), ring * C * np.sin(phi)], axis=-1)

    def eat_thickness_mm(self, lax: np.ndarray, angle_deg: np.ndarray) -> np.ndarray:
        """Radial fat thickness at ``(lax, angle)``: base layer plus groove ridges (mm)."""
        lax = np.asarray(lax, float)
        angle = np.asarray(angle_deg, float)
        av = np.exp(-(((lax - AV_GROOVE_L) / 0.12) ** 2))
        iv = sum(
            np.exp(-((((angle - g + 180.0) % 360.0 - 180.0) / 14.0) ** 2))
            for g in _GROOVE_ANGLES_DEG
        ) * (lax > AV_GROOVE_L)
        return self.eat_base_mm + self.groove_mm * np.clip(av + iv, 0.0, 1.0)

    def polar(self, points_mm: np.ndarray) -> tuple[np.ndarray, ...]:
        """For LPS points ``(n, 3)``: radius ``r``, heart-surface radius, ``lax`` and angle.

        The surface radius is where the ray from the centre through the point meets the
        ellipsoid; ``lax`` and the angle (deg) name that surface point.
        """
        d = (np.asarray(points_mm, float) - self.centre_mm) @ self.frame.T
        scaled = d / self.axes_mm
        rho = np.sqrt(np.sum(scaled**2, axis=-1))
        r = np.sqrt(np.sum(d**2, axis=-1))
        with np.errstate(invalid="ignore", divide="ignore"):
            surface = np.where(rho > 0, r / rho, 0.0)
            lax = np.where(rho > 0, scaled[..., 0] / rho, 0.0)
        angle = np.rad2deg(np.arctan2(scaled[..., 2], scaled[..., 1])) % 360.0
        return r, surface, lax, angle

    def layer_point(self, lax, angle_deg, fraction: float) -> np.ndarray:
        """LPS points at ``fraction`` of the fat layer's thickness outside the surface."""
        local = self._local_surface(lax, angle_deg)
        surface_r = np.linalg.norm(local, axis=-1)
        radius = surface_r + fraction * self.eat_thickness_mm(lax, angle_deg)
        return self.centre_mm + (local / surface_r[:, None] * radius[:, None]) @ self.frame

    def eat_volume_ml(self, n_directions: int = 4000) -> float:
        """Volume of the fat layer (mL) by quadrature over directions, coronaries included."""
        k = np.arange(n_directions) + 0.5
        polar = np.arccos(1 - 2 * k / n_directions)
        azimuth = np.pi * (1 + 5**0.5) * k
        dirs_local = np.stack(
            [np.cos(polar), np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth)], 1
        )
        rho = np.linalg.norm(dirs_local / self.axes_mm, axis=1)
        surface = 1.0 / rho
        lax = dirs_local[:, 0] * surface / self.axes_mm[0]
        angle = (
            np.rad2deg(
                np.arctan2(
                    dirs_local[:, 2] * surface / self.axes_mm[2],
                    dirs_local[:, 1] * surface / self.axes_mm[1],
                )
            )
            % 360
        )
        outer = surface + self.eat_thickness_mm(lax, angle)
        return float(np.mean(outer**3 - surface**3) * 4.0 * np.pi / 3.0 / 1000.0)


def _unit_rows(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def random_heart(
    rng: np.random.Generator, *, centre_mm: np.ndarray, eat_ml: float
) -> HeartGeometry:
    """A heart of random size and orientation whose fat layer holds ``eat_ml`` mL."""
    axes = np.array([62.0, 47.0, 44.0]) * rng.uniform(0.92, 1.08)
    long_axis = np.array([0.62, -0.55, -0.52]) + rng.normal(0.0, 0.08, 3)
    groove = float(rng.uniform(5.0, 7.0))

    def volume_error(base: float) -> float:
        heart = HeartGeometry.from_orientation(centre_mm, axes, long_axis, base, groove)
        return heart.eat_volume_ml() - eat_ml

    if volume_error(0.5) > 0 or volume_error(30.0) < 0:
        from cardiolens.core.errors import ParameterError

        raise ParameterError(f"eat_ml={eat_ml}: epicardial fat volume must be in ~30-900 mL")
    base = optimize.brentq(volume_error, 0.5, 30.0, xtol=1e-3)
    return HeartGeometry.from_orientation(centre_mm, axes, long_axis, float(base), groove)


def coronary_centrelines(
    heart: HeartGeometry, rng: np.random.Generator | None = None, step_mm: float = 0.5
) -> dict[str, np.ndarray]:
    """Centrelines ``{artery: (n, 3) LPS points}`` at mid-depth of the fat layer.

    The way-points of :data:`CORONARY_COURSES`, jittered by up to +-6 degrees when ``rng``
    is given, are joined by interpolation in ``(lax, angle)`` and resampled every ``step_mm``.
    """
    lines = {}
    for artery, course in CORONARY_COURSES.items():
        lax = np.array([p[0] for p in course])
        angle = np.unwrap(np.deg2rad([p[1] for p in course]))
        if rng is not None:
            angle = angle + np.deg2rad(rng.uniform(-6.0, 6.0, angle.size))
        t = np.linspace(0.0, 1.0, 400)
        knots = np.linspace(0.0, 1.0, lax.size)
        dense = heart.layer_point(
            np.interp(t, knots, lax), np.rad2deg(np.interp(t, knots, angle)), 0.5
        )
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(dense, axis=0), axis=1))])
        s = np.arange(0.0, arc[-1], step_mm)
        lines[artery] = np.stack([np.interp(s, arc, dense[:, i]) for i in range(3)], axis=1)
    return lines
