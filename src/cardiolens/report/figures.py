"""Report figures as PNG bytes: 17-segment bull's-eyes, slices with contours, curves, SHAP.

Every figure is drawn from numbers and arrays already in the report or the stage
results, with matplotlib's non-interactive Agg backend.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Wedge  # noqa: E402

__all__ = [
    "bullseye_png",
    "calcium_overlay_png",
    "slice_panels_png",
    "shap_waterfall_png",
    "volume_curve_png",
]

_DPI = 100
# Ring of each AHA segment (Cerqueira et al., Circulation 2002): (inner, outer) radius,
# angular width (deg) and the angle of segment centre in the cardiolens convention
# (0 anterior, 90 septal, 180 inferior, 270 lateral).
_RINGS: dict[int, tuple[float, float, float, float]] = {
    **{s: (3.0, 4.0, 60.0, (s - 1) * 60.0) for s in range(1, 7)},
    **{s: (2.0, 3.0, 60.0, (s - 7) * 60.0) for s in range(7, 13)},
    **{s: (1.0, 2.0, 90.0, (s - 13) * 90.0) for s in range(13, 17)},
    17: (0.0, 1.0, 360.0, 0.0),
}


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def bullseye_png(
    values: Sequence[float],
    *,
    title: str,
    vmin: float = 0.0,
    vmax: float = 100.0,
    cmap: str = "jet",
    unit: str = "%",
) -> bytes:
    """A 17-segment bull's-eye (AHA display: anterior up, septum left, apex centre).

    Parameters
    ----------
    values
        17 values, segment 1 first (for example % of maximal uptake).
    title
        Figure title.
    vmin, vmax, cmap, unit
        Colour scale and the unit printed on the colour bar.
    """
    if len(values) != 17:
        raise ValueError(f"a bull's-eye needs 17 segment values; got {len(values)}")
    figure, axes = plt.subplots(figsize=(3.2, 3.2))
    colormap = plt.get_cmap(cmap)
    norm = matplotlib.colors.Normalize(vmin=vmin, vmax=vmax)
    for segment, (inner, outer, width, centre) in _RINGS.items():
        value = float(values[segment - 1])
        # Display angle: anterior (0) at 90 deg (top), septal (90) at 180 deg (left).
        theta = 90.0 + centre
        axes.add_patch(
            Wedge(
                (0, 0),
                outer,
                theta - width / 2,
                theta + width / 2,
                width=outer - inner if inner > 0 else None,
                facecolor=colormap(norm(value)),
                edgecolor="black",
                linewidth=0.8,
            )
        )
        radius = 0.0 if segment == 17 else (inner + outer) / 2
        x = radius * np.cos(np.deg2rad(theta))
        y = radius * np.sin(np.deg2rad(theta))
        red, green, blue, _ = colormap(norm(value))
        luminance = 0.299 * red + 0.587 * green + 0.114 * blue
        axes.text(
            x,
            y,
            f"{value:.0f}",
            ha="center",
            va="center",
            fontsize=7,
            color="black" if luminance > 0.55 else "white",
        )
    axes.set_xlim(-4.2, 4.2)
    axes.set_ylim(-4.2, 4.2)
    axes.set_aspect("equal")
    axes.axis("off")
    axes.set_title(title, fontsize=9)
    for text, (x, y) in {
        "ANT": (0, 4.3),
        "SEPT": (-4.6, 0),
        "INF": (0, -4.55),
        "LAT": (4.5, 0),
    }.items():
        axes.text(x, y, text, ha="center", va="center", fontsize=6)
    colorbar = figure.colorbar(
        matplotlib.cm.ScalarMappable(norm=norm, cmap=colormap), ax=axes, shrink=0.7
    )
    colorbar.set_label(unit, fontsize=7)
    colorbar.ax.tick_params(labelsize=6)
    return _png(figure)


def slice_panels_png(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray | None]],
    *,
    suptitle: str = "",
    cmap: str = "gray",
    window: tuple[float, float] | None = None,
) -> bytes:
    """A row of 2D slices, each with the contour of its mask.

    Parameters
    ----------
    panels
        ``(title, image 2D, mask 2D or None)`` per panel; square pixels are assumed
        (the cardiac views are resliced isotropically).
    window
        Display range; default 0 to the 99.9th percentile of each slice.
    """
    if not panels:
        raise ValueError("no slices to draw")
    figure, axes = plt.subplots(1, len(panels), figsize=(1.9 * len(panels), 2.2), squeeze=False)
    for ax, (title, image, mask) in zip(axes[0], panels, strict=True):
        lo, hi = window or (0.0, float(np.percentile(image, 99.9)) + 1e-6)
        ax.imshow(image, cmap=cmap, vmin=lo, vmax=hi)
        if mask is not None and mask.any() and not mask.all():
            ax.contour(mask, levels=[0.5], colors="lime", linewidths=0.8)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    if suptitle:
        figure.suptitle(suptitle, fontsize=9)
    return _png(figure)


def volume_curve_png(volumes_ml: Sequence[float], *, title: str = "LV volume curve") -> bytes:
    """LV cavity volume (mL) against gate number."""
    figure, axes = plt.subplots(figsize=(3.4, 2.4))
    gates = np.arange(1, len(volumes_ml) + 1)
    axes.plot(gates, volumes_ml, "o-", color="tab:red")
    axes.set_xlabel("gate", fontsize=8)
    axes.set_ylabel("volume (mL)", fontsize=8)
    axes.set_title(title, fontsize=9)
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    return _png(figure)


def shap_waterfall_png(
    contributors: Sequence[Mapping[str, Any]],
    *,
    base_value: float = 0.0,
    unit: str = "log-odds",
    title: str = "Contributions to the model output (SHAP)",
) -> bytes:
    """Waterfall of per-feature SHAP contributions, each bar starting where the last ended.

    Parameters
    ----------
    contributors
        Items with ``feature``, ``contribution`` and optionally ``value``, largest first.
    base_value
        Where the first bar starts: the model's expected output, or 0 to show the
        cumulative contribution of the features listed.
    unit
        Scale of the contributions (SHAP of a tree model: log-odds).
    """
    items = list(contributors)[::-1]
    figure, axes = plt.subplots(figsize=(4.8, 0.45 * len(items) + 1.2))
    position = base_value
    for row, item in enumerate(items):
        delta = float(item["contribution"])
        axes.barh(row, delta, left=position, color="tab:red" if delta > 0 else "tab:blue")
        position += delta
    labels = [
        f"{c['feature']} = {c['value']}" if c.get("value") is not None else str(c["feature"])
        for c in items
    ]
    axes.set_yticks(range(len(items)), labels, fontsize=7)
    axes.axvline(base_value, color="gray", linestyle=":", linewidth=0.8)
    axes.set_xlabel(f"cumulative contribution ({unit}); red raises, blue lowers risk", fontsize=8)
    axes.set_title(title, fontsize=9)
    axes.tick_params(axis="x", labelsize=7)
    return _png(figure)


def _lesion_window(
    shape: tuple[int, int],
    lesion_labels: np.ndarray | None,
    centroids_zyx: Mapping[int, Sequence[float]] | None,
    margin: int = 60,
) -> tuple[tuple[int, int], tuple[int, int]]:
    """In-plane (rows, columns) ranges around all lesions plus ``margin`` pixels."""
    if lesion_labels is not None and lesion_labels.any():
        points = np.argwhere(lesion_labels > 0)[:, 1:]
    elif centroids_zyx:
        points = np.asarray([c[1:] for c in centroids_zyx.values()], dtype=float)
    else:
        return (0, shape[0]), (0, shape[1])
    low = np.maximum(points.min(axis=0).astype(int) - margin, 0)
    high = np.minimum(points.max(axis=0).astype(int) + margin + 1, shape)
    return (int(low[0]), int(high[0])), (int(low[1]), int(high[1]))


def calcium_overlay_png(
    ct_hu: np.ndarray,
    lesion_artery: Mapping[int, str | None],
    *,
    lesion_labels: np.ndarray | None = None,
    centroids_zyx: Mapping[int, Sequence[float]] | None = None,
    n_slices: int = 3,
) -> bytes:
    """Axial CT slices holding the most calcium, lesions coloured by artery.

    Parameters
    ----------
    ct_hu
        CT array ``(z, y, x)`` in HU.
    lesion_artery
        ``{lesion id: artery name or None}``.
    lesion_labels
        Integer array like ``ct_hu`` (0 background, k lesion k): lesions are filled.
    centroids_zyx
        Without labels, ``{lesion id: (z, y, x) voxel index}``: lesions are circled.
    n_slices
        Number of slices shown (those with the most lesion voxels, or lesions).
    """
    colours = {"LM": "magenta", "LAD": "red", "LCx": "lime", "RCA": "cyan", None: "yellow"}
    if lesion_labels is not None:
        weight = (lesion_labels > 0).reshape(lesion_labels.shape[0], -1).sum(axis=1)
    else:
        weight = np.zeros(ct_hu.shape[0])
        for z, _, _ in (centroids_zyx or {}).values():
            weight[int(np.clip(round(z), 0, ct_hu.shape[0] - 1))] += 1
    chosen = sorted(int(k) for k in np.argsort(weight)[::-1][:n_slices] if weight[k] > 0)
    chosen = chosen or [ct_hu.shape[0] // 2]
    rows, columns = _lesion_window(ct_hu.shape[1:], lesion_labels, centroids_zyx)
    figure, axes = plt.subplots(1, len(chosen), figsize=(3.0 * len(chosen), 3.0), squeeze=False)
    for ax, k in zip(axes[0], chosen, strict=True):
        ax.imshow(ct_hu[k], cmap="gray", vmin=-200, vmax=600)
        ax.set_xlim(columns[0] - 0.5, columns[1] - 0.5)
        ax.set_ylim(rows[1] - 0.5, rows[0] - 0.5)
        if lesion_labels is not None:
            rgba = np.zeros((*ct_hu.shape[1:], 4))
            for label in np.unique(lesion_labels[k]):
                if label:
                    colour = colours.get(lesion_artery.get(int(label)), "yellow")
                    rgba[lesion_labels[k] == label] = matplotlib.colors.to_rgba(colour)
            ax.imshow(rgba, interpolation="nearest")
        for lesion, (z, y, x) in (centroids_zyx or {}).items():
            if lesion_labels is None and round(z) == k:
                colour = colours.get(lesion_artery.get(lesion), "yellow")
                ax.add_patch(
                    matplotlib.patches.Circle((x, y), 12, fill=False, color=colour, lw=1.2)
                )
        ax.set_title(f"slice {k + 1}", fontsize=8)
        ax.axis("off")
    handles = [
        matplotlib.patches.Patch(color=c, label=name or "unassigned")
        for name, c in colours.items()
        if name in set(lesion_artery.values())
    ]
    if handles:
        figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7)
    return _png(figure)
