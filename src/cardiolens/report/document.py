"""The report on disk: ``report.json`` (validated), its figures and ``report.html``."""

from __future__ import annotations

import json
import os
import shutil
import time
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
    "STAGING_PREFIX",
    "Report",
    "audit_reference",
    "load_figure_data",
    "load_figures",
    "load_report",
    "publish_report",
    "remove_stale_staging",
    "resolve_audit_db",
    "write_report",
]

SCHEMA_VERSION = "1.0"
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
FIGURES_DIR = "figures"
#: Name prefix of the hidden folder a report is staged in before it is moved into place.
STAGING_PREFIX = ".report-"
#: A staging folder untouched this long (s) was left by a killed run: writing a report is
#: a matter of seconds, so an older one is no run in progress.
STALE_STAGING_S = 600.0
#: What a staging folder holds (report, figures and their data, SR/SEG): a folder with
#: anything else is not cardiolens's and is never removed.
_STAGED_SUFFIXES = {".json", ".html", ".png", ".npz", ".dcm"}


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


def _staged_entry(path: Path) -> bool:
    """A folder or a report file, not a link or anything else (see :func:`remove_stale_staging`)."""
    if path.is_symlink():
        return False
    return path.is_dir() or (path.is_file() and path.suffix in _STAGED_SUFFIXES)


def remove_stale_staging(
    out_dir: str | Path, *, older_than_s: float = STALE_STAGING_S
) -> list[Path]:
    """Remove the staging folders (``.report-*``) a killed run left in ``out_dir``.

    Only real folders (no symbolic link is followed or removed) untouched for
    ``older_than_s`` seconds and holding nothing but report files are removed.
    Returns the folders removed.
    """
    removed = []
    for folder in sorted(Path(out_dir).glob(f"{STAGING_PREFIX}*")):
        if folder.is_symlink() or not folder.is_dir():
            continue
        entries = [folder, *folder.rglob("*")]
        if not all(_staged_entry(entry) for entry in entries):
            continue
        newest = max(e.lstat().st_mtime for e in entries)
        if time.time() - newest < older_than_s:
            continue
        shutil.rmtree(folder)
        removed.append(folder)
    return removed


def publish_report(staging: str | Path, out_dir: str | Path) -> None:
    """Move every file of a report staged in ``staging`` into ``out_dir``, one rename each.

    Figures (and figure data) of an earlier report that the staged one lacks are removed
    first; ``report.json`` is moved last, so that a folder holding it holds the rest.
    """
    staging, out = Path(staging), Path(out_dir)
    staged = {p.name for p in (staging / FIGURES_DIR).glob("*")}
    for stale in [*(out / FIGURES_DIR).glob("*.png"), *(out / FIGURES_DIR).glob("*.npz")]:
        if stale.name not in staged:
            stale.unlink()
    files = sorted(
        (p for p in staging.rglob("*") if p.is_file()), key=lambda p: p.name == REPORT_JSON
    )
    for path in files:
        target = out / path.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)


def write_report(
    out_dir: str | Path,
    data: Mapping[str, Any],
    figures: Mapping[str, bytes],
    figure_data: Mapping[str, bytes] | None = None,
) -> tuple[Path, Path]:
    """Validate ``data``, write ``report.json``, the figures (PNG) and ``report.html``.

    ``figure_data`` holds what a figure is drawn from (``figures/<name>.npz``, for
    example :class:`~cardiolens.report.figures.CalciumOverlaySource`), kept so that
    an amendment can redraw it; the data of a figure no longer written is removed.

    Returns
    -------
    tuple of Path
        ``(report.json, report.html)``.
    """
    out = Path(out_dir)
    validate_report(dict(data))
    remove_stale_staging(out)
    figure_dir = out / FIGURES_DIR
    figure_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*figure_dir.glob("*.png"), *figure_dir.glob("*.npz")]:
        if stale.stem not in figures:  # figures of an earlier report in this folder
            stale.unlink()
    for name, png in figures.items():
        write_bytes_atomic(figure_dir / f"{name}.png", png)
    for name, blob in (figure_data or {}).items():
        write_bytes_atomic(figure_dir / f"{name}.npz", blob)
    json_path = out / REPORT_JSON
    write_text_atomic(json_path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    html_path = write_html(out / REPORT_HTML, data, figures)
    return json_path, html_path


def load_figures(out_dir: str | Path) -> dict[str, bytes]:
    """The figures written by :func:`write_report`, ``{name: PNG bytes}``."""
    folder = Path(out_dir) / FIGURES_DIR
    return {path.stem: path.read_bytes() for path in sorted(folder.glob("*.png"))}


def load_figure_data(out_dir: str | Path, name: str) -> bytes | None:
    """What figure ``name`` was drawn from (``figures/<name>.npz``), or None."""
    path = Path(out_dir) / FIGURES_DIR / f"{name}.npz"
    return path.read_bytes() if path.is_file() else None


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
