"""Report figures as PNG bytes: 17-segment bull's-eyes, slices with contours, curves, SHAP.

Every figure is drawn from numbers and arrays already in the report or the stage
results, with matplotlib's non-interactive Agg backend.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Wedge  # noqa: E402

__all__ = [
    "ARTERY_COLOURS",
    "CalciumOverlaySource",
    "bullseye_png",
    "calcium_overlay_from_report",
    "calcium_overlay_png",
    "calcium_overlay_source",
    "draw_calcium_overlay",
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


#: Lesion colour of each artery in the calcium overlay (None: no artery assigned).
ARTERY_COLOURS: dict[str | None, str] = {
    "LM": "magenta",
    "LAD": "red",
    "LCx": "lime",
    "RCA": "cyan",
    None: "yellow",
}
_EXCLUDED_COLOUR = "white"


@dataclass(frozen=True, eq=False)
class CalciumOverlaySource:
    """The CT slices and lesions the calcium overlay shows, kept with the report so that
    an amendment (a lesion reassigned or excluded) redraws it without the CT.

    Attributes
    ----------
    ct_hu
        The shown axial slices, cropped around the lesions, ``(n, rows, columns)`` HU.
    slice_numbers
        1-based slice number of each shown slice in the CT series.
    lesion_ids
        Lesion label of each lesion in the report's order (report lesion k is
        ``lesion_ids[k - 1]``).
    labels
        Lesion labels of the shown slices like ``ct_hu`` (0 background), or None.
    centroids
        Without labels, ``{lesion id: (shown slice index, row, column)}`` of the
        lesions in a shown slice: they are circled.
    """

    ct_hu: np.ndarray
    slice_numbers: tuple[int, ...]
    lesion_ids: tuple[int, ...]
    labels: np.ndarray | None
    centroids: dict[int, tuple[int, float, float]]

    def to_npz(self) -> bytes:
        """The source as ``.npz`` bytes (HU as int16, labels as int32)."""
        buffer = io.BytesIO()
        rows = [(i, *c) for i, c in self.centroids.items()]
        arrays = {
            "ct_hu": np.clip(np.rint(self.ct_hu), -32768, 32767).astype(np.int16),
            "slice_numbers": np.asarray(self.slice_numbers, dtype=np.int32),
            "lesion_ids": np.asarray(self.lesion_ids, dtype=np.int32),
            "centroids": np.asarray(rows, dtype=float).reshape(-1, 4),
        }
        if self.labels is not None:
            arrays["labels"] = self.labels.astype(np.int32)
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_npz(cls, data: bytes) -> CalciumOverlaySource:
        """Read :meth:`to_npz` bytes."""
        with np.load(io.BytesIO(data)) as arrays:
            return cls(
                ct_hu=arrays["ct_hu"].astype(float),
                slice_numbers=tuple(int(v) for v in arrays["slice_numbers"]),
                lesion_ids=tuple(int(v) for v in arrays["lesion_ids"]),
                labels=arrays["labels"] if "labels" in arrays.files else None,
                centroids={
                    int(r[0]): (int(r[1]), float(r[2]), float(r[3])) for r in arrays["centroids"]
                },
            )


def calcium_overlay_source(
    ct_hu: np.ndarray,
    lesion_ids: Sequence[int],
    *,
    lesion_labels: np.ndarray | None = None,
    centroids_zyx: Mapping[int, Sequence[float]] | None = None,
    n_slices: int = 3,
) -> CalciumOverlaySource:
    """Choose and crop the slices the calcium overlay shows (:class:`CalciumOverlaySource`).

    Parameters
    ----------
    ct_hu
        CT array ``(z, y, x)`` in HU.
    lesion_ids
        Lesion labels in the report's order.
    lesion_labels
        Integer array like ``ct_hu`` (0 background, k lesion k): lesions are filled.
    centroids_zyx
        Without labels, ``{lesion id: (z, y, x) voxel index}``: lesions are circled.
    n_slices
        Number of slices shown (those with the most lesion voxels, or lesions).
    """
    if lesion_labels is not None:
        weight = (lesion_labels > 0).reshape(lesion_labels.shape[0], -1).sum(axis=1)
    else:
        weight = np.zeros(ct_hu.shape[0])
        for z, _, _ in (centroids_zyx or {}).values():
            weight[int(np.clip(round(z), 0, ct_hu.shape[0] - 1))] += 1
    chosen = sorted(int(k) for k in np.argsort(weight)[::-1][:n_slices] if weight[k] > 0)
    chosen = chosen or [ct_hu.shape[0] // 2]
    (r0, r1), (c0, c1) = _lesion_window(ct_hu.shape[1:], lesion_labels, centroids_zyx)
    centroids = {}
    if lesion_labels is None:
        for lesion, (z, y, x) in (centroids_zyx or {}).items():
            if round(z) in chosen:
                centroids[int(lesion)] = (chosen.index(round(z)), float(y) - r0, float(x) - c0)
    return CalciumOverlaySource(
        ct_hu=np.asarray(ct_hu)[chosen, r0:r1, c0:c1],
        slice_numbers=tuple(k + 1 for k in chosen),
        lesion_ids=tuple(int(i) for i in lesion_ids),
        labels=None if lesion_labels is None else np.asarray(lesion_labels)[chosen, r0:r1, c0:c1],
        centroids=centroids,
    )


def draw_calcium_overlay(
    source: CalciumOverlaySource,
    lesion_artery: Mapping[int, str | None],
    excluded: Collection[int] = (),
) -> bytes:
    """Axial CT slices, lesions coloured by artery (:data:`ARTERY_COLOURS`) and numbered
    as in the report; ``excluded`` lesion ids (left out of the score) are outlined in white.
    The legend names what the shown slices hold.
    """
    number = {lesion: k for k, lesion in enumerate(source.lesion_ids, start=1)}
    n = len(source.slice_numbers)
    figure, axes = plt.subplots(1, n, figsize=(3.0 * n, 3.0), squeeze=False)
    for index, ax in enumerate(axes[0]):
        ax.imshow(source.ct_hu[index], cmap="gray", vmin=-200, vmax=600)
        places: dict[int, tuple[float, float]] = {}
        if source.labels is not None:
            rgba = np.zeros((*source.ct_hu.shape[1:], 4))
            for label in np.unique(source.labels[index]):
                label = int(label)
                if not label:
                    continue
                mask = source.labels[index] == label
                if label in excluded:
                    ax.contour(mask, levels=[0.5], colors=_EXCLUDED_COLOUR, linewidths=1.0)
                else:
                    colour = ARTERY_COLOURS.get(lesion_artery.get(label), "yellow")
                    rgba[mask] = matplotlib.colors.to_rgba(colour)
                rows, columns = np.nonzero(mask)
                places[label] = (float(columns.mean()), float(rows.min()))
            ax.imshow(rgba, interpolation="nearest")
        for lesion, (k, y, x) in source.centroids.items():
            if k == index:
                gone = lesion in excluded
                colour = (
                    _EXCLUDED_COLOUR
                    if gone
                    else ARTERY_COLOURS.get(lesion_artery.get(lesion), "yellow")
                )
                ax.add_patch(
                    matplotlib.patches.Circle(
                        (x, y), 12, fill=False, color=colour, lw=1.2, ls="--" if gone else "-"
                    )
                )
                places[lesion] = (x + 9.0, y - 9.0)  # on the circle, upper right
        for lesion, (x, y) in places.items():
            if lesion in number:
                ax.annotate(
                    str(number[lesion]),
                    (x, y),
                    xytext=(0, 3),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="white",
                )
        ax.set_title(f"slice {source.slice_numbers[index]}", fontsize=8)
        ax.axis("off")
    visible = set(source.centroids) | (
        set() if source.labels is None else {int(v) for v in np.unique(source.labels) if v}
    )
    shown = {lesion_artery.get(i) for i in visible if i not in excluded}
    handles = [
        matplotlib.patches.Patch(color=c, label=name or "unassigned")
        for name, c in ARTERY_COLOURS.items()
        if name in shown
    ]
    if visible & set(excluded):
        handles.append(
            matplotlib.patches.Patch(
                facecolor="none", edgecolor=_EXCLUDED_COLOUR, label="excluded (not scored)"
            )
        )
    if handles:
        legend = figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7)
        legend.get_frame().set_facecolor("0.35")
        for text in legend.get_texts():
            text.set_color("white")
    return png_bytes(figure)


def calcium_overlay_from_report(source: CalciumOverlaySource, calcium: Mapping[str, Any]) -> bytes:
    """The overlay redrawn with the report's current lesion arteries and exclusions."""
    lesions = calcium["lesions"]
    if len(lesions) != len(source.lesion_ids):
        raise ValueError(
            f"the overlay source has {len(source.lesion_ids)} lesions, the report {len(lesions)}"
        )
    artery = {i: lesion["artery"] for i, lesion in zip(source.lesion_ids, lesions, strict=True)}
    excluded = {
        i for i, lesion in zip(source.lesion_ids, lesions, strict=True) if lesion.get("excluded")
    }
    return draw_calcium_overlay(source, artery, excluded)


def calcium_overlay_png(
    ct_hu: np.ndarray,
    lesion_artery: Mapping[int, str | None],
    *,
    lesion_labels: np.ndarray | None = None,
    centroids_zyx: Mapping[int, Sequence[float]] | None = None,
    n_slices: int = 3,
) -> bytes:
    """Axial CT slices holding the most calcium, lesions coloured by artery
    (:func:`calcium_overlay_source` then :func:`draw_calcium_overlay`; lesions
    numbered in the order of ``lesion_artery``)."""
    source = calcium_overlay_source(
        ct_hu,
        list(lesion_artery),
        lesion_labels=lesion_labels,
        centroids_zyx=centroids_zyx,
        n_slices=n_slices,
    )
    return draw_calcium_overlay(source, lesion_artery)
