"""Non-contrast ECG-gated calcium-scoring CT phantom with exact ground truth.

:func:`simulate_ct` renders the thorax of :mod:`cardiolens.phantom.ct_thorax` (body, lungs,
spine, ribs, sternum, aorta, heart, epicardial fat, pericardium, coronary arteries), adds
calcified lesions (:mod:`cardiolens.phantom.ct_lesions`) and, as distractors, aortic wall,
aortic valve and mitral annulus calcification; blurs with the scanner's in-plane point
spread (Gaussian, sigma 0.5 mm), rounds to integer HU and adds Gaussian noise of the
chosen standard deviation (optionally correlated in-plane, as filtered back-projection
makes it). The ground truth of every lesion is computed by the scoring functions of
:mod:`cardiolens.ct` (same definitions) on the noise-free image restricted to the lesion;
the physical volume and mass (density x volume) are given beside them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from cardiolens.core.errors import ParameterError
from cardiolens.core.volume import Volume
from cardiolens.ct.calibration import default_mass_calibration, ha_density_to_hu
from cardiolens.ct.lesions import LABEL_ARTERY, Artery, measure_lesions
from cardiolens.phantom.ct_lesions import (
    Ellipsoid,
    LesionSpec,
    random_lesion_specs,
    render_fraction,
)
from cardiolens.phantom.ct_scanner import (
    Habitus,
    apply_field_of_view,
    metal_parts,
    paint_habitus,
    paint_metal,
)
from cardiolens.phantom.ct_thorax import HU, HeartGeometry, coronary_centrelines, random_heart

__all__ = ["CTPhantom", "simulate_ct", "simulate_ct_study"]

logger = logging.getLogger(__name__)

_VESSEL_RADIUS_MM = {"LM": 2.0, "LAD": 1.6, "LCx": 1.6, "RCA": 1.7}
_PSF_SIGMA_MM = 0.5
#: Reach of the blur that the lesion truth support covers (PSF standard deviations).
_SUPPORT_SIGMAS = 3.0
_BODY_SEMI_AXES_MM = (160.0, 120.0)
_AORTA_RADIUS_MM = 13.0
_DESCENDING_AORTA_MM = (32.0, 52.0)
_LESION_SPACING_MM = 4.0


@dataclass(frozen=True)
class CTPhantom:
    """A simulated calcium-scoring CT and its truth.

    Attributes
    ----------
    volume
        The CT (HU, noise included), ``(z, y, x)``.
    clean
        The noise-free CT (integer HU).
    lesion_labels
        Support of each coronary lesion (value = lesion id, 1..n): the voxels its partial
        volume touches, grown in-plane by the blur's reach (3 PSF sigma, >= 2 pixels).
    distractor_labels
        Support of each non-coronary calcification (value = distractor id).
    eat_mask
        True epicardial fat voxels.
    sac_mask
        Inside of the pericardium.
    truth
        The ground truth, as written to ``ground_truth.json``.
    metal_labels
        Voxels of each metal device (value = index in ``truth["metal"]`` + 1).
    """

    volume: Volume
    clean: Volume
    lesion_labels: np.ndarray
    distractor_labels: np.ndarray
    eat_mask: np.ndarray
    sac_mask: np.ndarray
    truth: dict[str, Any] = field(default_factory=dict)
    metal_labels: np.ndarray | None = None


def _grid(
    matrix: tuple[int, int, int], pixel_mm: float, increment_mm: float
) -> tuple[np.ndarray, ...]:
    nz, ny, nx = matrix
    x = (np.arange(nx) - (nx - 1) / 2.0) * pixel_mm
    y = (np.arange(ny) - (ny - 1) / 2.0) * pixel_mm
    z = (np.arange(nz) - (nz - 1) / 2.0) * increment_mm
    return z, y, x


def _torso_2d(
    y: np.ndarray, x: np.ndarray, pixel_mm: float, habitus: Habitus
) -> tuple[np.ndarray, np.ndarray]:
    """In-plane HU template (same in every slice) and the depth below the skin of a
    slim patient (mm; the ribs follow it, whatever fat lies over them)."""
    yy, xx = np.meshgrid(y, x, indexing="ij")
    extra = habitus.extra_fat_mm
    a, b = (s + extra for s in _BODY_SEMI_AXES_MM)
    body = (xx / a) ** 2 + (yy / b) ** 2 <= 1.0
    depth = ndi.distance_transform_edt(np.pad(body, 1))[1:-1, 1:-1] * pixel_mm
    hu = np.full(body.shape, HU["air"], dtype=np.float32)
    paint_habitus(hu, yy, xx, body, (a, b), habitus, HU)
    hu[body] = HU["fat"]
    hu[body & (depth >= 12.0 + extra)] = HU["muscle"]
    cavity = body & (depth >= 25.0 + extra)
    mediastinum = (np.abs(xx) < 30.0) & (yy < 55.0)
    paraspinal = (np.abs(xx) < 48.0) & (yy >= 40.0)
    hu[cavity] = HU["lung"]
    hu[cavity & mediastinum] = HU["fat"]
    hu[cavity & paraspinal] = HU["muscle"]
    ax, ay = _DESCENDING_AORTA_MM
    aorta_r = np.hypot(xx - ax, yy - ay)
    hu[aorta_r <= _AORTA_RADIUS_MM + 4.0] = HU["fat"]
    hu[aorta_r <= _AORTA_RADIUS_MM] = HU["blood"]
    vertebra = np.hypot(xx, yy - 75.0)
    hu[vertebra <= 17.0] = HU["cortical_bone"]
    hu[vertebra <= 15.0] = HU["cancellous_bone"]
    hu[(np.abs(xx) <= 5.0) & (yy > 100.0) & (yy < 114.0)] = HU["cortical_bone"]
    hu[np.hypot(xx, yy - 100.0) <= 7.0] = 10.0  # spinal canal
    front = -b + extra
    hu[(np.abs(xx) <= 14.0) & (yy >= front + 14.0) & (yy <= front + 24.0)] = 450.0  # sternum
    return hu, depth - extra


def _paint_ribs(
    image: np.ndarray,
    z: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    depth: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Ribs: tubes 15-21 mm under the skin, 22 mm apart, descending 50 mm from back to front.

    Cortex 600 HU, marrow 300 HU; not at the midline (costal cartilage, spine).
    """
    band = (depth >= 15.0) & (depth <= 21.0)
    iy, ix = np.nonzero(band)
    sin_theta = y[iy] / np.hypot(x[ix], y[iy])
    lateral = np.abs(x[ix]) > 22.0
    z_offset = -25.0 * (1.0 - sin_theta)
    phase = rng.uniform(0.0, 22.0)
    for k, zk in enumerate(z):
        distance = np.abs((zk - z_offset - phase + 11.0) % 22.0 - 11.0)
        on = lateral & (distance <= 4.5)
        image[k, iy[on], ix[on]] = np.where(distance[on] <= 3.0, 300.0, 600.0)


def _heart_region(
    heart: HeartGeometry, z: np.ndarray, y: np.ndarray, x: np.ndarray, reach_mm: float
):
    centre = heart.centre_mm
    pick = [np.flatnonzero(np.abs(c - centre[i]) <= reach_mm) for i, c in ((2, z), (1, y), (0, x))]
    box = tuple(slice(int(p[0]), int(p[-1]) + 1) for p in pick)
    zz, yy, xx = np.meshgrid(z[box[0]], y[box[1]], x[box[2]], indexing="ij")
    points = np.stack([xx.ravel(), yy.ravel(), zz.ravel()], axis=1)
    return box, points, zz.shape


def simulate_ct(
    *,
    seed: int,
    matrix: tuple[int, int, int] = (60, 512, 512),
    pixel_mm: float = 0.7,
    slice_thickness_mm: float = 3.0,
    slice_increment_mm: float | None = None,
    kvp: float = 120.0,
    noise_hu: float = 20.0,
    noise_correlation_mm: float = 0.5,
    dose_fraction: float = 1.0,
    lesions: Sequence[LesionSpec] | str = "random",
    eat_ml: float = 150.0,
    distractors: bool = True,
    field_centre_mm: tuple[float, float] = (0.0, 0.0),
    fov_diameter_mm: float | None = None,
    padding_hu: float = -2048.0,
    habitus: Habitus | None = None,
    metal: Sequence[str] = (),
    liver_dome: bool = False,
) -> CTPhantom:
    """Simulate a non-contrast calcium-scoring CT of the thorax.

    Parameters
    ----------
    seed
        Random seed; the same seed gives identical pixels.
    matrix
        ``(slices, rows, columns)``.
    pixel_mm
        In-plane pixel size (0.3-1.5 mm).
    slice_thickness_mm, slice_increment_mm
        Reconstructed thickness and spacing (increment = thickness when ``None``;
        increment < thickness gives an overlapping reconstruction).
    kvp
        Tube voltage (80-140 kV), sets the HU of calcium.
    noise_hu
        Standard deviation of the image noise at full dose (HU); 0 gives the noise-free image.
    noise_correlation_mm
        In-plane correlation length (Gaussian sigma) of the noise; 0 for white noise.
    dose_fraction
        Tube current-time product relative to full dose (e.g. 0.5); quantum noise scales
        as ``noise_hu / sqrt(dose_fraction)``.
    lesions
        Coronary lesions, or ``"random"`` (1-6 random lesions).
    eat_ml
        Epicardial fat volume to build (mL).
    distractors
        Add aortic wall, aortic valve and mitral annulus calcification.
    field_centre_mm
        LPS ``(x, y)`` of the image centre (the body axis is at 0, the heart near
        ``(22, -28)``): a gated reconstruction is centred near the heart.
    fov_diameter_mm
        Reconstruction circle (centred on the image); outside it pixels hold
        ``padding_hu`` (:data:`cardiolens.phantom.ct_scanner.VENDOR_PADDING_HU`).
    habitus
        Body build, arms and table (:class:`cardiolens.phantom.ct_scanner.Habitus`).
    metal
        Devices: ``"stent:<artery>"``, ``"lead"``, ``"sternal_wires"``.
    liver_dome
        The liver's dome under the right hemidiaphragm, rising against the heart's
        inferior wall with no fat between them (:func:`_liver_dome`).
    """
    increment = float(slice_increment_mm or slice_thickness_mm)
    if not 0.3 <= pixel_mm <= 1.5:
        raise ParameterError(f"pixel_mm must be 0.3-1.5 mm; got {pixel_mm}")
    if not 0.5 <= slice_thickness_mm <= 5.0 or not 0.25 <= increment <= slice_thickness_mm * 1.5:
        raise ParameterError(
            f"slice thickness {slice_thickness_mm} mm / increment {increment} mm out of range"
        )
    if noise_hu < 0:
        raise ParameterError(f"noise_hu must be >= 0; got {noise_hu}")
    if not 0.0 < dose_fraction <= 4.0:
        raise ParameterError(f"dose_fraction must be in (0, 4]; got {dose_fraction}")
    noise_hu = noise_hu / np.sqrt(dose_fraction)
    rng = np.random.default_rng(seed)
    specs = random_lesion_specs(rng) if isinstance(lesions, str) else list(lesions)
    z, y, x = _grid(matrix, pixel_mm, increment)
    x, y = x + field_centre_mm[0], y + field_centre_mm[1]
    origin = np.array([x[0], y[0], z[0]])
    habitus = habitus or Habitus()
    template, depth = _torso_2d(y, x, pixel_mm, habitus)
    image = np.repeat(template[None], matrix[0], axis=0)
    _paint_ribs(image, z, y, x, depth, rng)
    # Lung or mediastinal fat of the thoracic cavity: what the liver dome displaces.
    soft_cavity = (template == HU["lung"]) | (
        (template == HU["fat"]) & (depth >= 25.0 + habitus.extra_fat_mm)
    )

    heart = random_heart(
        rng,
        centre_mm=np.array([22.0, -28.0, z[0] + 0.45 * (z[-1] - z[0])]) + rng.normal(0, 3, 3),
        eat_ml=eat_ml,
    )
    liver = _liver_dome(z, y, x, heart) if liver_dome else None
    if liver is not None:
        image[liver & soft_cavity[None]] = HU["liver"]
    reach = float(heart.axes_mm.max() + heart.eat_base_mm + heart.groove_mm + 14.0)
    box, points, box_shape = _heart_region(heart, z, y, x, reach)
    r, surface, lax, angle = heart.polar(points)
    thickness = heart.eat_thickness_mm(lax, angle)
    anterior = np.clip(-(points[:, 1] - heart.centre_mm[1]) / np.maximum(r, 1e-6), 0.0, None)
    outer = surface + thickness
    region = np.full(
        r.shape, 0, dtype=np.int8
    )  # 0 outside, 1 heart, 2 EAT, 3 pericardium, 4 paracardial fat
    region[r <= outer + 1.5 + 3.0 + 6.0 * anterior] = 4
    region[r <= outer + 1.5] = 3
    region[r <= outer] = 2
    region[r <= surface] = 1
    cavity = (
        np.sum(
            ((points - heart.centre_mm) @ heart.frame.T / (heart.axes_mm * [0.8, 0.75, 0.75])) ** 2,
            axis=1,
        )
        <= 1.0
    )
    values = np.choose(
        region, [0.0, HU["myocardium"], HU["epicardial_fat"], HU["pericardium"], HU["fat"]]
    ).astype(np.float32)
    values[cavity & (region == 1)] = HU["blood"]
    values[region == 2] += rng.normal(0.0, 6.0, int((region == 2).sum())).astype(np.float32)

    # Aortic root inside the base and the ascending aorta rising from it.
    root = heart.centre_mm + 0.5 * (
        heart.layer_point(np.array([-0.8]), np.array([60.0]), 0.0)[0] - heart.centre_mm
    )
    d = points - root
    aorta_axis = np.array([-0.15, -0.2, 1.0]) / np.linalg.norm([-0.15, -0.2, 1.0])
    along = d @ aorta_axis
    radial = np.linalg.norm(d - along[:, None] * aorta_axis, axis=1)
    # The fat layer stays whole so the left main keeps its fat (a simplification).
    aorta = (along >= 0) & (radial <= _AORTA_RADIUS_MM) & (region != 2)
    values[aorta] = HU["blood"]
    region[aorta & (region != 0)] = 1
    sub = image[box].reshape(-1)
    # Paracardial fat does not displace the descending aorta and its fat collar.
    descending = np.hypot(
        points[:, 0] - _DESCENDING_AORTA_MM[0], points[:, 1] - _DESCENDING_AORTA_MM[1]
    )
    inside = (region > 0) & ~((region == 4) & (descending <= _AORTA_RADIUS_MM + 4.0))
    sub[inside] = values[inside]
    if liver is not None:  # the dome lies on the pericardium: no paracardial fat under the heart
        sub[(region == 4) & liver[box].reshape(-1)] = HU["liver"]
    image[box] = sub.reshape(box_shape)
    # The ascending aorta above the heart box, with a fat collar.
    _paint_ascending_aorta(image, z, y, x, root, aorta_axis, box)

    # Coronary arteries in the fat layer.
    lines = coronary_centrelines(heart, rng)
    fat_idx = np.flatnonzero(region == 2)
    vessel = np.zeros(region.shape, dtype=bool)
    for artery, line in lines.items():
        distance, _ = cKDTree(line).query(points[fat_idx], distance_upper_bound=3.0)
        vessel[fat_idx[distance <= _VESSEL_RADIUS_MM[artery]]] = True
    sub = image[box].reshape(-1)
    sub[vessel] = HU["blood"]
    image[box] = sub.reshape(box_shape)
    eat_local = (region == 2) & ~vessel
    sac_local = (region >= 1) & (region <= 2)
    eat_mask = np.zeros(matrix, dtype=bool)
    sac_mask = np.zeros(matrix, dtype=bool)
    eat_mask[box] = eat_local.reshape(box_shape)
    sac_mask[box] = sac_local.reshape(box_shape)

    geometry = {
        "origin_mm": origin,
        "pixel_mm": pixel_mm,
        "slice_increment_mm": increment,
        "slice_thickness_mm": slice_thickness_mm,
    }
    lesion_labels, placed = _add_lesions(image, specs, lines, rng, kvp, geometry)
    distractor_labels, distractor_info = (
        _add_distractors(
            image, heart, root, aorta_axis, z, rng, kvp, geometry, occupied=lesion_labels > 0
        )
        if distractors
        else (np.zeros(matrix, dtype=np.int32), [])
    )
    metal_labels, metal_info = _add_metal(
        image, metal, lines, heart, z, y, x, slice_thickness_mm, rng
    )
    clean = np.round(
        ndi.gaussian_filter(image, (0, _PSF_SIGMA_MM / pixel_mm, _PSF_SIGMA_MM / pixel_mm))
    ).astype(np.float32)
    noisy = clean
    if noise_hu > 0:
        noise = rng.standard_normal(matrix, dtype=np.float32)
        if noise_correlation_mm > 0:
            sigma = noise_correlation_mm / pixel_mm
            noise = ndi.gaussian_filter(noise, (0, sigma, sigma))
            # exact standard deviation of filtered unit white noise: the kernel's L2 norm
            impulse = np.zeros((1, 31, 31), dtype=np.float32)
            impulse[0, 15, 15] = 1.0
            kernel = ndi.gaussian_filter(impulse, (0, sigma, sigma))
            noise *= np.float32(1.0 / np.sqrt(np.sum(kernel**2)))
        noisy = np.round(clean + np.float32(noise_hu) * noise).astype(np.float32)
    if fov_diameter_mm is not None:
        inside = apply_field_of_view([clean, noisy], y, x, fov_diameter_mm, padding_hu)
        if np.any((lesion_labels > 0) & ~inside[None]):
            raise ParameterError(
                f"a lesion falls outside the {fov_diameter_mm:g} mm field of view; centre it"
            )
    metadata = {"units": "HU", "kvp": float(kvp), "slice_thickness_mm": float(slice_thickness_mm)}
    volume = Volume(
        noisy,
        spacing_mm=(increment, pixel_mm, pixel_mm),
        origin_mm=tuple(origin),
        modality="CT",
        metadata=metadata,
    )
    clean_volume = volume.with_array(clean)
    truth = _ground_truth(
        clean_volume,
        lesion_labels,
        placed,
        distractor_info,
        eat_mask,
        heart,
        kvp=kvp,
        eat_target_ml=eat_ml,
        settings={
            "seed": seed,
            "noise_hu": noise_hu,
            "dose_fraction": dose_fraction,
            "noise_correlation_mm": noise_correlation_mm,
            "pixel_mm": pixel_mm,
            "slice_thickness_mm": slice_thickness_mm,
            "slice_increment_mm": increment,
            "kvp": kvp,
            "matrix": list(matrix),
            "field_centre_mm": list(field_centre_mm),
            "fov_diameter_mm": fov_diameter_mm,
            "padding_hu": padding_hu if fov_diameter_mm is not None else None,
            "habitus": dataclasses.asdict(habitus),
            "metal": list(metal),
            "liver_dome": liver_dome,
        },
        metal_info=metal_info,
    )
    return CTPhantom(
        volume,
        clean_volume,
        lesion_labels,
        distractor_labels,
        eat_mask,
        sac_mask,
        truth,
        metal_labels,
    )


def _liver_dome(z: np.ndarray, y: np.ndarray, x: np.ndarray, heart: HeartGeometry) -> np.ndarray:
    """The liver's dome ``(z, y, x)``: an ellipsoid (semi-axes 100 x 80 x 90 mm, x y z)
    under the right hemidiaphragm, centred 45 mm to the patient's right of the heart and
    reaching 25 mm above the heart's lowest point, so that it meets the inferior wall
    over a broad contact, as on many patients' calcium scans."""
    lowest = heart.centre_mm[2] - float(np.sqrt(np.sum((heart.axes_mm * heart.frame[:, 2]) ** 2)))
    centre = np.array([heart.centre_mm[0] - 45.0, heart.centre_mm[1] + 15.0, lowest + 25.0 - 90.0])
    zz, yy, xx = np.meshgrid(
        z - centre[2], y - centre[1], x - centre[0], indexing="ij", sparse=True
    )
    return (xx / 100.0) ** 2 + (yy / 80.0) ** 2 + (zz / 90.0) ** 2 <= 1.0


def _paint_ascending_aorta(image, z, y, x, root, axis, heart_box) -> None:
    above = np.flatnonzero(
        z >= (z[heart_box[0].stop - 1] if heart_box[0].stop < z.size else z[-1] + 1)
    )
    yy, xx = np.meshgrid(y, x, indexing="ij")
    for k in above:
        t = (z[k] - root[2]) / axis[2]
        centre = root + t * axis
        radial = np.hypot(xx - centre[0], yy - centre[1])
        image[k][radial <= _AORTA_RADIUS_MM + 4.0] = HU["fat"]
        image[k][radial <= _AORTA_RADIUS_MM] = HU["blood"]


def _place(
    image,
    ellipsoid: Ellipsoid,
    density: float,
    kvp: float,
    geometry: dict,
    labels: np.ndarray,
    label: int,
) -> bool:
    rendered = render_fraction(
        image.shape,
        origin_mm=geometry["origin_mm"],
        pixel_mm=geometry["pixel_mm"],
        slice_increment_mm=geometry["slice_increment_mm"],
        slice_thickness_mm=geometry["slice_thickness_mm"],
        ellipsoid=ellipsoid,
    )
    if rendered is None or not rendered[1].any():
        return False
    box, fraction = rendered
    hu_ca = np.float32(ha_density_to_hu(density, kvp))
    image[box] = (1.0 - fraction) * image[box] + fraction * hu_ca
    # The lesion's signal: its partial-volume extent grown by the scanner blur's reach
    # (3 PSF sigma, at least 2 pixels), on a box padded so that the growth is not clipped.
    reach = max(2, int(np.ceil(_SUPPORT_SIGMAS * _PSF_SIGMA_MM / geometry["pixel_mm"])))
    padded = tuple(
        slice(max(b.start - r, 0), min(b.stop + r, n))
        for b, r, n in zip(box, (0, reach, reach), image.shape, strict=True)
    )
    extent = np.zeros(tuple(p.stop - p.start for p in padded), dtype=bool)
    extent[
        tuple(slice(b.start - p.start, b.stop - p.start) for b, p in zip(box, padded, strict=True))
    ] = fraction > 0
    support = ndi.binary_dilation(
        extent, structure=np.ones((1, 2 * reach + 1, 2 * reach + 1), bool)
    )
    region = labels[padded]
    region[support & (region == 0)] = label
    return True


def _add_lesions(image, specs, lines, rng, kvp, geometry):
    labels = np.zeros(image.shape, dtype=np.int32)
    placed: list[dict[str, Any]] = []
    centres: list[tuple[np.ndarray, float]] = []
    for spec in specs:
        line = lines[spec.artery]
        for _attempt in range(50):
            position = (
                spec.position
                if spec.position is not None
                else rng.uniform(0.3 if spec.artery == "LM" else 0.05, 0.9)
            )
            i = int(round(position * (len(line) - 1)))
            tangent = line[min(i + 2, len(line) - 1)] - line[max(i - 2, 0)]
            tangent /= np.linalg.norm(tangent)
            side = np.cross(tangent, rng.normal(size=3))
            side /= np.linalg.norm(side)
            ellipsoid = Ellipsoid.elongated(
                line[i] + 0.5 * _VESSEL_RADIUS_MM[spec.artery] * side, spec.volume_mm3, tangent
            )
            reach = ellipsoid.semi_axes_mm[0]
            if spec.position is not None or all(
                np.linalg.norm(c - ellipsoid.centre_mm) > reach + rc + _LESION_SPACING_MM
                for c, rc in centres
            ):
                break
        else:  # no free place on this artery: lesions must not touch (each has its own truth)
            logger.info("no room for another %s lesion; left out", spec.artery)
            continue
        label = len(placed) + 1
        if not _place(image, ellipsoid, spec.density_mg_cm3, kvp, geometry, labels, label):
            raise ParameterError(
                f"lesion on {spec.artery} at position {position:.2f} falls outside the field of view"
            )
        centres.append((ellipsoid.centre_mm, reach))
        placed.append(
            {
                "id": label,
                "artery": spec.artery,
                "position": float(position),
                "density_mg_cm3": spec.density_mg_cm3,
                "volume_mm3_true": ellipsoid.volume_mm3,
                "mass_mg_true": spec.mass_mg,
                "centre_mm": ellipsoid.centre_mm.tolist(),
            }
        )
    return labels, placed


def _add_distractors(
    image, heart: HeartGeometry, root, aorta_axis, z, rng, kvp, geometry, occupied
):
    """Aortic wall (descending and ascending), aortic valve and mitral annulus calcification."""
    labels = np.zeros(image.shape, dtype=np.int32)
    info: list[dict[str, Any]] = []
    items: list[tuple[str, Ellipsoid, float]] = []
    ax, ay = _DESCENDING_AORTA_MM
    for _ in range(int(rng.integers(1, 4))):
        theta = rng.uniform(0, 2 * np.pi)
        zc = rng.uniform(z[0] + 10, z[-1] - 10)
        centre = np.array(
            [
                ax + (_AORTA_RADIUS_MM - 0.5) * np.cos(theta),
                ay + (_AORTA_RADIUS_MM - 0.5) * np.sin(theta),
                zc,
            ]
        )
        items.append(
            (
                "aortic_wall",
                Ellipsoid.elongated(centre, rng.uniform(15, 100), np.array([0.0, 0.0, 1.0])),
                rng.uniform(300, 800),
            )
        )
    sac_top = (
        heart.centre_mm[2]
        + np.linalg.norm(heart.axes_mm * np.abs(heart.frame[:, 2]))
        + heart.eat_base_mm
        + 10.0
    )
    if z[-1] - 8.0 > sac_top:
        zc = rng.uniform(sac_top, z[-1] - 8.0)
        t = (zc - root[2]) / aorta_axis[2]
        theta = rng.uniform(0, 2 * np.pi)
        centre = (
            root
            + t * aorta_axis
            + (_AORTA_RADIUS_MM - 0.5) * np.array([np.cos(theta), np.sin(theta), 0.0])
        )
        items.append(
            (
                "aortic_wall",
                Ellipsoid.elongated(centre, rng.uniform(15, 80), np.array([0.0, 0.0, 1.0])),
                rng.uniform(300, 800),
            )
        )
    for _ in range(int(rng.integers(1, 3))):
        direction = np.cross(aorta_axis, rng.normal(size=3))
        direction /= np.linalg.norm(direction)
        items.append(
            (
                "aortic_valve",
                Ellipsoid.elongated(
                    root + 7.0 * direction, rng.uniform(10, 80), np.cross(aorta_axis, direction)
                ),
                rng.uniform(400, 900),
            )
        )
    mitral = (
        heart.centre_mm
        + heart.frame[0] * (-0.5 * heart.axes_mm[0])
        - heart.frame[2] * 0.3 * heart.axes_mm[2]
    )
    for phi in rng.uniform(150, 330, int(rng.integers(1, 3))):
        radial = np.cos(np.deg2rad(phi)) * heart.frame[1] + np.sin(np.deg2rad(phi)) * heart.frame[2]
        tangent = np.cross(heart.frame[0], radial)
        items.append(
            (
                "mitral_annulus",
                Ellipsoid.elongated(
                    mitral + 13.0 * radial, rng.uniform(20, 120), tangent, aspect=3.0
                ),
                rng.uniform(300, 800),
            )
        )
    for kind, ellipsoid, density in items:
        label = len(info) + 1
        if _place(image, ellipsoid, density, kvp, geometry, labels, label):
            info.append(
                {
                    "id": label,
                    "kind": kind,
                    "centre_mm": ellipsoid.centre_mm.tolist(),
                    "volume_mm3_true": ellipsoid.volume_mm3,
                }
            )
    labels[occupied] = 0
    return labels, info


def _add_metal(image, metal, lines, heart, z, y, x, thickness, rng):
    """Paint the devices of ``metal`` (:mod:`cardiolens.phantom.ct_scanner`); their truth."""
    labels = np.zeros(image.shape, dtype=np.int32)
    info: list[dict[str, Any]] = []
    sternum = (0.0, 19.0 - _BODY_SEMI_AXES_MM[1])  # the sternum's centre (see _torso_2d)
    for item in metal:
        kind, _, artery = item.partition(":")
        parts = metal_parts(
            kind,
            artery_line=lines.get(artery) if artery else None,
            heart_centre_mm=heart.centre_mm,
            heart_frame=heart.frame,
            heart_axes_mm=heart.axes_mm,
            sternum_mm=sternum,
            z_range_mm=(float(z[0]), float(z[-1])),
            rng=rng,
        )
        if paint_metal(image, z, y, x, parts, thickness, labels, len(info) + 1):
            info.append({"id": len(info) + 1, "kind": kind, "artery": artery or None})
    return labels, info


def _ground_truth(
    clean: Volume,
    lesion_labels,
    placed,
    distractor_info,
    eat_mask,
    heart,
    *,
    kvp,
    eat_target_ml,
    settings,
    metal_info,
) -> dict[str, Any]:
    calibration = default_mass_calibration(kvp)
    measured = {
        m.lesion_id: m for m in measure_lesions(clean, lesion_labels, calibration=calibration)
    }
    lesions = []
    per_artery = {a.value: {"agatston": 0.0, "volume_mm3": 0.0, "mass_mg": 0.0} for a in Artery}
    for item in placed:
        m = measured.get(item["id"])
        scores = {
            "agatston": 0.0,
            "volume_mm3": 0.0,
            "mass_mg": 0.0,
            "peak_hu": float(clean.array[lesion_labels == item["id"]].max()),
            "n_voxels": 0,
        }
        if m is not None:
            scores = {
                "agatston": m.agatston,
                "volume_mm3": m.volume_mm3,
                "mass_mg": m.mass_mg,
                "peak_hu": m.peak_hu,
                "n_voxels": m.n_voxels,
            }
        for key in ("agatston", "volume_mm3", "mass_mg"):
            per_artery[item["artery"]][key] += scores[key]
        lesions.append({**item, **scores})
    voxel_ml = clean.voxel_volume_mm3 / 1000.0
    return {
        "settings": settings,
        "conventions": {
            "threshold_hu": 130.0,
            "min_area_mm2": 1.0,
            "connectivity": "8 in-plane",
            "normalisation": "slice_increment/3mm",
        },
        "mass_calibration": calibration.to_json(),
        "lesions": lesions,
        "totals": {
            key: float(sum(les[key] for les in lesions))
            for key in ("agatston", "volume_mm3", "mass_mg")
        },
        "per_artery": per_artery,
        "label_artery_code": {str(k): v.value for k, v in LABEL_ARTERY.items()},
        "distractors": distractor_info,
        "metal": metal_info,
        "eat": {
            "volume_ml": float(eat_mask.sum() * voxel_ml),
            "mean_hu": float(clean.array[eat_mask].mean()),
            "target_ml": eat_target_ml,
        },
        "heart": {
            "centre_mm": heart.centre_mm.tolist(),
            "axes_mm": heart.axes_mm.tolist(),
            "frame": heart.frame.tolist(),
            "eat_base_mm": heart.eat_base_mm,
        },
    }


def simulate_ct_study(out_dir: str | Path, **options: Any) -> Path:
    """Simulate a CT (see :func:`simulate_ct`) and write it as a study folder.

    Writes ``dicom/`` (CT Image Storage series; with ``vendor=`` one of
    :data:`cardiolens.phantom.ct_vendor.VENDOR_PROFILES`, that vendor-like header and pixel
    storage, whose padding value is used outside a reconstruction circle), ``ground_truth.json``,
    ``lesion_labels.nii.gz`` (value = lesion id), ``artery_labels.nii.gz`` (1 LM, 2 LAD,
    3 LCx, 4 RCA: the ``cardiolens calcium --labels`` code) and ``pericardium_eat.nii.gz``
    (1 inside the pericardium, 2 epicardial fat). Returns ``out_dir``.
    """
    from cardiolens.io import write_ct_series, write_nifti
    from cardiolens.phantom.ct_vendor import VENDOR_PROFILES, write_vendor_ct

    vendor = options.pop("vendor", None)
    if vendor in VENDOR_PROFILES and "fov_diameter_mm" in options:
        options.setdefault("padding_hu", VENDOR_PROFILES[vendor].padding_hu)
    phantom = simulate_ct(**options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed = int(options["seed"])
    header = {
        "patient_id": f"PHANTOM-CT-{seed}",
        "study_uid": f"2.25.{10**12 + seed}",
        "kvp": float(options.get("kvp", 120.0)),
        "slice_thickness_mm": float(options.get("slice_thickness_mm", 3.0)),
    }
    if vendor is None:
        write_ct_series(out / "dicom", phantom.volume, **header)
    else:
        write_vendor_ct(
            out / "dicom",
            phantom.volume,
            vendor,
            reconstruction_diameter_mm=options.get("fov_diameter_mm"),
            **header,
        )
    code = {a.value: k for k, a in LABEL_ARTERY.items()}
    arteries = np.zeros(phantom.lesion_labels.shape, dtype=np.uint8)
    for lesion in phantom.truth["lesions"]:
        arteries[phantom.lesion_labels == lesion["id"]] = code[lesion["artery"]]
    sac = phantom.sac_mask.astype(np.uint8) + phantom.eat_mask.astype(np.uint8)
    write_nifti(
        phantom.volume.with_array(phantom.lesion_labels.astype(np.int16)),
        out / "lesion_labels.nii.gz",
    )
    write_nifti(phantom.volume.with_array(arteries), out / "artery_labels.nii.gz")
    write_nifti(phantom.volume.with_array(sac), out / "pericardium_eat.nii.gz")
    (out / "ground_truth.json").write_text(json.dumps(phantom.truth, indent=2))
    logger.info("CT phantom written to %s", out)
    return out
