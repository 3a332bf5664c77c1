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
    "colour_bar",
    "paired_slices_png",
    "png_bytes",
    "volume_curves_png",
    "shap_waterfall_png",
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


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG bytes (tight bounding box); the figure is closed."""
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
            _integer_label(value),
            ha="center",
            va="center",
            fontsize=7,
            color="black" if luminance > 0.55 else "white",
        )
    axes.set_xlim(-5.0, 5.0)
    axes.set_ylim(-4.8, 4.8)
    axes.set_aspect("equal")
    axes.axis("off")
    axes.set_title(title, fontsize=9)
    for text, (x, y) in {
        "ANT": (0, 4.45),
        "SEPT": (-4.6, 0),
        "INF": (0, -4.45),
        "LAT": (4.6, 0),
    }.items():
        axes.text(x, y, text, ha="center", va="center", fontsize=6)
    colour_bar(figure, axes, norm, colormap, unit)
    return png_bytes(figure)


def colour_bar(figure: Figure, axes, norm, colormap, label: str, *, horizontal: bool = True):
    """A colour bar of ``norm``/``colormap`` under (or beside) ``axes``, labelled ``label``."""
    colorbar = figure.colorbar(
        matplotlib.cm.ScalarMappable(norm=norm, cmap=colormap),
        ax=axes,
        orientation="horizontal" if horizontal else "vertical",
        fraction=0.05 if horizontal else 0.015,
        pad=0.02 if horizontal else 0.01,
    )
    colorbar.set_label(label, fontsize=6)
    colorbar.ax.tick_params(labelsize=6)
    return colorbar


def _integer_label(value: float) -> str:
    """A value rounded to an integer for display, never "-0"."""
    rounded = int(round(float(value)))
    return str(rounded) if rounded else "0"


def paired_slices_png(
    rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray, np.ndarray | None]]]],
    *,
    vmax: float = 100.0,
    unit: str = "% of myocardial maximum",
    cmap: str = "hot",
) -> bytes:
    """Rows of slices (e.g. stress SA over rest SA) on one colour scale, with contours.

    Parameters
    ----------
    rows
        ``(row label, [(panel title, image 2D, mask 2D or None), ...])``; every image
        already scaled to ``unit`` (each state to its own myocardial maximum), so
        that one colour scale 0-``vmax`` holds for all panels.
    """
    if not rows or not any(panels for _, panels in rows):
        raise ValueError("no slices to draw")
    n_columns = max(len(panels) for _, panels in rows)
    figure, axes = plt.subplots(
        len(rows), n_columns, figsize=(1.25 * n_columns, 1.3 * len(rows)), squeeze=False
    )
    colormap = plt.get_cmap(cmap)
    for row, (label, panels) in enumerate(rows):
        for column in range(n_columns):
            ax = axes[row, column]
            ax.axis("off")
            if column >= len(panels):
                continue
            title, image, mask = panels[column]
            ax.imshow(image, cmap=colormap, vmin=0.0, vmax=vmax)
            if mask is not None and mask.any() and not mask.all():
                ax.contour(mask, levels=[0.5], colors="lime", linewidths=0.6)
            ax.set_title(title, fontsize=6, pad=2)
        axes[row, 0].text(
            -0.08,
            0.5,
            label,
            transform=axes[row, 0].transAxes,
            rotation=90,
            ha="right",
            va="center",
            fontsize=7,
        )
    colour_bar(
        figure, axes, matplotlib.colors.Normalize(0.0, vmax), colormap, unit, horizontal=False
    )
    return png_bytes(figure)


def volume_curves_png(curves: Mapping[str, Mapping[str, Any]]) -> bytes:
    """Time-volume curves (LV cavity volume, mL, per gate) of stress and rest on one plot.

    ``curves`` maps a state name to its gated-function JSON (``cavity_volume_ml``,
    ``ed_gate``, ``es_gate``, ``edv_ml``, ``esv_ml``, ``lvef_pct``); ED and ES gates
    are marked and the legend quotes EDV, ESV and LVEF.
    """
    figure, axes = plt.subplots(figsize=(3.6, 2.5))
    colours = {"stress": "tab:red", "rest": "tab:blue"}
    for name, function in curves.items():
        volumes = np.asarray(function["cavity_volume_ml"], dtype=float)
        gates = np.arange(1, len(volumes) + 1)
        colour = colours.get(name, "k")
        label = (
            f"{name}: EDV {function['edv_ml']:.0f}, ESV {function['esv_ml']:.0f} mL, "
            f"LVEF {function['lvef_pct']:.0f}%"
        )
        axes.plot(gates, volumes, "o-", color=colour, markersize=3, label=label)
        for key, marker in (("ed_gate", "s"), ("es_gate", "v")):
            gate = function.get(key)
            if gate is not None:
                axes.plot(gate + 1, volumes[gate], marker, color=colour, markersize=7, mfc="none")
    axes.set_xlabel("gate (ED square, ES triangle)", fontsize=7)
    axes.set_ylabel("LV volume (mL)", fontsize=7)
    axes.set_title("Time-volume curve", fontsize=8)
    axes.tick_params(labelsize=6)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    return png_bytes(figure)


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
    return png_bytes(figure)


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
    return png_bytes(figure)
