"""Self-contained, printable ``report.html``: every image embedded as base64 PNG.

The page reads from the report dict (the same numbers as ``report.json``) and the
figures written beside it; nothing is fetched from the network. A small script sets
``data-images-loaded="true"`` on ``<body>`` once every image has decoded, which the
headless-browser test checks.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["FIGURE_TITLES", "render_html", "write_html"]

FIGURE_TITLES: dict[str, str] = {
    "bullseye_stress": "Stress perfusion",
    "bullseye_rest": "Rest perfusion",
    "bullseye_reversibility": "Reversibility (rest - stress)",
    "slices_stress": "Stress slices with myocardial contours",
    "slices_rest": "Rest slices with myocardial contours",
    "volume_curve_stress": "Stress LV volume curve",
    "volume_curve_rest": "Rest LV volume curve",
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
img { max-width: 100%; max-height: 330px; } .bullseye img { width: 250px; }
table { border-collapse: collapse; margin: 4px 0; } td, th { border: 1px solid #bbb;
  padding: 2px 6px; text-align: right; } th { background: #eee; } td.l, th.l { text-align: left; }
.impression { background: #f4f7fb; border-left: 4px solid #2a5db0; padding: 6px 10px; }
.review { color: #fff; background: #c0392b; padding: 1px 6px; border-radius: 3px; }
.flag { color: #8a5300; } .failed { color: #a00; } .small { font-size: 10px; color: #555; }
@media print { @page { size: A4; margin: 10mm; } body { margin: 0; font-size: 9px; }
  .grid { break-inside: avoid; } img { max-height: 190px; } .bullseye img { width: 180px; } }
"""

_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-images-loaded", ok ? "true" : "false");
  document.body.setAttribute("data-image-count", String(images.length));
});
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _e(value)
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], left: int = 1) -> str:
    head = "".join(
        f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"l" if i < left else ""}">{cell}</td>' for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


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
        "<section><h2>Myocardial perfusion and function</h2>"
        '<div class="grid">'
        + _figures(
            figures, ["bullseye_stress", "bullseye_rest", "bullseye_reversibility"], "bullseye"
        )
        + f"<div>{table}{combined}{segments}</div></div>"
        + _figures(
            figures, ["slices_stress", "slices_rest", "volume_curve_stress", "volume_curve_rest"]
        )
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
                _e(lesion["artery"] or "-"),
                _number(lesion["agatston"]),
                _number(lesion["volume_mm3"]),
                _number(lesion["mass_mg"]),
                _number(lesion.get("mass_integrated_mg")),
                _number(lesion["peak_hu"], 0),
                '<span class="review">review</span>' if lesion["needs_review"] else "",
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
        f'<p class="small">Mass calibration: {_e(calibration)}</p>' if calibration else ""
    )
    return (
        "<section><h2>Coronary artery calcium</h2>"
        f'<div class="grid"><div>{totals}{per_artery}{eat_text}{calibration_text}</div>'
        + _figures(figures, ["calcium_overlay"])
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
        + _figures(figures, ["shap_waterfall"])
        + "</div></section>"
    )


def _list(items: Iterable[str], css_class: str = "") -> str:
    entries = "".join(f'<li class="{css_class}">{_e(i)}</li>' for i in items)
    return f"<ul>{entries}</ul>" if entries else "<p>None.</p>"


def _provenance_section(provenance: Mapping[str, Any]) -> str:
    models = _table(
        ["model", "version", "SHA-256"],
        [
            [_e(m["name"]), _e(m["version"]), _e(m.get("sha256") or "-")]
            for m in provenance["models"]
        ],
    )
    inputs = _table(
        ["input file", "SHA-256"],
        [
            [_e(i["path"]), f'<span class="small">{_e(i["sha256"])}</span>']
            for i in provenance["inputs"]
        ],
    )
    audit = provenance.get("audit") or {}
    return (
        "<section><h2>Provenance</h2>"
        f"<p>cardiolens {_e(provenance['cardiolens_version'])}; "
        f"Python {_e(provenance.get('python_version', '-'))}; "
        f"started {_e(provenance['started_utc'])}; run time {provenance['run_time_s']:.1f} s; "
        f"audit log {_e(audit.get('db', '-'))}</p>"
        f'<p class="small">Parameters: {_e(provenance["parameters"])}</p>'
        + (models if provenance["models"] else "")
        + inputs
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
    amendments = [
        f"{a['time_utc']} {a['user']}: {a['text']}"
        + (f" [overrides: {'; '.join(a['overrides'])}]" if a["overrides"] else "")
        for a in physician["amendments"]
    ]
    sections = [
        "<header><h1>cardiolens report</h1>"
        f'<div class="meta">Study {_e(study["study_uid"])} | patient {_e(study.get("patient_id", ""))} '
        f"| date {_e(study.get('study_date', ''))} | analyses: {_e(', '.join(study['analyses']) or 'none')} "
        f"| report {_e(report['report_id'])}</div></header>",
        '<section class="impression"><h2>Impression</h2>'
        + _list(narrative["impression"])
        + "<h2>Findings</h2>"
        + _list(narrative["findings"])
        + "</section>",
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
        "<section><h2>Physician</h2>"
        f"<p>{_e(physician['free_text']) or '<i>No physician text yet.</i>'}</p>"
        + (_list(amendments) if amendments else "")
        + "</section>",
        _provenance_section(report["provenance"]),
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
    path.write_text(render_html(report, figures), encoding="utf-8")
    return path
