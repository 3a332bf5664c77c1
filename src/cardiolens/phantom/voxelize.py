"""Sampling analytic phantoms on voxel grids with sub-voxel supersampling (partial volume)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cardiolens.phantom.torso import MU_140KEV_PER_CM, TorsoLayout

__all__ = ["VoxelGrid", "TorsoMaps", "rasterise_torso"]


@dataclass(frozen=True)
class VoxelGrid:
    """An axis-aligned LPS grid (identity direction): array ``[z, y, x]``.

    ``origin_mm`` is the LPS (x, y, z) centre of voxel ``[0, 0, 0]``; voxels are cubes of ``voxel_mm``.
    """

    shape: tuple[int, int, int]
    voxel_mm: float
    origin_mm: tuple[float, float, float]

    def subpoints(self, box: tuple[slice, slice, slice], supersample: int) -> np.ndarray:
        """LPS points ``(nz, ny, nx, s^3, 3)`` of ``s x s x s`` sub-voxel centres in ``box``."""
        offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
        oz, oy, ox = np.meshgrid(offsets, offsets, offsets, indexing="ij")
        sub = np.stack([ox.ravel(), oy.ravel(), oz.ravel()], axis=-1)  # (s^3, 3) as x, y, z
        iz, iy, ix = (np.arange(s.start, s.stop) for s in box)
        zz, yy, xx = np.meshgrid(iz, iy, ix, indexing="ij")
        centres = np.stack([xx, yy, zz], axis=-1).astype(float)  # (nz, ny, nx, 3)
        index = centres[..., None, :] + sub  # (nz, ny, nx, s^3, 3)
        return np.asarray(self.origin_mm) + self.voxel_mm * index

    def box_around(
        self, points_lps_mm: np.ndarray, margin_voxels: int = 2
    ) -> tuple[slice, slice, slice]:
        """Index box ``(z, y, x)`` slices holding ``points`` with a margin, clipped to the grid."""
        index_xyz = (np.asarray(points_lps_mm) - np.asarray(self.origin_mm)) / self.voxel_mm
        lo = np.floor(index_xyz.min(axis=0)).astype(int) - margin_voxels
        hi = np.ceil(index_xyz.max(axis=0)).astype(int) + margin_voxels + 1
        size_xyz = self.shape[::-1]
        return tuple(slice(max(0, int(lo[k])), min(size_xyz[k], int(hi[k]))) for k in (2, 1, 0))  # type: ignore[return-value]


@dataclass(frozen=True)
class TorsoMaps:
    """Partial-volume maps of the torso on a grid, arrays ``[z, y, x]``.

    ``cardiac_uptake``: relative uptake of organs not scaled as extracardiac;
    ``extracardiac_uptake``: liver, stomach wall and bowel (scaled per study);
    ``mu_per_cm``: linear attenuation at 140 keV; ``labels``: name -> volume fraction.
    """

    cardiac_uptake: np.ndarray
    extracardiac_uptake: np.ndarray
    mu_per_cm: np.ndarray
    labels: dict[str, np.ndarray]


def rasterise_torso(layout: TorsoLayout, grid: VoxelGrid, supersample: int = 2) -> TorsoMaps:
    """Average each organ's uptake, attenuation and occupancy over ``supersample^3`` sub-voxels."""
    nz = grid.shape[0]
    cardiac = np.zeros(grid.shape)
    extra = np.zeros(grid.shape)
    mu = np.zeros(grid.shape)
    labels = {o.name: np.zeros(grid.shape) for o in layout.organs}
    full_y, full_x = slice(0, grid.shape[1]), slice(0, grid.shape[2])
    for z in range(nz):  # slice by slice keeps memory small
        points = grid.subpoints((slice(z, z + 1), full_y, full_x), supersample)
        owner = np.full(points.shape[:-1], -1)
        for k, organ in enumerate(layout.organs):
            owner = np.where(organ.contains(points), k, owner)
        for k, organ in enumerate(layout.organs):
            fraction = np.mean(owner == k, axis=-1)[0]
            labels[organ.name][z] = fraction
            target = extra if organ.extracardiac else cardiac
            target[z] += fraction * organ.uptake
            mu[z] += fraction * MU_140KEV_PER_CM[organ.material]
    return TorsoMaps(cardiac, extra, mu, labels)
