"""Thorax and upper abdomen around the heart: organs, tracer uptake and attenuation.

Every organ is an analytic solid (ellipsoid, elliptic cylinder or ellipsoidal
shell) placed in LPS mm relative to the body axis and to the LV. Later organs in
:attr:`TorsoLayout.organs` overwrite earlier ones. Linear attenuation
coefficients at 140 keV (Tc-99m) follow the NIST XCOM tables quoted in the
nuclear-medicine literature: soft tissue and blood 0.15 /cm, inflated lung
0.04 /cm, vertebral bone 0.25 /cm (mixed cortical and cancellous), air 0.

Relative uptake is per unit volume with normal LV myocardium = 1. The values
are those of Tc-99m sestamibi studies (myocardium about 4-5 times the
surrounding soft tissue, liver and bowel up to 1-2 times the myocardium, see
:mod:`cardiolens.phantom.realism` for the measured PhysioNet ranges).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cardiolens.core.errors import ParameterError
from cardiolens.phantom.lv_geometry import LVGeometry

__all__ = ["Organ", "TorsoLayout", "MU_140KEV_PER_CM", "torso_layout"]

MU_140KEV_PER_CM: dict[str, float] = {"air": 0.0, "soft_tissue": 0.15, "lung": 0.04, "bone": 0.25}


@dataclass(frozen=True)
class Organ:
    """One analytic organ.

    ``contains(points)`` maps LPS points ``(..., 3)`` (mm) to a boolean mask;
    ``uptake`` is its activity per volume relative to normal LV myocardium;
    ``extracardiac`` marks organs scaled by the ``extracardiac`` factor;
    ``material`` keys :data:`MU_140KEV_PER_CM`.
    """

    name: str
    contains: Callable[[np.ndarray], np.ndarray]
    uptake: float
    material: str
    extracardiac: bool = False


def _ellipsoid(centre: np.ndarray, semi_axes: np.ndarray, axes: np.ndarray | None = None):
    axes = np.eye(3) if axes is None else axes

    def contains(points: np.ndarray) -> np.ndarray:
        local = (points - centre) @ axes
        return np.sum((local / semi_axes) ** 2, axis=-1) <= 1.0

    return contains


def _cylinder_z(centre_xy: tuple[float, float], semi_xy: tuple[float, float]):
    def contains(points: np.ndarray) -> np.ndarray:
        return ((points[..., 0] - centre_xy[0]) / semi_xy[0]) ** 2 + (
            (points[..., 1] - centre_xy[1]) / semi_xy[1]
        ) ** 2 <= 1.0

    return contains


def _shell(outer, inner):
    return lambda points: outer(points) & ~inner(points)


@dataclass(frozen=True)
class TorsoLayout:
    """Organs of one patient in painting order, and the heart's bounding envelope."""

    organs: tuple[Organ, ...]
    body_half_width_mm: float
    half_extent_mm: float = 0.0

    @property
    def extent_mm(self) -> float:
        """Largest distance (mm) of any organ from the body axis, breasts included."""
        return max(self.body_half_width_mm, self.half_extent_mm)


def torso_layout(
    lv: LVGeometry,
    *,
    rng: np.random.Generator | None = None,
    body_half_width_mm: float = 165.0,
    body_half_depth_mm: float = 115.0,
    sex: str | None = None,
) -> TorsoLayout:
    """The organs around ``lv``; ``rng`` jitters organ sizes and positions (randomised anatomy).

    The body axis runs along z through x = 0, y = 0. The liver lies under the
    right hemidiaphragm and reaches under the inferior LV wall, the stomach and a
    bowel loop lie below the inferior wall on the left. ``sex`` ``"female"`` adds
    two breasts over the anterior chest wall (soft tissue, the anterior-wall
    attenuation artefact of non-corrected SPECT in women), ``"male"`` a wider
    chest; ``None`` keeps the neutral body of the defaults.
    """
    jitter = (lambda scale: rng.uniform(-scale, scale)) if rng is not None else (lambda scale: 0.0)
    if sex not in (None, "female", "male"):
        raise ParameterError(f"sex must be 'female', 'male' or None; got {sex!r}")
    if sex == "female":
        body_half_width_mm, body_half_depth_mm = 150.0 + jitter(12), 105.0 + jitter(10)
    elif sex == "male":
        body_half_width_mm, body_half_depth_mm = 172.0 + jitter(15), 118.0 + jitter(12)
    centre = lv.centre_lps_mm
    long_axis = np.asarray(lv.long_axis)
    frame = np.column_stack([lv.anterior_axis, lv.septal_axis, lv.long_axis])
    base_centre = np.asarray(lv.apex_lps_mm) - lv.cavity_length_mm * long_axis
    # the diaphragm dome lies just below the inferior wall
    z_diaphragm = float(centre[2]) - 45.0 + jitter(8)
    body = _cylinder_z((0.0, 0.0), (body_half_width_mm, body_half_depth_mm))
    lung_z = z_diaphragm + 115.0
    lungs = [
        _ellipsoid(np.array([-80.0, 5.0, lung_z]), np.array([62.0, 85.0, 120.0])),
        _ellipsoid(np.array([80.0, 5.0, lung_z]), np.array([58.0, 85.0, 120.0])),
    ]
    heart_envelope = _ellipsoid(
        centre,
        np.array(
            [lv.endo_radius_mm + lv.wall_thickness_mm + 18.0] * 2
            + [0.5 * lv.cavity_length_mm + 30.0]
        ),
        frame,
    )
    rv_centre = centre + 28.0 * np.asarray(lv.septal_axis) - 10.0 * long_axis
    rv_semi = np.array([42.0, 30.0, 0.5 * lv.cavity_length_mm + 5.0])
    rv_outer = _ellipsoid(rv_centre, rv_semi, frame)
    rv_inner = _ellipsoid(rv_centre, rv_semi - 4.0, frame)
    liver_scale = 1.0 + jitter(0.1)
    liver = _ellipsoid(
        np.array([-45.0 + jitter(10), 5.0 + jitter(8), z_diaphragm - 65.0]),
        np.array([110.0, 85.0, 70.0]) * liver_scale,
    )
    stomach = _ellipsoid(
        np.array([70.0 + jitter(10), 15.0 + jitter(10), z_diaphragm - 55.0]),
        np.array([42.0, 35.0, 40.0]),
    )
    stomach_lumen = _ellipsoid(
        np.array([70.0, 15.0, z_diaphragm - 55.0]) + 0.0, np.array([34.0, 27.0, 32.0])
    )
    bowel = _ellipsoid(
        np.array([30.0 + jitter(15), -45.0 + jitter(10), z_diaphragm - 35.0 + jitter(8)]),
        np.array([30.0, 16.0, 14.0]),
    )
    organs = (
        Organ("body", body, 0.155, "soft_tissue"),
        Organ("lung_right", _lung_above(lungs[0], z_diaphragm), 0.055, "lung"),
        Organ("lung_left", _lung_above(lungs[1], z_diaphragm), 0.055, "lung"),
        Organ("mediastinum", heart_envelope, 0.12, "soft_tissue"),
        Organ(
            "left_atrium",
            _ellipsoid(base_centre - 22.0 * long_axis, np.array([24.0, 24.0, 24.0])),
            0.13,
            "soft_tissue",
        ),
        Organ("descending_aorta", _cylinder_z((25.0, 55.0), (12.0, 12.0)), 0.13, "soft_tissue"),
        Organ("rv_myocardium", _shell(rv_outer, rv_inner), 0.42, "soft_tissue"),
        Organ("rv_blood", rv_inner, 0.13, "soft_tissue"),
        Organ("liver", liver, 1.0, "soft_tissue", extracardiac=True),
        Organ(
            "stomach_wall", _shell(stomach, stomach_lumen), 0.9, "soft_tissue", extracardiac=True
        ),
        Organ("stomach_lumen", stomach_lumen, 0.15, "soft_tissue"),
        Organ("bowel", bowel, 1.6, "soft_tissue", extracardiac=True),
        Organ("spine", _cylinder_z((0.0, 80.0), (20.0, 18.0)), 0.06, "bone"),
        Organ("sternum", _cylinder_z((0.0, -body_half_depth_mm + 14.0), (14.0, 6.0)), 0.06, "bone"),
    )
    half_extent = body_half_depth_mm
    if sex == "female":
        breasts, half_extent = _breasts(centre, body_half_depth_mm, jitter)
        organs = organs[:1] + breasts + organs[1:]
    return TorsoLayout(
        organs=organs, body_half_width_mm=body_half_width_mm, half_extent_mm=half_extent
    )


#: Breast semi-axes (mm: left-right, antero-posterior, cranio-caudal) of a medium (C-cup) breast.
_BREAST_SEMI_AXES_MM = np.array([62.0, 48.0, 58.0])


def _breasts(
    centre: np.ndarray, body_half_depth_mm: float, jitter
) -> tuple[tuple[Organ, ...], float]:
    """Two soft-tissue breasts in front of the chest wall, over the heart (size x0.6-1.4).

    Returns the organs and the largest anterior distance from the body axis (mm).
    """
    size = 1.0 + jitter(0.4)
    semi = _BREAST_SEMI_AXES_MM * size
    z = float(centre[2]) + 10.0 + jitter(15)
    y = -body_half_depth_mm - 0.35 * semi[1]
    organs = tuple(
        Organ(
            f"breast_{side}",
            _ellipsoid(np.array([x + jitter(10), y, z]), semi),
            0.155,
            "soft_tissue",
        )
        for side, x in (("right", -85.0), ("left", 85.0))
    )
    return organs, float(-y + semi[1])


def _lung_above(lung, z_diaphragm: float):
    return lambda points: lung(points) & (points[..., 2] > z_diaphragm)
