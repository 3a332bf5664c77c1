"""Calcified lesions of the CT phantom: specification, placement and partial-volume rendering.

A lesion is an ellipsoid of hydroxyapatite (HA) of given volume and density, twice as
long along its artery as it is wide, sitting eccentrically in the vessel wall. Its HU is
``density / c`` (water matrix, :func:`cardiolens.ct.calibration.ha_density_to_hu`). Each
voxel gets the calcium fraction ``f`` of its extent (pixel x pixel x slice thickness,
supersampled 4 x 4 in-plane and every 0.25 mm in z) and the value
``(1 - f) x anatomy + f x HU_calcium``: partial volume as a scanner's slice profile makes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cardiolens.core.errors import ParameterError

__all__ = [
    "ARTERIES",
    "LesionSpec",
    "Ellipsoid",
    "parse_lesion_spec",
    "random_lesion_specs",
    "render_fraction",
]

#: Artery names accepted in lesion specifications.
ARTERIES = ("LM", "LAD", "LCx", "RCA")


@dataclass(frozen=True)
class LesionSpec:
    """One coronary calcification to simulate.

    Attributes
    ----------
    artery
        ``LM``, ``LAD``, ``LCx`` or ``RCA``.
    volume_mm3
        True calcium volume (mm^3).
    density_mg_cm3
        HA density (mg/cm^3), 100-1000.
    position
        Fraction along the artery's centreline (0 ostium .. 1 distal); random if ``None``.
    """

    artery: str
    volume_mm3: float
    density_mg_cm3: float = 400.0
    position: float | None = None

    def __post_init__(self) -> None:
        if self.artery not in ARTERIES:
            import difflib

            close = difflib.get_close_matches(self.artery, ARTERIES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(
                f"unknown artery {self.artery!r}; expected one of {', '.join(ARTERIES)}.{hint}"
            )
        if not 0.5 <= self.volume_mm3 <= 2000.0:
            raise ParameterError(f"lesion volume must be 0.5-2000 mm^3; got {self.volume_mm3}")
        if not 100.0 <= self.density_mg_cm3 <= 1000.0:
            raise ParameterError(
                f"lesion density must be 100-1000 mg HA/cm^3; got {self.density_mg_cm3}"
            )
        if self.position is not None and not 0.0 <= self.position <= 1.0:
            raise ParameterError(
                f"lesion position must be a fraction 0-1 along the artery; got {self.position}"
            )

    @property
    def mass_mg(self) -> float:
        """True calcium mass: density x volume (mg)."""
        return self.density_mg_cm3 * 1e-3 * self.volume_mm3


def parse_lesion_spec(text: str) -> LesionSpec:
    """Parse ``ARTERY:volume=50:density=400[:position=0.3]`` (volume mm^3, density mg/cm^3)."""
    artery, *options = text.split(":")
    values: dict[str, float] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or key not in ("volume", "density", "position"):
            raise ParameterError(
                f"--lesion {text!r}: expected ARTERY:volume=V:density=D[:position=P]; bad part {option!r}"
            )
        try:
            values[key] = float(value)
        except ValueError:
            raise ParameterError(
                f"--lesion {text!r}: {key} must be a number; got {value!r}"
            ) from None
    if "volume" not in values:
        raise ParameterError(f"--lesion {text!r}: volume=... (mm^3) is required")
    return LesionSpec(
        artery.strip(), values["volume"], values.get("density", 400.0), values.get("position")
    )


def random_lesion_specs(rng: np.random.Generator, n: int | None = None) -> list[LesionSpec]:
    """1-6 lesions on random arteries, volume 5-150 mm^3 (log-uniform), 200-800 mg HA/cm^3."""
    n = int(rng.integers(1, 7)) if n is None else n
    weights = np.array([0.1, 0.35, 0.25, 0.3])
    return [
        LesionSpec(
            str(rng.choice(ARTERIES, p=weights)),
            float(np.exp(rng.uniform(np.log(5.0), np.log(150.0)))),
            float(rng.uniform(200.0, 800.0)),
        )
        for _ in range(n)
    ]


@dataclass(frozen=True)
class Ellipsoid:
    """An ellipsoid in LPS mm: centre, semi-axes and the unit vector of its first axis."""

    centre_mm: np.ndarray
    semi_axes_mm: tuple[float, float, float]
    axis: np.ndarray

    @classmethod
    def elongated(
        cls, centre_mm: np.ndarray, volume_mm3: float, axis: np.ndarray, aspect: float = 2.0
    ) -> Ellipsoid:
        """An ellipsoid of ``volume_mm3`` that is ``aspect`` times longer along ``axis``."""
        r = (3.0 * volume_mm3 / (4.0 * np.pi * aspect)) ** (1.0 / 3.0)
        return cls(
            np.asarray(centre_mm, float),
            (aspect * r, r, r),
            np.asarray(axis, float) / np.linalg.norm(axis),
        )

    @property
    def volume_mm3(self) -> float:
        """Exact volume 4/3 pi abc."""
        return float(4.0 / 3.0 * np.pi * np.prod(self.semi_axes_mm))

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean ``(n,)``: which LPS points ``(n, 3)`` lie inside."""
        d = points - self.centre_mm
        along = d @ self.axis
        across2 = np.sum(d * d, axis=1) - along**2
        a, b, _ = self.semi_axes_mm
        return (along / a) ** 2 + across2 / b**2 <= 1.0


def render_fraction(
    shape: tuple[int, int, int],
    *,
    origin_mm: np.ndarray,
    pixel_mm: float,
    slice_increment_mm: float,
    slice_thickness_mm: float,
    ellipsoid: Ellipsoid,
) -> tuple[tuple[slice, slice, slice], np.ndarray] | None:
    """Fraction of each voxel occupied by ``ellipsoid`` (axis-aligned grid, LPS origin).

    Voxel ``(k, i, j)`` covers x in ``origin_x + j px +- px/2``, y likewise and z in
    ``origin_z + k increment +- thickness/2`` (slices may overlap). Returns the bounding
    box and the fractions in it, or ``None`` when the ellipsoid misses the grid.
    """
    reach = max(ellipsoid.semi_axes_mm)
    lo = ellipsoid.centre_mm - reach
    hi = ellipsoid.centre_mm + reach
    j0, j1 = (
        int(np.floor((lo[0] - origin_mm[0]) / pixel_mm)) - 1,
        int(np.ceil((hi[0] - origin_mm[0]) / pixel_mm)) + 2,
    )
    i0, i1 = (
        int(np.floor((lo[1] - origin_mm[1]) / pixel_mm)) - 1,
        int(np.ceil((hi[1] - origin_mm[1]) / pixel_mm)) + 2,
    )
    half = slice_thickness_mm / 2.0
    k0 = int(np.floor((lo[2] - half - origin_mm[2]) / slice_increment_mm)) - 1
    k1 = int(np.ceil((hi[2] + half - origin_mm[2]) / slice_increment_mm)) + 2
    box = (
        slice(max(k0, 0), min(k1, shape[0])),
        slice(max(i0, 0), min(i1, shape[1])),
        slice(max(j0, 0), min(j1, shape[2])),
    )
    if any(b.stop <= b.start for b in box):
        return None
    n_xy = 4
    n_z = max(3, int(np.ceil(slice_thickness_mm / 0.25)))
    sub_xy = ((np.arange(n_xy) + 0.5) / n_xy - 0.5) * pixel_mm
    sub_z = ((np.arange(n_z) + 0.5) / n_z - 0.5) * slice_thickness_mm
    k = np.arange(box[0].start, box[0].stop)
    i = np.arange(box[1].start, box[1].stop)
    j = np.arange(box[2].start, box[2].stop)
    z = (origin_mm[2] + k * slice_increment_mm)[:, None] + sub_z[None, :]
    y = (origin_mm[1] + i * pixel_mm)[:, None] + sub_xy[None, :]
    x = (origin_mm[0] + j * pixel_mm)[:, None] + sub_xy[None, :]
    zz, yy, xx = np.meshgrid(z.ravel(), y.ravel(), x.ravel(), indexing="ij")
    inside = ellipsoid.contains(np.stack([xx.ravel(), yy.ravel(), zz.ravel()], axis=1))
    inside = inside.reshape(k.size, n_z, i.size, n_xy, j.size, n_xy)
    fraction = inside.mean(axis=(1, 3, 5))
    return box, fraction
