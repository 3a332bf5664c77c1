"""Perfusion defects on the AHA 17-segment model: specification, parsing and placement.

A defect is given by its location (a coronary territory, LAD/LCx/RCA, or a set of
AHA segments; Cerqueira et al., Circulation 2002), its extent in percent of the LV
myocardial volume, its severity in percent uptake reduction, its stress/rest
behaviour and whether it is transmural or subendocardial (inner half of the wall).

Placement grows the defect from the centre of its location: myocardial points of
the location are ranked by their distance over the LV surface from the location's
centre (arc length at the ED endocardial radius and distance along the long axis),
and the nearest points are taken until their volume reaches the requested
fraction of the LV myocardium. The region is then fixed in material coordinates,
so it moves with the wall through the cardiac cycle.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from cardiolens.core.aha import SEGMENT_TERRITORY, Territory, aha_segment, territory_segments
from cardiolens.core.errors import ParameterError

__all__ = [
    "DefectType",
    "DefectSpec",
    "DefectRegion",
    "location_segments",
    "parse_defect_spec",
    "parse_defect_specs",
    "balanced_three_vessel",
    "place_defect",
]

_BALANCED = "balanced"


class DefectType(StrEnum):
    """Stress/rest behaviour of a perfusion defect."""

    REVERSIBLE = "reversible"  # ischaemia: stress only
    FIXED = "fixed"  # scar: same at stress and rest
    MIXED = "mixed"  # scar with peri-infarct ischaemia: partly reversible


def location_segments(location: str) -> tuple[int, ...]:
    """AHA segments of a location: ``LAD``, ``LCx``, ``RCA`` or ``S7+8+13``."""
    text = location.strip()
    territories = {t.value.lower(): t for t in Territory}
    if text.lower() in territories:
        return tuple(territory_segments(territories[text.lower()]))
    if text[:1] in {"S", "s"} and text[1:]:
        try:
            segments = tuple(sorted({int(s) for s in text[1:].split("+")}))
        except ValueError:
            segments = ()
        if segments and all(1 <= s <= 17 for s in segments):
            return segments
        raise ParameterError(
            f"defect location {location!r}: segments must be written S<n>[+<n>...] with AHA "
            "segments 1-17, for example S7+13"
        )
    names = [t.value for t in Territory] + [_BALANCED]
    close = difflib.get_close_matches(text.upper(), [n.upper() for n in names], n=1, cutoff=0.4)
    hint = ""
    if close:
        hint = f" Did you mean {names[[n.upper() for n in names].index(close[0])]!r}?"
    raise ParameterError(
        f"unknown defect territory {location!r}; expected LAD, LCx, RCA, balanced or AHA "
        f"segments such as S7+13.{hint}"
    )


@dataclass(frozen=True)
class DefectSpec:
    """A perfusion defect to simulate.

    Parameters
    ----------
    location
        ``LAD``, ``LCx``, ``RCA`` or AHA segments ``S<n>+<n>...`` (for example ``S7+13``).
    severity_pct
        Stress uptake reduction in percent (0-100) inside the defect.
    extent_pct
        Defect volume in percent of the LV myocardium; ``None`` covers the whole location.
    defect_type
        Reversible (stress only), fixed (stress = rest) or mixed.
    subendocardial
        Restrict the defect to the inner half of the wall (non-transmural).
    rest_severity_pct
        Rest uptake reduction of a mixed defect; default half of ``severity_pct``.
    """

    location: str
    severity_pct: float
    extent_pct: float | None = None
    defect_type: DefectType = DefectType.REVERSIBLE
    subendocardial: bool = False
    rest_severity_pct: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "defect_type", DefectType(self.defect_type))
        location_segments(self.location)
        if not 0 <= self.severity_pct <= 100:
            raise ParameterError(
                f"defect {self.location}: severity must be 0-100 % uptake reduction; got {self.severity_pct}"
            )
        if self.extent_pct is not None and not 0 < self.extent_pct <= 100:
            raise ParameterError(
                f"defect {self.location}: extent must be in (0, 100] % of the LV myocardium; "
                f"got {self.extent_pct}"
            )
        if (
            self.rest_severity_pct is not None
            and not 0 <= self.rest_severity_pct <= self.severity_pct
        ):
            raise ParameterError(
                f"defect {self.location}: rest severity must be between 0 and the stress severity "
                f"({self.severity_pct}); got {self.rest_severity_pct}"
            )

    @property
    def segments(self) -> tuple[int, ...]:
        """AHA segments the defect may occupy."""
        return location_segments(self.location)

    @property
    def territory(self) -> str:
        """Coronary territory name, or ``mixed`` when the segments span several."""
        territories = {SEGMENT_TERRITORY[s].value for s in self.segments}
        return territories.pop() if len(territories) == 1 else "mixed"

    def severity_at(self, state: str) -> float:
        """Uptake reduction (%) at ``"stress"`` or ``"rest"``."""
        if state == "stress" or self.defect_type == DefectType.FIXED:
            return float(self.severity_pct)
        if self.defect_type == DefectType.MIXED:
            rest = self.rest_severity_pct
            return float(0.5 * self.severity_pct if rest is None else rest)
        return 0.0


def balanced_three_vessel(
    severity_pct: float, defect_type: DefectType = DefectType.REVERSIBLE
) -> list[DefectSpec]:
    """Balanced three-vessel disease: the whole LAD, LCx and RCA territories at one severity."""
    return [DefectSpec(t.value, severity_pct, None, defect_type) for t in Territory]


def parse_defect_spec(text: str) -> list[DefectSpec]:
    """Parse ``LOCATION:extent=15:severity=60[:type=reversible|fixed|mixed][:rest=30][:subendocardial]``.

    ``LOCATION`` is ``LAD``, ``LCx``, ``RCA``, segments ``S7+13`` or ``balanced``
    (three full territories). Returns a list because ``balanced`` expands to three.
    """
    parts = [p.strip() for p in text.split(":") if p.strip()]
    if not parts:
        raise ParameterError("empty --defect; expected e.g. LAD:extent=15:severity=60")
    location, options = parts[0], parts[1:]
    values: dict[str, str] = {}
    subendocardial = False
    keys = {"extent", "severity", "type", "rest"}
    for option in options:
        if option.lower() == "subendocardial":
            subendocardial = True
            continue
        key, sep, value = option.partition("=")
        key = key.strip().lower()
        if not sep or key not in keys:
            close = difflib.get_close_matches(key, sorted(keys | {"subendocardial"}), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(
                f"--defect {text!r}: unknown option {option!r}; expected extent=, severity=, "
                f"type=, rest= or subendocardial.{hint}"
            )
        values[key] = value.strip()
    if "severity" not in values:
        raise ParameterError(f"--defect {text!r}: severity=<percent> is required")
    try:
        severity = float(values["severity"])
        extent = float(values["extent"]) if "extent" in values else None
        rest = float(values["rest"]) if "rest" in values else None
    except ValueError as error:
        raise ParameterError(
            f"--defect {text!r}: extent, severity and rest must be numbers ({error})"
        ) from None
    type_text = values.get("type", DefectType.REVERSIBLE.value).lower()
    if type_text not in {t.value for t in DefectType}:
        close = difflib.get_close_matches(type_text, [t.value for t in DefectType], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ParameterError(
            f"--defect {text!r}: type must be reversible, fixed or mixed; got {type_text!r}.{hint}"
        )
    if location.lower() == _BALANCED:
        if extent is not None:
            raise ParameterError(
                f"--defect {text!r}: balanced disease covers all three territories; drop extent="
            )
        return balanced_three_vessel(severity, DefectType(type_text))
    return [DefectSpec(location, severity, extent, DefectType(type_text), subendocardial, rest)]


def parse_defect_specs(texts: Sequence[str]) -> list[DefectSpec]:
    """Parse several ``--defect`` strings (see :func:`parse_defect_spec`)."""
    return [spec for text in texts for spec in parse_defect_spec(text)]


@dataclass(frozen=True)
class DefectRegion:
    """A placed defect in material (ED) coordinates.

    Points belong to it when they lie in ``spec.segments``, within ``radius_mm``
    (surface distance) of the centre (``centre_angle_deg``, ``centre_h_mm``) and,
    for a subendocardial defect, in the inner half of the wall.
    """

    spec: DefectSpec
    centre_angle_deg: float
    centre_h_mm: float
    radius_mm: float
    arc_radius_mm: float
    cavity_length_mm: float
    extent_pct: float

    def surface_distance_mm(self, h0_mm: np.ndarray, angle_deg: np.ndarray) -> np.ndarray:
        """Distance (mm) over the LV surface from the defect centre."""
        d_angle = np.deg2rad(
            (np.asarray(angle_deg) - self.centre_angle_deg + 180.0) % 360.0 - 180.0
        )
        return np.hypot(d_angle * self.arc_radius_mm, np.asarray(h0_mm) - self.centre_h_mm)

    def in_location(
        self, h0_mm: np.ndarray, angle_deg: np.ndarray, depth: np.ndarray
    ) -> np.ndarray:
        """Points (material coordinates) inside the defect's segments and wall layer."""
        inside = np.isin(
            aha_segment(np.asarray(h0_mm) / self.cavity_length_mm, angle_deg), self.spec.segments
        )
        if self.spec.subendocardial:
            inside &= np.asarray(depth) < 0.5
        return inside

    def contains(self, h0_mm: np.ndarray, angle_deg: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Boolean membership of myocardial points given in material coordinates."""
        return self.in_location(h0_mm, angle_deg, depth) & (
            self.surface_distance_mm(h0_mm, angle_deg) <= self.radius_mm
        )


def place_defect(
    spec: DefectSpec,
    *,
    h0_mm: np.ndarray,
    angle_deg: np.ndarray,
    depth: np.ndarray,
    weight: np.ndarray,
    cavity_length_mm: float,
    arc_radius_mm: float,
) -> DefectRegion:
    """Grow ``spec`` from its location's centre until it covers the requested extent.

    Parameters
    ----------
    spec
        The defect.
    h0_mm, angle_deg, depth
        Material coordinates of ED myocardial sample points (1-D arrays).
    weight
        Volume of each sample point (any unit); the LV myocardium is their sum.
    cavity_length_mm
        ED apex-to-valve-plane length (for the AHA long-axis fraction).
    arc_radius_mm
        Radius converting angles to arc length (the ED endocardial radius).
    """
    region = DefectRegion(spec, 0.0, 0.0, np.inf, arc_radius_mm, cavity_length_mm, 0.0)
    inside = region.in_location(h0_mm, angle_deg, depth)
    total = float(np.sum(weight))
    available = float(np.sum(weight[inside]))
    if available <= 0:
        raise ParameterError(
            f"defect {spec.location}: its segments hold no myocardium in this phantom"
        )
    angles = np.deg2rad(angle_deg[inside])
    w = weight[inside]
    centre_angle = float(
        np.rad2deg(np.arctan2(np.sum(w * np.sin(angles)), np.sum(w * np.cos(angles)))) % 360
    )
    centre_h = float(np.sum(w * h0_mm[inside]) / np.sum(w))
    share_pct = 100.0 * available / total
    target_pct = share_pct if spec.extent_pct is None else float(spec.extent_pct)
    if target_pct > share_pct + 1e-9:
        raise ParameterError(
            f"defect {spec.location}: extent {target_pct:g}% exceeds the {share_pct:.1f}% of the LV "
            "myocardium its segments hold; lower extent= or choose a larger location"
        )
    region = DefectRegion(
        spec, centre_angle, centre_h, np.inf, arc_radius_mm, cavity_length_mm, 0.0
    )
    distance = region.surface_distance_mm(h0_mm[inside], angle_deg[inside])
    order = np.argsort(distance, kind="stable")
    cumulative = np.cumsum(w[order]) / total * 100.0
    k = int(np.searchsorted(cumulative, target_pct - 1e-9))
    k = min(k, len(order) - 1)
    radius = float(distance[order[k]])
    extent = float(cumulative[k])
    return DefectRegion(
        spec, centre_angle, centre_h, radius, arc_radius_mm, cavity_length_mm, extent
    )
