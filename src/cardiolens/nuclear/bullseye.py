"""Bull's-eye (polar map) figures with the AHA 17-segment overlay.

Layout of Cerqueira MD et al. (Circulation 2002;105:539-542): apex in the
centre, base at the rim, anterior at the top, septum on the left, inferior at
the bottom, lateral on the right. Rendered with matplotlib's Agg backend to
PNG or SVG.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from cardiolens.core.errors import ParameterError
from cardiolens.nuclear.polar import PolarMap

__all__ = ["display_angle", "display_radius", "plot_bullseye"]

logger = logging.getLogger(__name__)

# display radius of the ring boundaries of the 17-segment overlay: apex cap, apical, mid, basal
_RING_EDGES = (0.0, 0.25, 0.5, 0.75, 1.0)


def display_angle(angle_deg: np.ndarray) -> np.ndarray:
    """Matplotlib polar angle (rad) of a cardiac angle: anterior up, septum left."""
    return np.deg2rad(90.0 + np.asarray(angle_deg, dtype=float))


def display_radius(fraction: np.ndarray) -> np.ndarray:
    """Display radius of AHA long-axis fractions: apex cap inside 0.25, then thirds to the rim."""
    f = np.asarray(fraction, dtype=float)
    cap = min(float(f.min()), -1e-6)
    return np.where(f >= 0, 0.25 + 0.75 * np.clip(f, 0, 1), 0.25 * (1.0 - f / cap))


def _segment_patches(ax, values: np.ndarray, cmap, norm) -> None:
    """Draw the 17 segments filled with ``values`` (17,)."""
    rings = [
        (range(1, 7), 6, _RING_EDGES[3], _RING_EDGES[4]),
        (range(7, 13), 6, _RING_EDGES[2], _RING_EDGES[3]),
        (range(13, 17), 4, _RING_EDGES[1], _RING_EDGES[2]),
    ]
    for segments, n, r0, r1 in rings:
        width = 360.0 / n
        for i, seg in enumerate(segments):
            centre = i * width
            theta = display_angle(np.linspace(centre - width / 2, centre + width / 2, 30))
            ax.fill_between(theta, r0, r1, color=cmap(norm(values[seg - 1])), linewidth=0)
    theta = np.linspace(0, 2 * np.pi, 100)
    ax.fill_between(theta, 0, _RING_EDGES[1], color=cmap(norm(values[16])), linewidth=0)


def _overlay(ax, values: np.ndarray | None, fmt: str) -> None:
    """17-segment boundaries and, when given, the segment values as text."""
    theta = np.linspace(0, 2 * np.pi, 200)
    for r in _RING_EDGES[1:]:
        ax.plot(theta, np.full_like(theta, r), color="k", linewidth=0.8)
    for n, r0, r1 in ((6, _RING_EDGES[2], 1.0), (4, _RING_EDGES[1], _RING_EDGES[2])):
        width = 360.0 / n
        for i in range(n):
            edge = display_angle(i * width + width / 2)
            ax.plot([edge, edge], [r0, r1], color="k", linewidth=0.8)
    if values is None:
        return
    positions = {17: (0.0, 0.0)}
    for segments, n, r in (
        (range(1, 7), 6, 0.875),
        (range(7, 13), 6, 0.625),
        (range(13, 17), 4, 0.375),
    ):
        for i, seg in enumerate(segments):
            positions[seg] = (float(display_angle(i * 360.0 / n)), r)
    for seg, (angle, radius) in positions.items():
        ax.text(angle, radius, format(values[seg - 1], fmt), ha="center", va="center", fontsize=8)


def plot_bullseye(
    polar_map_or_values: PolarMap | np.ndarray,
    path: str | Path,
    *,
    title: str = "",
    vmin: float = 0.0,
    vmax: float = 100.0,
    cmap: str = "jet",
    label: str = "% of maximum",
    segment_values: np.ndarray | None = None,
    value_format: str = ".0f",
) -> Path:
    """Write a bull's-eye figure (PNG or SVG, from the file name) and return its path.

    Parameters
    ----------
    polar_map_or_values
        A :class:`~cardiolens.nuclear.polar.PolarMap` (drawn sample by sample) or
        17 segment values (segment ``s`` at index ``s - 1``, drawn per segment).
    path
        Output ``.png`` or ``.svg``.
    title, label
        Figure title and colour-bar label.
    vmin, vmax, cmap
        Colour scale (use a diverging map, e.g. ``vmin=-30, vmax=30, cmap="RdBu_r"``,
        for reversibility).
    segment_values
        Values printed in the segments (default: the 17 values when given).
    value_format
        Format of the printed values.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise ParameterError(f"a bull's-eye is written as .png or .svg; got {path.name}")
    colormap = plt.get_cmap(cmap)
    norm = Normalize(vmin=vmin, vmax=vmax)
    fig = plt.figure(figsize=(4.2, 4.6))
    ax = fig.add_subplot(projection="polar")
    if isinstance(polar_map_or_values, PolarMap):
        pm = polar_map_or_values
        radius = display_radius(pm.long_axis_fraction)
        angle = np.broadcast_to(pm.angle_deg[None, :], radius.shape)
        values = pm.values_pct
        # fill the centre (the apex point) with the innermost ring's mean
        radius = np.vstack([np.zeros((1, radius.shape[1])), radius])
        angle = np.vstack([angle[:1], angle])
        values = np.vstack([np.full((1, values.shape[1]), values[0].mean()), values])
        # close the circle: repeat the first column at +360 deg
        radius = np.hstack([radius, radius[:, :1]])
        angle = np.hstack([angle, angle[:, :1] + 360.0])
        values = np.hstack([values, values[:, :1]])
        ax.pcolormesh(
            display_angle(angle), radius, values, cmap=colormap, norm=norm, shading="gouraud"
        )
    else:
        values = np.asarray(polar_map_or_values, dtype=float)
        if values.shape != (17,):
            raise ParameterError(
                f"expected a PolarMap or 17 segment values; got shape {values.shape}"
            )
        _segment_patches(ax, values, colormap, norm)
        if segment_values is None:
            segment_values = values
    _overlay(ax, None if segment_values is None else np.asarray(segment_values), value_format)
    ax.set_ylim(0, 1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.spines["polar"].set_visible(False)
    for text, angle in (("ANT", 90.0), ("SEPT", 180.0), ("INF", 270.0), ("LAT", 0.0)):
        ax.text(np.deg2rad(angle), 1.12, text, ha="center", va="center", fontsize=8)
    fig.colorbar(
        plt.cm.ScalarMappable(norm=norm, cmap=colormap),
        ax=ax,
        orientation="horizontal",
        fraction=0.05,
        pad=0.08,
        label=label,
    )
    if title:
        ax.set_title(title, pad=18)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    logger.info("bull's-eye written to %s", path)
    return path
