"""The report on disk: ``report.json`` (validated), its figures and ``report.html``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardiolens.core.errors import InputError, naming_file
from cardiolens.io.atomic import write_bytes_atomic, write_text_atomic
from cardiolens.report.html import write_html
from cardiolens.report.schema import validate_report

__all__ = [
    "FIGURES_DIR",
    "REPORT_HTML",
    "REPORT_JSON",
    "SCHEMA_VERSION",
    "Report",
    "audit_reference",
    "load_figures",
    "load_report",
    "resolve_audit_db",
    "write_report",
]

SCHEMA_VERSION = "1.0"
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
FIGURES_DIR = "figures"


@dataclass(frozen=True)
class Report:
    """A written report: its data (the content of ``report.json``) and the files made.

    Attributes
    ----------
    data
        The report dict, valid against the report schema.
    out_dir
        Folder holding every output.
    json_path, html_path
        ``report.json`` and ``report.html``.
    sr_path
        DICOM SR measurement report, or None when no DICOM source was analysed.
    seg_paths
        DICOM SEG files (LV myocardium, calcium lesions), possibly empty.
    audit_db
        The audit log holding this run's entry.
    """

    data: dict[str, Any]
    out_dir: Path
    json_path: Path
    html_path: Path
    sr_path: Path | None
    seg_paths: tuple[Path, ...]
    audit_db: Path | None


def write_report(
    out_dir: str | Path, data: Mapping[str, Any], figures: Mapping[str, bytes]
) -> tuple[Path, Path]:
    """Validate ``data``, write ``report.json``, the figures (PNG) and ``report.html``.

    Returns
    -------
    tuple of Path
        ``(report.json, report.html)``.
    """
    out = Path(out_dir)
    validate_report(dict(data))
    figure_dir = out / FIGURES_DIR
    figure_dir.mkdir(parents=True, exist_ok=True)
    for stale in figure_dir.glob("*.png"):  # figures of an earlier report in this folder
        if stale.stem not in figures:
            stale.unlink()
    for name, png in figures.items():
        write_bytes_atomic(figure_dir / f"{name}.png", png)
    json_path = out / REPORT_JSON
    write_text_atomic(json_path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    html_path = write_html(out / REPORT_HTML, data, figures)
    return json_path, html_path


def load_figures(out_dir: str | Path) -> dict[str, bytes]:
    """The figures written by :func:`write_report`, ``{name: PNG bytes}``."""
    folder = Path(out_dir) / FIGURES_DIR
    return {path.stem: path.read_bytes() for path in sorted(folder.glob("*.png"))}


def load_report(out_dir: str | Path) -> dict[str, Any]:
    """Read and validate ``report.json`` from a report folder."""
    path = Path(out_dir) / REPORT_JSON
    if not path.is_file():
        raise InputError(
            "no report.json here; pass the folder given to 'cardiolens analyze --out'", path=path
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError is a ValueError
        raise InputError(f"report.json is not valid JSON ({str(error)[:160]})", path=path) from None
    with naming_file(path):
        validate_report(data)
    return data


def audit_reference(out_dir: str | Path, audit_db: str | Path) -> str:
    """How a report records its audit log: relative to the report folder when inside it.

    A log inside the report folder (the default ``audit.sqlite``) is stored by its
    path relative to the folder, so a moved or copied folder keeps using its own
    log; a log elsewhere is stored as an absolute path.
    """
    out = Path(out_dir).resolve()
    db = Path(audit_db).resolve()
    try:
        return db.relative_to(out).as_posix()
    except ValueError:
        return str(db)


def resolve_audit_db(out_dir: str | Path, data: Mapping[str, Any]) -> Path:
    """The audit log of the report in ``out_dir``: its recorded path, resolved against
    the report folder when relative (default ``audit.sqlite`` in the folder)."""
    recorded = (data.get("provenance", {}).get("audit") or {}).get("db") or "audit.sqlite"
    path = Path(recorded)
    if path.is_absolute():
        return path
    folder = Path(out_dir).resolve()
    inside = folder / path
    # reports before this rule stored the path relative to the working directory
    legacy = folder / path.name
    return legacy if not inside.exists() and legacy.exists() else inside
