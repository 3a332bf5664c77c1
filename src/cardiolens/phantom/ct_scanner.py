"""What real calcium CTs add to the thorax phantom: habitus, arms, table, metal, small FOV.

* **Habitus** (:class:`Habitus`): extra subcutaneous fat (slim -5 mm to obese +40 mm)
  around the same thoracic cage, breast tissue (fat with glandular tissue at 20 HU in
  front of the chest), arms down beside the chest (muscle with a humerus of cortical bone)
  or up (out of view), and the patient table (a 12 mm carbon-fibre slab at 250 HU on foam
  at -800 HU under the back), as on PET/CT and SPECT/CT attenuation scans.
* **Metal** (:func:`metal_parts`, :func:`paint_metal`): a coronary stent (a 15 mm
  wire-mesh shell around an artery's centreline), a pacing lead (a coil from above the
  heart through the right atrium to the right-ventricular apex) and sternal wires (loops
  around the sternum), of 12000 HU metal (steel; its mesh or coil filling part of the
  volume) with partial volume over each voxel, so metal voxels lie far above calcium.
* **Reconstruction circle** (:func:`apply_field_of_view`): gated calcium scans are
  reconstructed at 160-250 mm around the heart; outside the circle the scanner writes
  a padding value (Siemens -2048 HU, GE -3024 HU, Philips/Canon -1024 HU), which cuts
  the body outline and both lungs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cardiolens.core.errors import ParameterError

__all__ = [
    "METAL_HU",
    "METAL_KINDS",
    "VENDOR_PADDING_HU",
    "SWEEP_KINDS",
    "Habitus",
    "MetalPart",
    "apply_field_of_view",
    "metal_parts",
    "paint_habitus",
    "paint_metal",
    "sweep_case",
]

#: HU of metal before the scanner blur (stainless steel, platinum-iridium, titanium).
METAL_HU = 12000.0

#: Metal the phantom can hold: ``stent:<artery>``, ``lead``, ``sternal_wires``.
METAL_KINDS = ("stent", "lead", "sternal_wires")

#: Padding outside the reconstruction circle written by each vendor (HU after rescale).
VENDOR_PADDING_HU = {"siemens": -2048.0, "ge": -3024.0, "philips": -1024.0, "canon": -1024.0}

_ARM_SEMI_AXES_MM = (48.0, 42.0)
_HUMERUS_MM = 11.0


@dataclass(frozen=True)
class Habitus:
    """Body build of the phantom patient.

    Attributes
    ----------
    extra_fat_mm
        Subcutaneous fat added (or removed, down to -5 mm) around the thoracic cage (mm).
    breast
        Breast tissue in front of the lower chest.
    arms_down
        Arms beside the chest (in the field of view) instead of above the head.
    table
        The patient table under the back.
    """

    extra_fat_mm: float = 0.0
    breast: bool = False
    arms_down: bool = False
    table: bool = False

    def __post_init__(self) -> None:
        if not -5.0 <= self.extra_fat_mm <= 60.0:
            raise ParameterError(f"extra_fat_mm must be -5 to 60 mm; got {self.extra_fat_mm}")


def paint_habitus(
    hu: np.ndarray,
    yy: np.ndarray,
    xx: np.ndarray,
    body: np.ndarray,
    semi_axes_mm: tuple[float, float],
    habitus: Habitus,
    hu_table: dict[str, float],
) -> None:
    """Paint breasts, arms and table outside ``body`` on the in-plane template ``hu``."""
    a, b = semi_axes_mm
    free = ~body
    if habitus.breast:
        for side in (-1.0, 1.0):
            r = np.hypot((xx - side * 0.45 * a) / 60.0, (yy + b - 5.0) / 45.0)
            breast = free & (r <= 1.0) & (yy < -0.5 * b)
            hu[breast] = hu_table["fat"]
            hu[breast & (r <= 0.55)] = 20.0  # glandular tissue
    if habitus.arms_down:
        for side in (-1.0, 1.0):
            cx = side * (a + _ARM_SEMI_AXES_MM[0] + 8.0)
            r = np.hypot((xx - cx) / _ARM_SEMI_AXES_MM[0], yy / _ARM_SEMI_AXES_MM[1])
            hu[r <= 1.0] = hu_table["fat"]
            hu[r <= 0.8] = hu_table["muscle"]
            bone = np.hypot(xx - cx, yy)
            hu[bone <= _HUMERUS_MM] = hu_table["cortical_bone"]
            hu[bone <= _HUMERUS_MM - 3.0] = hu_table["cancellous_bone"]
    if habitus.table:
        top = b + 6.0
        hu[(yy >= top) & (yy < top + 30.0) & (np.abs(xx) < 230.0) & free] = -800.0  # foam
        hu[(yy >= top + 30.0) & (yy < top + 42.0) & (np.abs(xx) < 230.0)] = 250.0


def apply_field_of_view(
    images: list[np.ndarray], y: np.ndarray, x: np.ndarray, diameter_mm: float, padding_hu: float
) -> np.ndarray:
    """Write ``padding_hu`` outside the reconstruction circle (centred on the image) in place.

    Returns the in-plane mask of the circle.
    """
    cy, cx = (y[0] + y[-1]) / 2.0, (x[0] + x[-1]) / 2.0
    inside = np.hypot(*np.meshgrid(y - cy, x - cx, indexing="ij")) <= diameter_mm / 2.0
    for image in images:
        image[:, ~inside] = padding_hu
    return inside


def _near(points: np.ndarray, line: np.ndarray, inner_mm: float, outer_mm: float) -> np.ndarray:
    """Points ``(n, 3)`` at ``inner_mm`` to ``outer_mm`` from a dense polyline ``(m, 3)``."""
    from scipy.spatial import cKDTree

    distance, _ = cKDTree(line).query(points, distance_upper_bound=outer_mm + 1e-6)
    return (distance <= outer_mm) & (distance >= inner_mm)


def _dense(waypoints: np.ndarray, step_mm: float = 0.2) -> np.ndarray:
    out = []
    for p, q in zip(waypoints[:-1], waypoints[1:], strict=True):
        n = max(int(np.ceil(np.linalg.norm(q - p) / step_mm)), 1)
        out.append(p + (q - p) * np.linspace(0.0, 1.0, n, endpoint=False)[:, None])
    out.append(waypoints[-1:])
    return np.concatenate(out)


@dataclass(frozen=True)
class MetalPart:
    """A wire or shell of metal: voxels ``inner_mm``-``outer_mm`` from ``line`` at ``hu``."""

    line: np.ndarray
    inner_mm: float
    outer_mm: float
    hu: float


def metal_parts(
    kind: str,
    *,
    artery_line: np.ndarray | None,
    heart_centre_mm: np.ndarray,
    heart_frame: np.ndarray,
    heart_axes_mm: np.ndarray,
    sternum_mm: tuple[float, float],
    z_range_mm: tuple[float, float],
    rng: np.random.Generator,
) -> list[MetalPart]:
    """The metal of one device (see module): a stent is a 15 mm shell of radius 1.2-1.6 mm
    whose wire mesh fills 70 % of it; a lead a 0.8 mm coil at half density; a sternal wire
    a 0.5 mm solid wire."""
    if kind == "stent":
        if artery_line is None:
            raise ParameterError("a stent needs an artery: use 'stent:LAD' (LM, LAD, LCx, RCA)")
        start = int(rng.uniform(0.15, 0.45) * len(artery_line))
        segment = _dense(artery_line[start : start + 30])  # 15 mm at 0.5 mm steps
        return [MetalPart(segment, 1.2, 1.6, 0.7 * METAL_HU)]
    if kind == "lead":
        u, _, v = heart_frame
        ra = heart_centre_mm - 0.55 * heart_axes_mm[0] * u + 0.45 * heart_axes_mm[2] * v
        apex = heart_centre_mm + 0.55 * heart_axes_mm[0] * u + 0.15 * heart_axes_mm[2] * v
        top = np.array([ra[0] - 5.0, ra[1] - 5.0, z_range_mm[1] + 5.0])
        mid = heart_centre_mm + 0.3 * (apex - heart_centre_mm)
        return [MetalPart(_dense(np.stack([top, ra, mid, apex])), 0.0, 0.8, 0.5 * METAL_HU)]
    if kind == "sternal_wires":
        sx, sy = sternum_mm
        parts = []
        for zc in rng.uniform(z_range_mm[0] + 15.0, z_range_mm[1] - 15.0, 2):
            phi = np.linspace(0.0, 2 * np.pi, 400)
            loop = np.stack(
                [sx + 17.0 * np.cos(phi), sy + 7.0 * np.sin(phi), np.full(phi.size, zc)], axis=1
            )
            parts.append(MetalPart(loop, 0.0, 0.5, METAL_HU))
        return parts
    raise ParameterError(f"unknown metal kind {kind!r}; use one of {', '.join(METAL_KINDS)}")


def paint_metal(
    image: np.ndarray,
    z: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    parts: list[MetalPart],
    slice_thickness_mm: float,
    labels: np.ndarray,
    label: int,
) -> bool:
    """Paint metal ``parts`` with 4 x 4 x 4 supersampling of each voxel (pixel x pixel x
    slice thickness: partial volume) and mark ``labels`` with ``label``.

    Returns False when no part is in view.
    """
    pixel = float(x[1] - x[0])
    offsets = (np.arange(4) - 1.5) / 4.0
    painted = False
    for part in parts:
        reach = part.outer_mm + pixel
        lo, hi = part.line.min(axis=0) - reach, part.line.max(axis=0) + reach
        half = slice_thickness_mm / 2.0
        ks = np.flatnonzero((z >= lo[2] - half) & (z <= hi[2] + half))
        iy = np.flatnonzero((y >= lo[1]) & (y <= hi[1]))
        ix = np.flatnonzero((x >= lo[0]) & (x <= hi[0]))
        if not (ks.size and iy.size and ix.size):
            continue
        zz, yy, xx = np.meshgrid(z[ks], y[iy], x[ix], indexing="ij")
        fraction = np.zeros(zz.shape, dtype=np.float32)
        for dz in offsets * slice_thickness_mm:
            for dy in offsets * pixel:
                for dx in offsets * pixel:
                    points = np.stack([(xx + dx).ravel(), (yy + dy).ravel(), (zz + dz).ravel()], 1)
                    hit = _near(points, part.line, part.inner_mm, part.outer_mm)
                    fraction += hit.reshape(zz.shape).astype(np.float32) / 64.0
        if not fraction.any():
            continue
        box = np.ix_(ks, iy, ix)
        image[box] = (1.0 - fraction) * image[box] + fraction * np.float32(part.hu)
        region = labels[box]
        region[fraction > 0] = label
        labels[box] = region
        painted = True
    return painted


#: Scan types of :func:`sweep_case`, cycled through in this order.
SWEEP_KINDS = ("gated_small_fov", "gated_full_fov", "chest", "attenuation_ct", "metal")


def sweep_case(index: int, seed: int) -> tuple[str, dict]:
    """Options of :func:`cardiolens.phantom.simulate_ct` for case ``index`` of the sweep.

    Cases cycle through :data:`SWEEP_KINDS`; ``seed`` draws the factors:

    * ``gated_small_fov``: 3 mm slices, a 164-243 mm circle on 512 x 512 (0.32-0.47 mm
      pixels) around the heart, off-centre by up to 25 mm (never cutting the heart's fat),
      Siemens, GE, Philips or Canon padding;
    * ``gated_full_fov``: 3 mm, 0.7 mm pixels, habitus from slim to +25 mm fat, breast;
    * ``chest``: 2.5 mm, 0.68-0.8 mm pixels, 512 x 512, fat -5 to +40 mm, breast, arms
      up or down, table;
    * ``attenuation_ct``: PET/CT-SPECT/CT attenuation CT: 5 mm, 0.98 mm pixels, 25-40 HU
      noise, arms up or down, table;
    * ``metal``: a gated scan with a stent in a random artery and a lead or sternal wires.

    Every case also names a ``vendor`` (:data:`cardiolens.phantom.ct_vendor.VENDOR_PROFILES`;
    the padding's vendor for the gated cases): the sweep writes the scan with that
    vendor-like DICOM header and storage and scores what it reads back. Half the cases
    have the liver's dome against the heart's inferior wall (``liver_dome``).
    """
    rng = np.random.default_rng(seed)
    kind = SWEEP_KINDS[index % len(SWEEP_KINDS)]
    options: dict = {"seed": seed, "noise_hu": 20.0}
    if kind in ("gated_small_fov", "metal"):
        diameter = float(rng.uniform(164.0, 243.0))
        reach = float(np.clip(diameter / 2.0 - 72.0, 3.0, 25.0))
        offset = rng.uniform(-reach, reach, 2)
        vendor = str(rng.choice(sorted(VENDOR_PADDING_HU)))
        options |= {
            "vendor": vendor,
            "matrix": (50, 512, 512),
            "pixel_mm": diameter / 512.0,
            "fov_diameter_mm": diameter,
            "padding_hu": VENDOR_PADDING_HU[vendor],
            "field_centre_mm": (22.0 + float(offset[0]), -28.0 + float(offset[1])),
        }
        if kind == "metal":
            artery = str(rng.choice(["LM", "LAD", "LCx", "RCA"]))
            options["metal"] = (f"stent:{artery}", str(rng.choice(["lead", "sternal_wires"])))
    elif kind == "gated_full_fov":
        options |= {
            "matrix": (50, 384, 384),
            "pixel_mm": 0.7,
            "habitus": Habitus(float(rng.uniform(-5.0, 25.0)), breast=bool(rng.random() < 0.5)),
        }
    elif kind == "chest":
        options |= {
            "matrix": (60, 512, 512),
            "pixel_mm": float(rng.uniform(0.68, 0.8)),
            "slice_thickness_mm": 2.5,
            "habitus": Habitus(
                float(rng.uniform(-5.0, 40.0)),
                breast=bool(rng.random() < 0.5),
                arms_down=bool(rng.random() < 0.5),
                table=True,
            ),
        }
    else:
        options |= {
            "matrix": (30, 512, 512),
            "pixel_mm": 0.98,
            "slice_thickness_mm": 5.0,
            "noise_hu": float(rng.uniform(25.0, 40.0)),
            "habitus": Habitus(
                float(rng.uniform(-5.0, 30.0)), arms_down=bool(rng.random() < 0.5), table=True
            ),
        }
    # Drawn last, so that the other factors of each case stay those of earlier sweeps.
    options.setdefault("vendor", str(rng.choice(sorted(VENDOR_PADDING_HU))))
    options["liver_dome"] = bool(rng.random() < 0.5)
    return kind, options
