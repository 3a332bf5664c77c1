"""LV motion over the cardiac cycle: volume curve, wall thickening, regional dysfunction.

Kinematics (material points keep their AHA segment through the cycle)
---------------------------------------------------------------------
A material point of the ED ventricle at axial coordinate ``h0`` (from the fixed
endocardial apex towards the base, see :mod:`cardiolens.phantom.lv_geometry`),
short-axis angle ``theta`` and radius ``r0`` moves at gate ``g`` to

* ``h = s_l(g) h0``: longitudinal shortening towards the apex (the base descends);
* endocardial radius ``r_endo = lambda_g * l(theta, h0, g) * r_endo0(h0)``, where
  ``l = 1 - amplitude * (1 - S(phase - delay))`` is the local radial factor of the
  reference radial curve ``S`` (amplitude 1 and delay 0 in normal myocardium);
* epicardial radius from local conservation of myocardial volume:
  ``r_epi^2 = r_endo^2 + (r_epi0^2 - r_endo0^2) / s_l`` (the wall thickens as it
  shortens and as the cavity narrows).

The reference volume curve runs from EDV at the R wave (phase 0, gate 1) to ESV
at phase 3/8 (gate 4 of 8, gate 7 of 16, so ESV is always sampled) with cosine
ejection and filling limbs. ``s_l = (V / EDV)^0.2`` and ``S = (V / (EDV s_l))^0.5``
split the volume change between long-axis and radial shortening (about 17% and
31% at LVEF 60%). The global factor ``lambda_g`` is solved by quadrature so that
the cavity volume of each gate equals the curve exactly, with or without
regional hypokinesis or phase delay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cardiolens.core.aha import aha_segment
from cardiolens.core.errors import ParameterError
from cardiolens.phantom.lv_geometry import LVCoordinates, LVGeometry
from cardiolens.phantom.perfusion import location_segments

__all__ = [
    "END_SYSTOLE_PHASE",
    "WallMotionSpec",
    "GateShape",
    "volume_curve_ml",
    "gate_shapes",
    "lv_tissue_at_gate",
    "parse_wall_motion",
]

END_SYSTOLE_PHASE = 3 / 8
_LONGITUDINAL_EXPONENT = 0.2
_QUAD_H, _QUAD_THETA = 400, 360


@dataclass(frozen=True)
class WallMotionSpec:
    """Regional wall-motion abnormality on AHA segments.

    Parameters
    ----------
    segments
        AHA segments (1-17) concerned.
    amplitude_fraction
        Radial motion relative to normal (1 normal, 0.5 hypokinetic, 0 akinetic).
    phase_delay_deg
        Delay of the local contraction in degrees of the cardiac cycle (dyssynchrony).
    """

    segments: tuple[int, ...]
    amplitude_fraction: float = 1.0
    phase_delay_deg: float = 0.0

    def __post_init__(self) -> None:
        bad = [s for s in self.segments if not 1 <= int(s) <= 17]
        if not self.segments or bad:
            raise ParameterError(
                f"wall motion segments must be AHA segments 1-17; got {self.segments}"
            )
        if not 0 <= self.amplitude_fraction <= 1.5:
            raise ParameterError(
                f"wall motion amplitude_fraction must be in [0, 1.5]; got {self.amplitude_fraction}"
            )


def volume_curve_ml(phase: np.ndarray | float, edv_ml: float, esv_ml: float) -> np.ndarray:
    """LV cavity volume (mL) at cycle phases in [0, 1) (0 = R wave = end-diastole)."""
    phase = np.mod(np.asarray(phase, dtype=float), 1.0)
    sv = edv_ml - esv_ml
    ejection = esv_ml + sv * 0.5 * (1 + np.cos(np.pi * phase / END_SYSTOLE_PHASE))
    filling = edv_ml - sv * 0.5 * (
        1 + np.cos(np.pi * (phase - END_SYSTOLE_PHASE) / (1 - END_SYSTOLE_PHASE))
    )
    return np.where(phase <= END_SYSTOLE_PHASE, ejection, filling)


def _reference_factors(
    phase: np.ndarray, edv_ml: float, esv_ml: float
) -> tuple[np.ndarray, np.ndarray]:
    ratio = volume_curve_ml(phase, edv_ml, esv_ml) / edv_ml
    s_long = ratio**_LONGITUDINAL_EXPONENT
    return s_long, np.sqrt(ratio / s_long)


@dataclass(frozen=True)
class GateShape:
    """Deformation of the ED ventricle at one gate (see the module docstring).

    ``longitudinal_scale`` is ``s_l``, ``radial_scale`` is ``lambda_g``;
    ``phase`` is the cycle phase in [0, 1); ``cavity_volume_ml`` the exact cavity volume.
    """

    phase: float
    longitudinal_scale: float
    radial_scale: float
    cavity_volume_ml: float
    edv_ml: float
    esv_ml: float
    wall_motion: tuple[WallMotionSpec, ...] = ()

    def local_radial_factor(
        self, h0_mm: np.ndarray, angle_deg: np.ndarray, cavity_length_mm: float
    ) -> np.ndarray:
        """Local endocardial factor ``l(theta, h0)`` of normal or abnormal myocardium."""
        _, s_normal = _reference_factors(np.asarray(self.phase), self.edv_ml, self.esv_ml)
        factor = np.full(np.broadcast(h0_mm, angle_deg).shape, float(s_normal))
        if not self.wall_motion:
            return factor
        segment = aha_segment(np.asarray(h0_mm) / cavity_length_mm, angle_deg)
        for spec in self.wall_motion:
            delayed_phase = self.phase - spec.phase_delay_deg / 360.0
            _, s_local = _reference_factors(np.asarray(delayed_phase), self.edv_ml, self.esv_ml)
            local = 1 - spec.amplitude_fraction * (1 - s_local)
            factor = np.where(np.isin(segment, spec.segments), local, factor)
        return factor


def _cavity_integral_mm3(geometry: LVGeometry, shape: GateShape) -> float:
    """Cavity volume (mm^3) of ``shape`` with ``radial_scale = 1``, by midpoint quadrature."""
    length = geometry.cavity_length_mm
    h0 = (np.arange(_QUAD_H) + 0.5) * length / _QUAD_H
    theta = (np.arange(_QUAD_THETA) + 0.5) * 360.0 / _QUAD_THETA
    hh, tt = np.meshgrid(h0, theta, indexing="ij")
    r = shape.local_radial_factor(hh, tt, length) * geometry.endo_radius_profile(hh)
    area = 0.5 * np.sum(r**2, axis=1) * (2 * np.pi / _QUAD_THETA)
    return float(shape.longitudinal_scale * np.sum(area) * length / _QUAD_H)


def gate_shapes(
    geometry: LVGeometry,
    *,
    esv_ml: float,
    n_gates: int,
    wall_motion: Sequence[WallMotionSpec] = (),
) -> list[GateShape]:
    """The deformation of each gate, its cavity volume equal to the reference curve.

    Parameters
    ----------
    geometry
        ED ventricle; its analytic cavity volume is the EDV.
    esv_ml
        End-systolic volume (mL), reached at phase 3/8.
    n_gates
        8 or 16 (gate 1 at the R wave).
    wall_motion
        Regional hypokinesis / phase delay specifications.
    """
    edv_ml = geometry.edv_mm3 / 1000.0
    shapes = []
    for gate in range(n_gates):
        phase = gate / n_gates
        s_long, _ = _reference_factors(np.asarray(phase), edv_ml, esv_ml)
        target = float(volume_curve_ml(phase, edv_ml, esv_ml))
        trial = GateShape(phase, float(s_long), 1.0, target, edv_ml, esv_ml, tuple(wall_motion))
        scale = np.sqrt(target * 1000.0 / _cavity_integral_mm3(geometry, trial))
        shapes.append(
            GateShape(
                phase, float(s_long), float(scale), target, edv_ml, esv_ml, tuple(wall_motion)
            )
        )
    return shapes


def lv_tissue_at_gate(
    coords: LVCoordinates, geometry: LVGeometry, shape: GateShape
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cavity and myocardium membership of points at one gate, with material coordinates.

    Returns
    -------
    tuple of numpy.ndarray
        ``(cavity, myocardium, h0_mm, depth)``: boolean masks, the ED axial
        coordinate of each point and its transmural depth (0 endocardium, 1
        epicardium; valid inside the myocardium).
    """
    h0 = coords.h_mm / shape.longitudinal_scale
    r_endo0 = geometry.endo_radius_profile(h0)
    r_epi0 = geometry.epi_radius_profile(h0)
    r_endo = (
        shape.radial_scale
        * shape.local_radial_factor(h0, coords.angle_deg, geometry.cavity_length_mm)
        * r_endo0
    )
    r_epi = np.sqrt(r_endo**2 + (r_epi0**2 - r_endo0**2) / shape.longitudinal_scale)
    cavity = coords.r_mm < r_endo
    myocardium = (coords.r_mm >= r_endo) & (coords.r_mm < r_epi)
    depth = np.clip((coords.r_mm - r_endo) / np.maximum(r_epi - r_endo, 1e-6), 0.0, 1.0)
    return cavity, myocardium, h0, depth


def parse_wall_motion(text: str) -> WallMotionSpec:
    """Parse ``LOCATION[:amplitude=0.3][:delay=60]`` (LOCATION: LAD, LCx, RCA or S7+13).

    ``amplitude`` is the radial motion relative to normal (0 akinetic, 1 normal);
    ``delay`` the phase delay in degrees of the cycle.
    """
    location, *options = [p.strip() for p in text.split(":") if p.strip()] or [""]
    values = {"amplitude": 1.0, "delay": 0.0}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or key.strip().lower() not in values:
            raise ParameterError(
                f"--wall-motion {text!r}: unknown option {option!r}; expected amplitude= or delay="
            )
        try:
            values[key.strip().lower()] = float(value)
        except ValueError:
            raise ParameterError(
                f"--wall-motion {text!r}: {key} must be a number; got {value!r}"
            ) from None
    return WallMotionSpec(location_segments(location), values["amplitude"], values["delay"])
