"""The nuclear report's figures and extents, from the perfusion stage's result.

Figures (names as in :data:`cardiolens.report.html.FIGURE_TITLES`):

* ``polar_<state>``: raw uptake polar map, % of the myocardial maximum;
* ``extent_<state>``: the same map with samples below the normal limit black
  (defect extent / blackout; TPD severity > 0, Slomka 2005);
* ``reversibility_extent``: stress map, reversible samples white, fixed black;
* ``bullseye_<state>``, ``bullseye_reversibility``: 17-segment averages;
* ``wall_motion_<state>``, ``thickening_<state>``: gated regional function per segment;
* ``phase_<state>``: phase polar map and histogram (Chen et al. 2005);
* ``slices``: stress and rest slices paired row by row (short axis apex to base,
  vertical and horizontal long axis), each state scaled to its polar-map maximum
  so that one colour scale holds for all;
* ``volume_curves``: the time-volume curves.

:func:`perfusion_extents` gives the extents (% of the LV) quoted under the maps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cardiolens.nuclear.analysis import PerfusionImageResult, PerfusionStudyResult
from cardiolens.nuclear.reorient import View, reslice
from cardiolens.report import figures as fig
from cardiolens.report.polar_figures import extent_pct, phase_png, polar_map_png

__all__ = ["nuclear_figures", "perfusion_extents"]

_STATES = ("stress", "rest")
#: Short-axis slices shown from apex to base, and long-axis slices across the LV.
_N_SHORT_AXIS = 6
_LONG_AXIS_FRACTIONS = (0.25, 0.5, 0.75)
_LONG_AXIS_TITLES = {
    View.VERTICAL_LONG_AXIS: ("VLA septal", "VLA mid", "VLA lateral"),
    View.HORIZONTAL_LONG_AXIS: ("HLA anterior", "HLA mid", "HLA inferior"),
}


#: Regional gated function maps: JSON key, figure name, title, colour-scale top, unit.
_REGIONAL_FUNCTION = (
    ("wall_motion_mm", "wall_motion", "wall motion (mm)", 12.0, "endocardial motion ED to ES, mm"),
    ("thickening_pct", "thickening", "thickening (%)", 100.0, "systolic thickening, %"),
)


def _abnormal(state: PerfusionImageResult) -> np.ndarray:
    """Samples below the normal limit (TPD severity > 0)."""
    return np.asarray(state.deficit.severity) > 0


def perfusion_extents(result: PerfusionStudyResult) -> dict[str, float]:
    """Defect extents, % of the LV (area-weighted samples below the normal limit).

    Keys: ``stress``, ``rest`` (each state's extent), and with both states on one
    grid ``reversible`` (abnormal at stress, normal at rest) and ``fixed``
    (abnormal at both), on the stress map's area weights.
    """
    extents = {}
    for name in _STATES:
        state = getattr(result, name)
        if state is not None:
            extents[name] = round(extent_pct(_abnormal(state), state.polar.area_weight), 1)
    stress, rest = result.stress, result.rest
    if stress is not None and rest is not None and _abnormal(stress).shape == _abnormal(rest).shape:
        weight = stress.polar.area_weight
        extents["reversible"] = round(extent_pct(_abnormal(stress) & ~_abnormal(rest), weight), 1)
        extents["fixed"] = round(extent_pct(_abnormal(stress) & _abnormal(rest), weight), 1)
    return extents


def _polar_figures(result: PerfusionStudyResult, extents: dict[str, float]) -> dict[str, bytes]:
    figures = {}
    for name in _STATES:
        state = getattr(result, name)
        if state is None:
            continue
        polar = state.polar
        geometry = (polar.values_pct, polar.long_axis_fraction, polar.angle_deg)
        label = name.capitalize()
        figures[f"polar_{name}"] = polar_map_png(*geometry, title=f"{label} uptake")
        figures[f"extent_{name}"] = polar_map_png(
            *geometry,
            title=f"{label} defect extent",
            black=_abnormal(state),
            note=f"below normal limit (black): {extents[name]:.1f}% of LV, "
            f"TPD {state.deficit.tpd_pct:.1f}%",
        )
    if "reversible" in extents:
        polar = result.stress.polar
        figures["reversibility_extent"] = polar_map_png(
            polar.values_pct,
            polar.long_axis_fraction,
            polar.angle_deg,
            title="Reversibility extent",
            black=_abnormal(result.stress) & _abnormal(result.rest),
            white=_abnormal(result.stress) & ~_abnormal(result.rest),
            note=f"reversible (white) {extents['reversible']:.1f}%, "
            f"fixed (black) {extents['fixed']:.1f}% of LV",
        )
    return figures


def _segment_figures(nuclear: dict[str, Any]) -> dict[str, bytes]:
    figures = {}
    for name in _STATES:
        state = nuclear.get(name)
        if state is not None:
            figures[f"bullseye_{name}"] = fig.bullseye_png(
                state["segments"], title=f"{name.capitalize()} uptake (% of max)"
            )
        function = (state or {}).get("function") or {}
        for key, kind, title, vmax, unit in _REGIONAL_FUNCTION:
            if function.get(key) is not None:
                figures[f"{kind}_{name}"] = fig.bullseye_png(
                    function[key],
                    title=f"{name.capitalize()} {title}",
                    vmin=0.0,
                    vmax=vmax,
                    unit=unit,
                )
    if nuclear.get("stress") and nuclear.get("rest"):
        difference = np.subtract(nuclear["rest"]["segments"], nuclear["stress"]["segments"])
        figures["bullseye_reversibility"] = fig.bullseye_png(
            difference,
            title="Reversibility (rest - stress)",
            vmin=-30,
            vmax=30,
            cmap="RdBu_r",
            unit="percentage points",
        )
    return figures


def _phase_figures(result: PerfusionStudyResult) -> dict[str, bytes]:
    figures = {}
    for name in _STATES:
        state = getattr(result, name)
        function = None if state is None else state.function
        phase = None if function is None else function.phase
        if phase is None or phase.phase_deg is None:
            continue
        if phase.phase_deg.shape != state.polar.values_pct.shape:
            continue
        figures[f"phase_{name}"] = phase_png(
            phase.phase_deg,
            phase.weight,
            state.polar.long_axis_fraction,
            state.polar.angle_deg,
            sd_deg=phase.phase_sd_deg,
            bandwidth_deg=phase.bandwidth_deg,
            peak_deg=phase.peak_phase_deg,
            title=name.capitalize(),
        )
    return figures


def _views(
    state: PerfusionImageResult,
) -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    """Resliced slices of one state, scaled to % of its polar-map maximum, with contours."""
    mask = state.myocardium_mask()
    mask = mask.with_array(mask.array.astype(np.float32))
    scale = 100.0 / max(float(state.polar.max_counts), 1e-9)
    views: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {}
    for view in (View.SHORT_AXIS, View.VERTICAL_LONG_AXIS, View.HORIZONTAL_LONG_AXIS):
        image = reslice(state.volume, state.axes, view).array * scale
        contour = reslice(mask, state.axes, view).array > 0.5
        present = np.flatnonzero(contour.reshape(contour.shape[0], -1).any(axis=1))
        if present.size == 0:
            continue
        if view == View.SHORT_AXIS:
            fractions = np.linspace(0.1, 0.9, _N_SHORT_AXIS)
            titles = [f"SA {i + 1}" + (" apex" if i == 0 else "") for i in range(_N_SHORT_AXIS)]
            titles[-1] += " base"
        else:
            fractions = np.asarray(_LONG_AXIS_FRACTIONS)
            titles = list(_LONG_AXIS_TITLES[view])
        picks = np.quantile(present, fractions).round().astype(int)
        views[view.value] = [
            (title, image[k], contour[k]) for title, k in zip(titles, picks, strict=True)
        ]
    return views


def _slices_figure(result: PerfusionStudyResult) -> dict[str, bytes]:
    by_state = {
        name: _views(getattr(result, name)) for name in _STATES if getattr(result, name) is not None
    }
    rows = []
    for group, label in ((("short_axis",), "SA"), (("vla", "hla"), "VLA, HLA")):
        for name, views in by_state.items():
            panels = [panel for view in group for panel in views.get(view, [])]
            if panels:
                rows.append((f"{name.capitalize()} {label}", panels))
    return {"slices": fig.paired_slices_png(rows)} if rows else {}


def nuclear_figures(result: PerfusionStudyResult, nuclear: dict[str, Any]) -> dict[str, bytes]:
    """Every nuclear figure (see the module docstring) from the stage result and its JSON."""
    extents = perfusion_extents(result)
    figures = {**_polar_figures(result, extents), **_segment_figures(nuclear)}
    figures.update(_phase_figures(result))
    figures.update(_slices_figure(result))
    curves = {
        name: nuclear[name]["function"]
        for name in _STATES
        if nuclear.get(name)
        and nuclear[name].get("function")
        and len(nuclear[name]["function"].get("cavity_volume_ml") or []) > 1
    }
    if curves:
        figures["volume_curves"] = fig.volume_curves_png(curves)
    return figures
