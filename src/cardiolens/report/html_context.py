"""Context and provenance blocks of the report page: patient, protocol, normal database,
and the provenance as key-value tables (input hashes folded into one digest line).

The digest of the inputs is the SHA-256 of the manifest ``"<sha256>  <path>\\n"`` per
input sorted by path (the format of ``sha256sum``), so a reader can recompute it
with ``sha256sum`` over the listed files (:func:`inputs_digest`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from cardiolens.report.html_parts import e, key_values, number, table

__all__ = ["context_section", "inputs_digest", "provenance_section"]

_PATIENT_LABELS = (
    ("age_years", "Age (years)"),
    ("sex", "Sex"),
    ("height_cm", "Height (cm)"),
    ("weight_kg", "Weight (kg)"),
    ("bmi_kg_m2", "BMI (kg/m2)"),
    ("indication", "Indication"),
    ("stress_type", "Stress type"),
    ("stress_agent", "Stress agent"),
)
_ACQUISITION_COLUMNS = (
    ("series", "series"),
    ("modality", "modality"),
    ("camera", "camera / scanner"),
    ("radiopharmaceutical", "tracer"),
    ("radionuclide", "nuclide"),
    ("injected_mbq", "injected MBq"),
    ("stress_agent", "stress agent"),
    ("gates", "gates"),
    ("collimator", "collimator"),
    ("reconstruction", "reconstruction"),
    ("attenuation_correction", "AC"),
    ("scatter_correction", "SC"),
    ("kvp", "kV"),
    ("tube_current_ma", "mA"),
    ("slice_thickness_mm", "slice mm"),
    ("ctdi_vol_mgy", "CTDIvol mGy"),
)


def _patient(study: Mapping[str, Any]) -> str:
    patient = study.get("patient") or {}
    values, sources = patient.get("values") or {}, patient.get("sources") or {}
    rows = [
        (label, None if key not in values else f"{values[key]} ({sources.get(key, '-')})")
        for key, label in _PATIENT_LABELS
    ]
    block = key_values(rows)
    return (
        f"<div><b>Patient</b>{block}</div>"
        if block
        else (
            '<div><b>Patient</b><p class="small">No age, sex, height, weight or indication in the '
            "headers; pass them with --clinical.</p></div>"
        )
    )


def _acquisitions(acquisitions: Sequence[Mapping[str, Any]]) -> str:
    if not acquisitions:
        return ""
    columns = [(k, label) for k, label in _ACQUISITION_COLUMNS if any(k in a for a in acquisitions)]
    rows = [
        [number(a.get(k), 0) if k == "injected_mbq" else e(a.get(k, "-")) for k, _ in columns]
        for a in acquisitions
    ]
    return (
        "<div><b>Protocol (from the DICOM headers)</b>"
        + table([label for _, label in columns], rows)
        + "</div>"
    )


def _mapping_rows(mapping: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Readable rows of a flat or nested mapping: nested keys joined, lists by commas."""
    rows: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        label = str(key).replace("_", " ")
        if isinstance(value, Mapping):
            rows += [(f"{label}: {k}", v) for k, v in _mapping_rows(value)]
        elif isinstance(value, list | tuple):
            if all(not isinstance(v, Mapping) for v in value):
                rows.append((label, ", ".join(str(v) for v in value)))
            else:
                rows.append((label, f"{len(value)} entries"))
        else:
            rows.append((label, value))
    return rows


def _normal_database(nuclear: Mapping[str, Any], flags: Sequence[Mapping[str, Any]]) -> str:
    database = nuclear.get("normal_database")
    if not database:
        return ""
    warnings = [
        f for f in flags if f.get("code", "").startswith("normals_") and f.get("severity") != "info"
    ]
    alert = "".join(f'<p class="flag">&#9888; {e(f["message"])}</p>' for f in warnings)
    return "<div><b>Normal database</b>" + alert + key_values(_mapping_rows(database)) + "</div>"


def _stage_keys(nuclear: Mapping[str, Any]) -> str:
    blocks = []
    for key, title in (("protocol", "Nuclear protocol"), ("orientation", "Orientation")):
        value = nuclear.get(key)
        rows = _mapping_rows(value) if isinstance(value, Mapping) else [(key, value)]
        if value not in (None, "", {}):
            blocks.append(f"<div><b>{title}</b>{key_values(rows)}</div>")
    return "".join(blocks)


def context_section(report: Mapping[str, Any]) -> str:
    """Patient, protocol and normal-database blocks (what a reader checks before signing)."""
    study = report["study"]
    nuclear = report.get("nuclear") or {}
    return (
        '<section><h2>Patient and protocol</h2><div class="grid">'
        + _patient(study)
        + _acquisitions(study.get("acquisitions") or [])
        + _stage_keys(nuclear)
        + _normal_database(nuclear, report.get("quality_flags") or [])
        + "</div></section>"
    )


def inputs_digest(inputs: Sequence[Mapping[str, str]]) -> str:
    """SHA-256 of the ``sha256sum`` manifest of the inputs (sorted by path)."""
    manifest = "".join(
        f"{i['sha256']}  {i['path']}\n" for i in sorted(inputs, key=lambda i: i["path"])
    )
    return hashlib.sha256(manifest.encode("utf-8")).hexdigest()


def provenance_section(provenance: Mapping[str, Any]) -> str:
    """Software, run, parameters, models and inputs as key-value tables."""
    audit = provenance.get("audit") or {}
    run = key_values(
        [
            ("cardiolens", provenance["cardiolens_version"]),
            ("Python", provenance.get("python_version")),
            ("platform", provenance.get("platform")),
            ("started (UTC)", provenance["started_utc"]),
            ("run time (s)", f"{provenance['run_time_s']:.1f}"),
            ("audit log", audit.get("db")),
        ]
    )
    parameters = key_values(_mapping_rows(provenance.get("parameters") or {}) or [("-", "-")])
    libraries = key_values(sorted((provenance.get("libraries") or {}).items()))
    times = key_values(
        (f"{stage} (s)", f"{seconds:.1f}")
        for stage, seconds in (provenance.get("stage_times_s") or {}).items()
    )
    models = (
        table(
            ["model", "version", "SHA-256"],
            [
                [e(m["name"]), e(m["version"]), e(m.get("sha256") or "-")]
                for m in provenance["models"]
            ],
        )
        if provenance["models"]
        else ""
    )
    inputs = provenance["inputs"]
    listing = table(
        ["input file", "SHA-256"],
        [[e(i["path"]), f'<span class="small">{e(i["sha256"])}</span>'] for i in inputs],
    )
    folded = (
        f"<details><summary>{len(inputs)} input file(s); SHA-256 of their manifest "
        f'<span class="small">{inputs_digest(inputs)}</span></summary>{listing}</details>'
    )
    return (
        '<section class="provenance"><h2>Provenance</h2><div class="grid">'
        f"<div><b>Run</b>{run}</div><div><b>Parameters</b>{parameters}</div>"
        + (f"<div><b>Libraries</b>{libraries}</div>" if libraries else "")
        + (f"<div><b>Stage times</b>{times}</div>" if times else "")
        + "</div>"
        + models
        + folded
        + "</section>"
    )
