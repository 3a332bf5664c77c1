"""Self-contained, printable ``report.html``: every image embedded as base64 PNG.

The page reads from the report dict (the same numbers as ``report.json``) and the
figures written beside it; nothing is fetched from the network. A small script sets
``data-images-loaded="true"`` on ``<body>`` once every image has decoded, which the
headless-browser test checks, and records each image's rendered width
(``data-rendered-width``, CSS px) for the legibility check.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cardiolens.io.atomic import write_text_atomic
from cardiolens.report.html_context import context_section, provenance_section
from cardiolens.report.html_parts import bullet_list as _list
from cardiolens.report.html_parts import e as _e
from cardiolens.report.html_parts import number as _number
from cardiolens.report.html_parts import table as _table
from cardiolens.report.narrative import mesa_percentile_text, mesa_statement

__all__ = ["FIGURE_TITLES", "render_html", "write_html"]

FIGURE_TITLES: dict[str, str] = {
    "polar_stress": "Stress uptake polar map",
    "polar_rest": "Rest uptake polar map",
    "extent_stress": "Stress defect extent (blackout vs normal limits)",
    "extent_rest": "Rest defect extent (blackout vs normal limits)",
    "reversibility_extent": "Reversibility extent (white reversible, black fixed)",
    "bullseye_stress": "Stress perfusion, 17 segments",
    "bullseye_rest": "Rest perfusion, 17 segments",
    "bullseye_reversibility": "Reversibility (rest - stress), 17 segments",
    "slices": "Stress and rest slices (SA apex to base, VLA, HLA), one colour scale",
    "wall_motion_stress": "Stress wall motion",
    "thickening_stress": "Stress wall thickening",
    "wall_motion_rest": "Rest wall motion",
    "thickening_rest": "Rest wall thickening",
    "volume_curves": "Time-volume curves",
    "phase_stress": "Stress phase polar map and histogram",
    "phase_rest": "Rest phase polar map and histogram",
    "mbf_rest": "Rest myocardial blood flow (mL/min/g)",
    "mbf_stress": "Stress myocardial blood flow (mL/min/g)",
    "mfr": "Myocardial flow reserve (stress / rest)",
    "calcium_overlay": "Calcium lesions by artery",
    "shap_waterfall": "Risk model explanation (SHAP)",
}
"""Figure names the page knows, in display order, with their captions."""

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 12px; margin: 12px; color: #111; }
h1 { font-size: 18px; margin: 0 0 4px 0; } h2 { font-size: 14px; margin: 10px 0 4px 0;
  border-bottom: 1px solid #999; } .meta { color: #444; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start; }
figure { margin: 0; } figcaption { font-size: 10px; color: #333; text-align: center; }
img { max-width: 100%; max-height: 330px; } .bullseye img { width: 230px; }
.polar img { width: 235px; } .slices img { max-height: none; width: 1000px; }
.phase img { width: 460px; }
table { border-collapse: collapse; margin: 4px 0; } td, th { border: 1px solid #bbb;
  padding: 2px 6px; text-align: right; } th { background: #eee; } td.l, th.l { text-align: left; }
.impression { background: #f4f7fb; border-left: 4px solid #2a5db0; padding: 6px 10px; }
.review { color: #fff; background: #c0392b; padding: 1px 6px; border-radius: 3px; }
.flag { color: #8a5300; } .excluded { color: #666; text-decoration: line-through; }
.signoff { font-size: 13px; } .failed { color: #a00; } .small { font-size: 10px; color: #555; }
@media print { @page { size: A4; margin: 10mm; } body { margin: 0; font-size: 9px; }
  .grid { break-inside: avoid; } img { max-height: none; max-width: 100%; }
  .bullseye img, .polar img { width: 45mm; } .slices img { width: 170mm; }
  .phase img { width: 80mm; } .curve img { width: 60mm; } .wide img { width: 170mm; }
  .shap img { width: 90mm; } section { break-inside: auto; } h2 { break-after: avoid; } }
"""

_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.every(function (i) { return i.complete && i.naturalWidth > 0; });
  images.forEach(function (i) {
    i.setAttribute("data-rendered-width", String(Math.round(i.getBoundingClientRect().width)));
  });
  document.body.setAttribute("data-images-loaded", ok ? "true" : "false");
  document.body.setAttribute("data-image-count", String(images.length));
});
"""


def _figure(name: str, png: bytes, css_class: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    caption = FIGURE_TITLES.get(name, name)
    return (
        f'<figure class="{css_class}"><img id="fig-{_e(name)}" alt="{_e(caption)}" '
        f'src="data:image/png;base64,{data}"><figcaption>{_e(caption)}</figcaption></figure>'
    )


def _figures(figures: Mapping[str, bytes], names: Sequence[str], css_class: str = "") -> str:
    present = [_figure(n, figures[n], css_class) for n in names if n in figures]
    return f'<div class="grid">{"".join(present)}</div>' if present else ""


def _nuclear_section(nuclear: Mapping[str, Any], figures: Mapping[str, bytes]) -> str:
    states = [(name, nuclear.get(name)) for name in ("stress", "rest")]
    rows = []
    for name, state in states:
        if state is None:
            rows.append([name, *["absent"] + ["-"] * 7])
            continue
        function = state.get("function") or {}
        territory = state["territory_tpd_pct"]
        rows.append(
            [
                name,
                _number(state["summed_score"]),
                _number(state["tpd_pct"]),
                _number(territory.get("LAD")),
                _number(territory.get("LCx")),
                _number(territory.get("RCA")),
                _number(function.get("edv_ml"), 0),
                _number(function.get("esv_ml"), 0),
                _number(function.get("lvef_pct"), 0),
            ]
        )
    table = _table(
        [
            "",
            "summed score",
            "TPD %",
            "LAD TPD %",
            "LCx TPD %",
            "RCA TPD %",
            "EDV mL",
            "ESV mL",
            "LVEF %",
        ],
        rows,
    )
    combined = _table(
        ["SDS", "ischemic TPD %", "TID"],
        [
            [
                _number(nuclear.get("sds")),
                _number(nuclear.get("ischemic_tpd_pct")),
                _number(nuclear.get("tid"), 2),
            ]
        ],
        left=0,
    )
    segment_rows = [
        [name]
        + [str(score) for score in state["segment_scores"]]
        + [_number(state["summed_score"])]
        for name, state in states
        if state is not None
    ]
    segments = _table(["segment score", *map(str, range(1, 18)), "sum"], segment_rows)
    return (
        "<section><h2>Myocardial perfusion</h2>"
        + _figures(
            figures,
            ["polar_stress", "polar_rest", "extent_stress", "extent_rest", "reversibility_extent"],
            "polar",
        )
        + '<div class="grid">'
        + _figures(
            figures, ["bullseye_stress", "bullseye_rest", "bullseye_reversibility"], "bullseye"
        )
        + f"<div>{table}{combined}{_extent_table(nuclear)}{segments}</div></div>"
        + _figures(figures, ["slices"], "slices")
        + "</section>"
        + _function_section(nuclear, figures)
    )


def _extent_table(nuclear: Mapping[str, Any]) -> str:
    extents = nuclear.get("extent_pct") or {}
    names = [k for k in ("stress", "rest", "reversible", "fixed") if k in extents]
    if not names:
        return ""
    return _table(
        [f"extent % of LV: {n}" if i == 0 else n for i, n in enumerate(names)],
        [[_number(extents[n]) for n in names]],
        left=0,
    )


def _function_section(nuclear: Mapping[str, Any], figures: Mapping[str, bytes]) -> str:
    """Gated function: volumes, LVEF, phase statistics, regional maps and the curves."""
    rows = []
    for name in ("stress", "rest"):
        function = (nuclear.get(name) or {}).get("function")
        if not function:
            continue
        rows.append(
            [
                name,
                _number(function.get("edv_ml"), 0),
                _number(function.get("esv_ml"), 0),
                _number(function.get("stroke_volume_ml"), 0),
                _number(function.get("lvef_pct"), 0),
                _number(function.get("phase_sd_deg")),
                _number(function.get("phase_bandwidth_deg"), 0),
                _number(function.get("phase_entropy_pct"), 0),
            ]
        )
    if not rows:
        return ""
    table = _table(
        [
            "gated",
            "EDV mL",
            "ESV mL",
            "SV mL",
            "LVEF %",
            "phase SD deg",
            "bandwidth deg",
            "entropy %",
        ],
        rows,
    )
    names = [
        f"{kind}_{state}" for state in ("stress", "rest") for kind in ("wall_motion", "thickening")
    ]
    return (
        "<section><h2>Gated function and synchrony</h2>"
        + f'<div class="grid"><div>{table}<p class="small">Phase SD and bandwidth (95 % of the '
        "LV): first-harmonic phase analysis, Chen J et al., J Nucl Cardiol 2005;12:687-695.</p>"
        "</div>"
        + _figures(figures, ["volume_curves"], "curve")
        + "</div>"
        + _figures(figures, names, "bullseye")
        + _figures(figures, ["phase_stress", "phase_rest"], "phase")
        + "</section>"
    )


def _pet_flow_section(flow: Mapping[str, Any], figures: Mapping[str, bytes]) -> str:
    """MBF/MFR bull's-eyes and a territory table (cardiolens.nuclear.flow)."""
    rest, stress, mfr, cfc = flow.get("rest"), flow.get("stress"), flow.get("mfr"), flow.get("cfc")
    rows = []
    for territory in ("LAD", "LCx", "RCA"):
        rows.append(
            [
                territory,
                _number((rest or {}).get("territory_mbf_ml_min_g", {}).get(territory), 2),
                _number((stress or {}).get("territory_mbf_ml_min_g", {}).get(territory), 2),
                _number((mfr or {}).get("territories", {}).get(territory), 2),
                _e((cfc or {}).get("territories", {}).get(territory, "")),
            ]
        )
    table = _table(["Territory", "Rest MBF", "Stress MBF", "MFR", "CFC"], rows)
    return (
        f"<section><h2>PET myocardial blood flow ({_e(flow['tracer'])})</h2>"
        f"<p>{_e(flow['summary'])} Model: {_e(flow['model']['reference'])}.</p>{table}"
        + _figures(figures, ["mbf_rest", "mbf_stress", "mfr"])
        + "</section>"
    )


def _cac_drs_label(value: Any) -> str:
    """The CAC-DRS label whether the calcium stage gives a string or ``{label, ...}``."""
    return str(value.get("label", value)) if isinstance(value, Mapping) else str(value)


def _lesion_artery(lesion: Mapping[str, Any]) -> str:
    artery = _e(lesion["artery"] or "-")
    if "artery_automated" in lesion and lesion["artery_automated"] != lesion["artery"]:
        return f"{artery} (automated: {_e(lesion['artery_automated'] or '-')})"
    return artery


def _lesion_status(lesion: Mapping[str, Any]) -> str:
    if lesion.get("excluded"):
        return '<span class="excluded">excluded by physician</span>'
    return '<span class="review">review</span>' if lesion["needs_review"] else ""


def _mesa(calcium: Mapping[str, Any]) -> str:
    """The MESA percentile line (computed by the calcium stage) when present."""
    statement = mesa_statement(calcium)
    if statement is None:
        return ""
    mesa = calcium["mesa"]
    value = mesa_percentile_text(float(mesa["percentile"]))
    rest = statement.removeprefix(f"MESA percentile {value}")  # population, amendment note
    reference = mesa.get("reference")
    return (
        f"<p><b>MESA percentile: {_e(value)}</b>{_e(rest)}"
        + (f'<br><span class="small">{_e(reference)}</span>' if reference else "")
        + "</p>"
    )


def _overlay_note(calcium: Mapping[str, Any], figures: Mapping[str, bytes]) -> str:
    """Lesions changed by an amendment; the overlay is redrawn with them
    (:func:`cardiolens.report.amendments.amend_folder`)."""
    changed = [
        f"lesion {i + 1} " + ("excluded" if lesion.get("excluded") else f"now {lesion['artery']}")
        for i, lesion in enumerate(calcium["lesions"])
        if lesion.get("excluded")
        or ("artery_automated" in lesion and lesion["artery_automated"] != lesion["artery"])
    ]
    if not changed:
        return ""
    image = "image redrawn, " if "calcium_overlay" in figures else ""
    return (
        '<p class="small">Lesions amended: '
        + _e("; ".join(changed))
        + f" ({image}scores above recomputed).</p>"
    )


def _calcium_section(calcium: Mapping[str, Any], figures: Mapping[str, bytes]) -> str:
    calibration = calcium.get("mass_calibration") or {}
    totals = _table(
        ["Agatston", "volume mm3", "mass mg", "category", "CAC-DRS"],
        [
            [
                _number(calcium["agatston"]),
                _number(calcium["volume_mm3"]),
                _number(calcium["mass_mg"]),
                _e(calcium["category"]),
                _e(_cac_drs_label(calcium["cac_drs"])),
            ]
        ],
        left=0,
    )
    per_artery = _table(
        ["artery", "Agatston", "volume mm3", "mass mg"],
        [
            [_e(name), _number(v["agatston"]), _number(v["volume_mm3"]), _number(v["mass_mg"])]
            for name, v in (calcium.get("per_artery") or {}).items()
        ],
    )
    lesions = _table(
        [
            "lesion",
            "artery",
            "Agatston",
            "volume mm3",
            "mass mg",
            "integrated mass mg",
            "peak HU",
            "review",
        ],
        [
            [
                str(i + 1),
                _lesion_artery(lesion),
                _number(lesion["agatston"]),
                _number(lesion["volume_mm3"]),
                _number(lesion["mass_mg"]),
                _number(lesion.get("mass_integrated_mg")),
                _number(lesion["peak_hu"], 0),
                _lesion_status(lesion),
            ]
            for i, lesion in enumerate(calcium["lesions"])
        ],
        left=2,
    )
    eat = calcium.get("eat")
    eat_text = (
        f"<p>Epicardial fat: {_number(eat['volume_ml'])} mL, mean {_number(eat['mean_hu'])} HU</p>"
        if eat
        else ""
    )
    calibration_text = (
        '<p class="small">Mass calibration: factor '
        f"{_number(calibration.get('factor_mg_per_hu_mm3'), 6)} mg/(HU mm3), "
        f"source {_e(calibration.get('source', '-'))}</p>"
        if calibration
        else ""
    )
    return (
        "<section><h2>Coronary artery calcium</h2>"
        f'<div class="grid"><div>{totals}{_mesa(calcium)}{per_artery}{eat_text}'
        f"{calibration_text}</div>"
        + _figures(figures, ["calcium_overlay"], "wide")
        + _overlay_note(calcium, figures)
        + f"<div>{lesions}</div></div></section>"
    )


def _risk_section(risk: Mapping[str, Any], figures: Mapping[str, bytes]) -> str:
    interval = risk["interval"]
    confidence = interval.get("confidence")
    review = ' <span class="review">needs physician review</span>' if risk["needs_review"] else ""
    return (
        '<section><h2>Risk estimate</h2><div class="grid"><div>'
        f"<p><b>Probability {risk['probability'] * 100:.1f}%</b> "
        f"({f'{confidence * 100:.0f}% ' if confidence else ''}interval "
        f"{interval['lower'] * 100:.1f}-{interval['upper'] * 100:.1f}%){review}<br>"
        f'<span class="small">model {_e(risk["model_id"])}</span></p>'
        + _table(
            ["feature", "value", "contribution"],
            [
                [_e(c["feature"]), _e(c.get("value", "")), f"{c['contribution']:+.3f}"]
                for c in risk["top_contributors"]
            ],
        )
        + "</div>"
        + _figures(figures, ["shap_waterfall"], "shap")
        + "</div></section>"
    )


def _status(physician: Mapping[str, Any]) -> str:
    signoff = physician.get("signoff")
    if not signoff:
        return "<b>not signed</b>"
    return f"<b>{_e(signoff['status'].upper())}</b> ({_e(signoff['reader'])}, {_e(signoff['time_utc'])})"


def _physician_impression(physician: Mapping[str, Any]) -> str:
    text = physician.get("impression")
    return f"<h2>Physician impression</h2><p><b>{_e(text)}</b></p>" if text else ""


def _change_text(change: Mapping[str, Any]) -> str:
    return f"{change['target']}: {change['before']} -> {change['after']}"


def _physician_section(physician: Mapping[str, Any]) -> str:
    """Sign-off (reader, time, status), free text, amendments and addenda with their changes."""
    signoff = physician.get("signoff")
    if signoff:
        status = "FINAL" if signoff["status"] == "final" else "PRELIMINARY"
        sign = (
            f'<p class="signoff"><b>{status}</b>, signed by {_e(signoff["reader"])}'
            + (f" ({_e(signoff['organization'])})" if signoff.get("organization") else "")
            + f" at {_e(signoff['time_utc'])}"
            + (" &mdash; locked; later changes are addenda" if status == "FINAL" else "")
            + "</p>"
        )
    else:
        sign = '<p class="signoff"><b>Not signed</b> (preliminary automated report)</p>'
    rows = []
    for number, entry in enumerate(physician["amendments"], start=1):
        kind = "Addendum" if entry.get("kind") == "addendum" else "Amendment"
        parts = [_e(entry["text"])] if entry["text"] else []
        parts += [_e(_change_text(c)) for c in entry.get("changes") or []]
        parts += [f"remark: {_e(r)}" for r in entry["overrides"]]
        if entry.get("sr"):
            parts.append(f"new SR {_e(entry['sr'])}")
        rows.append(
            [f"{kind} {number}", _e(entry["time_utc"]), _e(entry["user"]), "<br>".join(parts)]
        )
    text = _e(physician["free_text"]) or "<i>No physician text yet.</i>"
    return (
        "<section><h2>Physician</h2>"
        + sign
        + f"<p>{text}</p>"
        + (_table(["", "time (UTC)", "by", "change"], rows, left=4) if rows else "")
        + "</section>"
    )


def render_html(report: Mapping[str, Any], figures: Mapping[str, bytes]) -> str:
    """The report page as one HTML string.

    Parameters
    ----------
    report
        A report dict that validates against the report schema.
    figures
        ``{name: PNG bytes}``; known names are listed in :data:`FIGURE_TITLES`.
    """
    study = report["study"]
    narrative = report["narrative"]
    physician = report["physician"]
    flags = [f"[{f['stage']}] {f['message']}" for f in report["quality_flags"]]
    failed = [f"{f['item']} ({f['stage']}): {f['error']}" for f in report["failed"]]
    sections = [
        "<header><h1>cardiolens report</h1>"
        f'<div class="meta">Study {_e(study["study_uid"])} | patient {_e(study.get("patient_id", ""))} '
        f"| date {_e(study.get('study_date', ''))} | analyses: {_e(', '.join(study['analyses']) or 'none')} "
        f"| report {_e(report['report_id'])} | {_status(physician)}</div></header>",
        '<section class="impression">'
        + _physician_impression(physician)
        + f"<h2>{'Automated impression' if physician.get('impression') else 'Impression'}</h2>"
        + _list(narrative["impression"])
        + "<h2>Findings</h2>"
        + _list(narrative["findings"])
        + "</section>",
        context_section(report),
    ]
    if report.get("nuclear"):
        sections.append(_nuclear_section(report["nuclear"], figures))
    if report.get("pet_flow"):
        sections.append(_pet_flow_section(report["pet_flow"], figures))
    if report.get("calcium"):
        sections.append(_calcium_section(report["calcium"], figures))
    if report.get("risk"):
        sections.append(_risk_section(report["risk"], figures))
    sections += [
        "<section><h2>Quality control</h2>" + _list(flags, "flag") + "</section>",
        "<section><h2>Not analysed</h2>" + _list(failed, "failed") + "</section>",
        _physician_section(physician),
        provenance_section(report["provenance"]),
        '<p class="small">Automated analysis for review by a qualified physician. References: '
        + " ".join(_e(r) for r in narrative["references"])
        + "</p>",
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>cardiolens report {_e(study['study_uid'])}</title><style>{_CSS}</style></head>"
        f'<body data-images-loaded="pending">{"".join(sections)}<script>{_SCRIPT}</script></body></html>'
    )


def write_html(path: str | Path, report: Mapping[str, Any], figures: Mapping[str, bytes]) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    write_text_atomic(path, render_html(report, figures))
    return path
