"""The beating LV on a voxel grid: cavity, myocardium and tracer uptake per gate.

Each voxel near the LV is supersampled (default 3 x 3 x 3 sub-voxels, 1.3 mm at
4 mm voxels); a sub-voxel belongs to the cavity or the myocardium of a gate by
:func:`cardiolens.phantom.motion.lv_tissue_at_gate`, and carries the uptake of its
material point (1 = normal, ``1 - severity / 100`` in a defect).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cardiolens.core.aha import aha_segment
from cardiolens.phantom.lv_geometry import LVCoordinates, LVGeometry, lv_coordinates
from cardiolens.phantom.motion import GateShape, lv_tissue_at_gate
from cardiolens.phantom.perfusion import DefectRegion
from cardiolens.phantom.voxelize import VoxelGrid

__all__ = [
    "HeartGate",
    "box_coordinates",
    "MyocardiumSamples",
    "heart_box",
    "myocardium_samples",
    "sample_gate",
    "segment_uptake",
    "uptake",
]

STATES = ("stress", "rest")


@dataclass(frozen=True)
class MyocardiumSamples:
    """ED myocardial sub-voxel samples in material coordinates (1-D arrays) and their volume (mm^3)."""

    h0_mm: np.ndarray
    angle_deg: np.ndarray
    depth: np.ndarray
    volume_mm3: np.ndarray


@dataclass(frozen=True)
class HeartGate:
    """Voxel fractions in the heart box at one gate, arrays ``[z, y, x]`` of the box.

    ``uptake`` maps ``"stress"``/``"rest"`` to the mean over sub-voxels of
    myocardium membership times uptake; ``defect_fraction`` to the fraction of
    the voxel that is defective myocardium.
    """

    cavity_fraction: np.ndarray
    myocardium_fraction: np.ndarray
    uptake: dict[str, np.ndarray]
    defect_fraction: dict[str, np.ndarray]


def heart_box(geometry: LVGeometry, grid: VoxelGrid) -> tuple[slice, slice, slice]:
    """Index box of the grid holding the ED epicardium (the LV never grows beyond it)."""
    radius = geometry.endo_radius_mm + geometry.wall_thickness_mm
    centre = geometry.centre_lps_mm
    half_length = 0.5 * geometry.cavity_length_mm + geometry.wall_thickness_mm
    corners = [
        centre
        + sa * half_length * np.asarray(geometry.long_axis)
        + sb * radius * np.asarray(geometry.anterior_axis)
        + sc * radius * np.asarray(geometry.septal_axis)
        for sa in (-1, 1)
        for sb in (-1, 1)
        for sc in (-1, 1)
    ]
    return grid.box_around(np.asarray(corners), margin_voxels=2)


def uptake(
    regions: Sequence[DefectRegion],
    state: str,
    h0_mm: np.ndarray,
    angle_deg: np.ndarray,
    depth: np.ndarray,
) -> np.ndarray:
    """Relative uptake (normal 1) of myocardial points at ``state``; overlapping defects take the lowest."""
    value = np.ones(np.shape(h0_mm))
    for region in regions:
        severity = region.spec.severity_at(state)
        if severity > 0:
            value = np.where(
                region.contains(h0_mm, angle_deg, depth),
                np.minimum(value, 1 - severity / 100),
                value,
            )
    return value


def box_coordinates(geometry: LVGeometry, grid: VoxelGrid, box, supersample: int) -> LVCoordinates:
    """LV-frame coordinates of the sub-voxels of ``box``, shape ``(nz, ny, nx, s^3)`` (computed once per study)."""
    return lv_coordinates(grid.subpoints(box, supersample), geometry)


def myocardium_samples(
    geometry: LVGeometry, ed_shape: GateShape, coords: LVCoordinates, voxel_mm: float
) -> MyocardiumSamples:
    """ED myocardial sub-voxel samples (for defect placement and segment truth)."""
    _, myocardium, h0, depth = lv_tissue_at_gate(coords, geometry, ed_shape)
    weight = voxel_mm**3 / coords.h_mm.shape[-1]
    return MyocardiumSamples(
        h0[myocardium],
        coords.angle_deg[myocardium],
        depth[myocardium],
        np.full(int(myocardium.sum()), weight),
    )


def sample_gate(
    geometry: LVGeometry,
    shape: GateShape,
    coords: LVCoordinates,
    regions: dict[str, Sequence[DefectRegion]],
) -> HeartGate:
    """Voxel fractions and uptake of the LV at one gate (``coords`` from :func:`box_coordinates`)."""
    cavity, myocardium, h0, depth = lv_tissue_at_gate(coords, geometry, shape)
    uptakes, defects = {}, {}
    for state in STATES:
        u = uptake(regions[state], state, h0, coords.angle_deg, depth)
        uptakes[state] = np.mean(myocardium * u, axis=-1)
        defects[state] = np.mean(myocardium & (u < 1), axis=-1)
    return HeartGate(np.mean(cavity, axis=-1), np.mean(myocardium, axis=-1), uptakes, defects)


def segment_uptake(
    samples: MyocardiumSamples, regions: Sequence[DefectRegion], state: str, cavity_length_mm: float
) -> dict[int, float]:
    """Volume-weighted mean relative uptake of each AHA segment (1 = normal) at ``state``."""
    u = uptake(regions, state, samples.h0_mm, samples.angle_deg, samples.depth)
    segment = aha_segment(samples.h0_mm / cavity_length_mm, samples.angle_deg)
    return {
        s: float(np.average(u[segment == s], weights=samples.volume_mm3[segment == s]))
        for s in range(1, 18)
        if np.any(segment == s)
    }
