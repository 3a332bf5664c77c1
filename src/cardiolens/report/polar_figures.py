"""Sample-by-sample polar maps (QPS/4DM style) as PNG bytes.

Display of Cerqueira MD et al. (Circulation 2002;105:539-542): apex in the centre,
base at the rim, anterior up, septum left, inferior down, lateral right. The
17-segment grid is drawn over every map (apex cap inside radius 1, apical ring
1-2, mid 2-3, basal 3-4), and the coronary territories (LAD, LCx, RCA, as
:data:`cardiolens.core.aha.SEGMENT_TERRITORY`) are outlined with thick lines.

* Defect extent ("blackout") map: samples below the normal limit (TPD severity
  > 0; Slomka PJ et al., J Nucl Cardiol 2005;12:66-77) drawn black.
* Reversibility extent map: samples abnormal at stress and normal at rest
  (reversible) drawn white, abnormal at both (fixed) black (QPS convention,
  Germano G et al., J Nucl Med 1995 / Slomka 2005); extents are area-weighted
  % of the LV (:func:`extent_pct`).
* Phase polar map and histogram: first-harmonic phase of each sample with the
  phase SD and the 95 % bandwidth (Chen J et al., J Nucl Cardiol 2005;12:687-695),
  as computed by :func:`cardiolens.nuclear.function.phase_analysis`.
"""

from __future__ import annotations

import matplotlib
import numpy as np

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from cardiolens.nuclear import bullseye  # noqa: E402
from cardiolens.report.figures import colour_bar, png_bytes  # noqa: E402

__all__ = ["display_radius", "extent_pct", "phase_png", "polar_map_png"]

# Territory boundaries (cardiolens angles: 0 anterior, 90 septal, 180 inferior, 270
# lateral) as polylines of (angle deg, radius): LAD/RCA, RCA/LCx, LCx/LAD, and the
# apex cap (LAD) against the RCA and LCx apical segments.
_TERRITORY_LINES: tuple[tuple[tuple[float, float], ...], ...] = (
    ((90.0, 4.0), (90.0, 2.0), (135.0, 2.0), (135.0, 1.0)),
    ((210.0, 4.0), (210.0, 2.0), (225.0, 2.0), (225.0, 1.0)),
    ((330.0, 4.0), (330.0, 2.0), (315.0, 2.0), (315.0, 1.0)),
    tuple((a, 1.0) for a in np.linspace(135.0, 315.0, 37)),
)


def display_radius(long_axis_fraction: np.ndarray) -> np.ndarray:
    """Display radius 0-4 of AHA long-axis fractions: apex cap (< 0) inside 1, rings to 4
    (the bull's-eye layout of :func:`cardiolens.nuclear.bullseye.display_radius`, x 4)."""
    return 4.0 * bullseye.display_radius(long_axis_fraction)


def _xy(angle_deg: np.ndarray, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    theta = bullseye.display_angle(angle_deg)
    return radius * np.cos(theta), radius * np.sin(theta)


def extent_pct(mask: np.ndarray, weight: np.ndarray) -> float:
    """Area-weighted extent of ``mask`` samples, % of the LV (``weight`` sums to 1)."""
    weight = np.asarray(weight, dtype=float)
    return float(100.0 * weight[np.asarray(mask, bool)].sum() / weight.sum())


def _grid(axes) -> None:
    """17-segment grid (thin) and territory outlines (thick)."""
    circle = np.linspace(0.0, 360.0, 181)
    for radius in (1.0, 2.0, 3.0, 4.0):
        axes.plot(*_xy(circle, np.full_like(circle, radius)), color="k", linewidth=0.5)
    for edge in 30.0 + 60.0 * np.arange(6):
        axes.plot(*_xy(np.array([edge, edge]), np.array([2.0, 4.0])), color="k", linewidth=0.5)
    for edge in 45.0 + 90.0 * np.arange(4):
        axes.plot(*_xy(np.array([edge, edge]), np.array([1.0, 2.0])), color="k", linewidth=0.5)
    for line in _TERRITORY_LINES:
        angle, radius = np.asarray(line).T
        axes.plot(*_xy(angle, radius), color="k", linewidth=2.0)
    for name, angle in (("LAD", 40.0), ("RCA", 150.0), ("LCx", 240.0)):
        axes.text(*_xy(angle, 4.35), name, ha="center", va="center", fontsize=6, weight="bold")
    for text, (x, y) in {
        "ANT": (0.0, 4.85),
        "SEPT": (-4.9, 0.0),
        "INF": (0.0, -4.85),
        "LAT": (4.9, 0.0),
    }.items():
        axes.text(x, y, text, ha="center", va="center", fontsize=6)
    axes.set_xlim(-5.4, 5.4)
    axes.set_ylim(-5.2, 5.2)
    axes.set_aspect("equal")
    axes.axis("off")


def _mesh(
    values: np.ndarray, long_axis_fraction: np.ndarray, angle_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cartesian mesh of the samples with a centre row and the first angle repeated."""
    radius = display_radius(long_axis_fraction)
    angle = np.broadcast_to(np.asarray(angle_deg, dtype=float)[None, :], radius.shape)
    values = np.asarray(values, dtype=float)
    radius = np.vstack([np.zeros((1, radius.shape[1])), radius])
    angle = np.vstack([angle[:1], angle])
    values = np.vstack([np.full((1, values.shape[1]), values[0].mean()), values])
    radius = np.hstack([radius, radius[:, :1]])
    angle = np.hstack([angle, angle[:, :1] + 360.0])
    values = np.hstack([values, values[:, :1]])
    x, y = _xy(angle, radius)
    return x, y, values


def polar_map_png(
    values: np.ndarray,
    long_axis_fraction: np.ndarray,
    angle_deg: np.ndarray,
    *,
    title: str,
    vmin: float = 0.0,
    vmax: float = 100.0,
    cmap: str = "jet",
    unit: str = "% of maximum",
    black: np.ndarray | None = None,
    white: np.ndarray | None = None,
    note: str = "",
) -> bytes:
    """A polar map drawn sample by sample, with the segment grid and territory outlines.

    Parameters
    ----------
    values
        ``(n_rings, n_angles)`` map, ring 0 at the apex.
    long_axis_fraction
        AHA long-axis fraction of each sample (< 0 in the apex cap), same shape.
    angle_deg
        Angle of each column (0 anterior, 90 septal, 180 inferior, 270 lateral).
    black, white
        Boolean masks of samples drawn black (defect) or white (reversible).
    note
        A line under the map (for example the extents).
    """
    x, y, shown = _mesh(values, long_axis_fraction, angle_deg)
    figure, axes = plt.subplots(figsize=(2.9, 3.2))
    colormap = plt.get_cmap(cmap)
    norm = matplotlib.colors.Normalize(vmin=vmin, vmax=vmax)
    axes.pcolormesh(x, y, shown, cmap=colormap, norm=norm, shading="gouraud")
    for mask, colour in ((black, "black"), (white, "white")):
        if mask is not None and np.any(mask):
            _, _, masked = _mesh(np.asarray(mask, float), long_axis_fraction, angle_deg)
            overlay = np.ma.masked_less(masked, 0.5)
            axes.pcolormesh(
                x, y, overlay, cmap=matplotlib.colors.ListedColormap([colour]), shading="gouraud"
            )
    _grid(axes)
    axes.set_title(title, fontsize=8)
    colour_bar(figure, axes, norm, colormap, unit)
    if note:
        figure.text(0.5, 0.0, note, ha="center", va="top", fontsize=6)
    return png_bytes(figure)


def phase_png(
    phase_deg: np.ndarray,
    weight: np.ndarray,
    long_axis_fraction: np.ndarray,
    angle_deg: np.ndarray,
    *,
    sd_deg: float,
    bandwidth_deg: float,
    peak_deg: float,
    title: str,
) -> bytes:
    """Phase polar map (0-360 deg of the R-R interval) and its area-weighted histogram.

    ``sd_deg``, ``bandwidth_deg`` and ``peak_deg`` are the statistics computed by
    :func:`cardiolens.nuclear.function.phase_analysis` (Chen et al. 2005); the
    histogram is drawn in 6-degree bins of the same samples and weights.
    """
    figure, (polar_axes, hist_axes) = plt.subplots(
        1, 2, figsize=(5.6, 2.8), gridspec_kw={"width_ratios": [1.0, 1.15]}
    )
    x, y, shown = _mesh(phase_deg, long_axis_fraction, angle_deg)
    norm = matplotlib.colors.Normalize(vmin=0.0, vmax=360.0)
    polar_axes.pcolormesh(x, y, shown, cmap="jet", norm=norm, shading="gouraud")
    _grid(polar_axes)
    polar_axes.set_title(f"{title} phase map", fontsize=8)
    colour_bar(figure, polar_axes, norm, plt.get_cmap("jet"), "phase (deg of R-R)")
    edges = np.arange(0.0, 366.0, 6.0)
    share, _ = np.histogram(
        np.mod(np.ravel(phase_deg), 360.0), bins=edges, weights=np.ravel(weight)
    )
    hist_axes.bar(
        edges[:-1], 100.0 * share / share.sum(), width=6.0, align="edge", color="tab:blue"
    )
    hist_axes.axvline(peak_deg, color="k", linestyle=":", linewidth=0.8)
    hist_axes.set_xlim(0, 360)
    hist_axes.set_xticks(range(0, 361, 90))
    hist_axes.set_xlabel("phase (deg of R-R)", fontsize=7)
    hist_axes.set_ylabel("% of LV", fontsize=7)
    hist_axes.tick_params(labelsize=6)
    hist_axes.set_title(f"phase SD {sd_deg:.1f} deg, bandwidth {bandwidth_deg:.0f} deg", fontsize=8)
    return png_bytes(figure)
