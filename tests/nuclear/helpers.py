"""Analytic test objects for the nuclear tests: polar maps and an ellipsoidal LV shell."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from cardiolens.core.aha import aha_segment
from cardiolens.core.volume import Volume
from cardiolens.nuclear.normals import NormalDatabase
from cardiolens.nuclear.polar import PolarMap
from cardiolens.nuclear.segment import RayGrid


def uniform_polar_map(values: np.ndarray, fraction: np.ndarray | None = None) -> PolarMap:
    """A polar map on the default grid with equal sample areas."""
    grid = RayGrid()
    values = np.asarray(values, dtype=float)
    if fraction is None:
        # apical rings: cap (< 0) then apical; cylindrical: 0..1
        fraction = np.repeat(
            np.concatenate(
                [np.linspace(-0.3, -0.05, 3), np.linspace(0.02, 0.3, 3), grid.cylinder_fraction]
            )[:, None],
            grid.n_angles,
            axis=1,
        )
    segment = aha_segment(fraction, grid.angle_deg[None, :])
    weight = np.full(values.shape, 1.0 / values.size)
    return PolarMap(values, fraction, segment, weight, grid, max_counts=1.0)


def flat_normals(mean_pct: float = 80.0, sd_pct: float = 5.0) -> NormalDatabase:
    """A normal database with the same mean and SD everywhere."""
    grid = RayGrid()
    shape = (grid.n_rings, grid.n_angles)
    return NormalDatabase(
        mean_pct=np.full(shape, mean_pct),
        sd_pct=np.full(shape, sd_pct),
        segment_mean_pct=np.full(17, mean_pct),
        segment_sd_pct=np.full(17, sd_pct),
        n_studies=10,
        sex="any",
        camera="test",
        tracer="test",
        protocol="stress",
        grid=grid,
    )


def ellipsoid_lv(
    *,
    a_mm: float = 25.0,
    c_mm: float = 45.0,
    wall_mm: float = 10.0,
    long_axis: tuple[float, float, float] = (0.6, -0.55, -0.58),
    centre_lps: tuple[float, float, float] = (20.0, -10.0, 5.0),
    shape: tuple[int, int, int] = (50, 70, 70),
    voxel_mm: float = 4.0,
    blur_fwhm_mm: float = 12.0,
    liver: bool = True,
    noise_seed: int | None = 0,
) -> tuple[Volume, float, np.ndarray]:
    """A blurred half-ellipsoidal LV shell (base to apex along ``long_axis``) and a liver.

    The cavity is the half prolate ellipsoid ``(r/a)^2 + (t/c)^2 <= 1``, ``t >= 0``
    towards the apex, so its volume is ``2/3 pi a^2 c`` (mm^3). The myocardium
    is the ``wall_mm`` shell outside it. Returns (volume, cavity volume in mL,
    unit long axis from base to apex).
    """
    axis = np.asarray(long_axis, dtype=float)
    axis /= np.linalg.norm(axis)
    n = np.asarray(shape)
    origin = np.asarray(centre_lps) - voxel_mm * (n[::-1] - 1) / 2.0
    idx = np.indices(shape).reshape(3, -1).T
    points = idx[:, ::-1] * voxel_mm + origin
    rel = points - np.asarray(centre_lps)
    t = rel @ axis
    r = np.linalg.norm(rel - np.outer(t, axis), axis=1)
    inner = (r / a_mm) ** 2 + (t / c_mm) ** 2
    outer = (r / (a_mm + wall_mm)) ** 2 + (t / (c_mm + wall_mm)) ** 2
    myo = (outer <= 1.0) & (inner > 1.0) & (t >= 0)
    image = 100.0 * myo.reshape(shape).astype(float)
    if liver:
        liver_centre = np.asarray(centre_lps) + np.array([-60.0, 10.0, -70.0])
        image += 70.0 * (np.linalg.norm(points - liver_centre, axis=1) < 45.0).reshape(shape)
    image += 8.0  # soft-tissue background
    sigma = blur_fwhm_mm / 2.3548 / voxel_mm
    image = ndi.gaussian_filter(image, sigma)
    if noise_seed is not None:
        rng = np.random.default_rng(noise_seed)
        image = rng.poisson(image * 20.0) / 20.0
    volume = Volume(
        image.astype(np.float32),
        spacing_mm=(voxel_mm,) * 3,
        origin_mm=tuple(origin),
        modality="NM",
    )
    cavity_ml = 2.0 / 3.0 * np.pi * a_mm**2 * c_mm / 1000.0
    return volume, cavity_ml, axis
