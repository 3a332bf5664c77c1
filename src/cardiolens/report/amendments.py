"""Physician amendments, addenda and sign-off of a written report folder.

:func:`amend_folder` applies typed changes (:mod:`cardiolens.report.changes`),
recomputes what depends on them, rewrites ``report.json`` and ``report.html`` and
writes a new DICOM SR that supersedes the previous one (which is kept).
:func:`sign_folder` records the reader, time and status (preliminary or final).
A report signed final is locked: its signed content is kept in
``report.signed.json`` and a later change must be an addendum.

Both return an :class:`AuditRecord` for the caller to append to the audit log
(the audit stage comes after the report stage in the layering):
:func:`cardiolens.pipeline.amend_report` and :func:`cardiolens.pipeline.sign_report`
do both in one call.
"""

from __future__ import annotations

import copy
import hashlib
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardiolens.core.errors import ParameterError
from cardiolens.report.changes import Change, apply_changes
from cardiolens.report.document import (
    REPORT_JSON,
    load_figure_data,
    load_figures,
    load_report,
    resolve_audit_db,
    write_report,
)
from cardiolens.report.figures import CalciumOverlaySource, calcium_overlay_from_report

__all__ = [
    "SIGNED_JSON",
    "STATUSES",
    "AuditRecord",
    "FolderUpdate",
    "amend_folder",
    "check_unlocked",
    "latest_sr",
    "sign_folder",
]

SIGNED_JSON = "report.signed.json"
"""The report as signed final (kept unchanged by later addenda)."""
STATUSES = ("preliminary", "final")
_FIRST_SR = "sr.dcm"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class AuditRecord:
    """The audit-log entry an update asks for (see :meth:`cardiolens.audit.AuditLog.append`)."""

    action: str
    user: str
    input_hashes: dict[str, str]
    output_hashes: dict[str, str]
    overrides: list[Any] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FolderUpdate:
    """What an amendment or sign-off wrote.

    Attributes
    ----------
    data
        The new report dict (as in ``report.json``).
    json_path, html_path
        The rewritten ``report.json`` and ``report.html``.
    sr_path
        The new DICOM SR, or None when the report has no SR (non-DICOM input).
    audit_db
        The report's audit log (recorded path resolved against the folder).
    audit
        The entry to append to it.
    """

    data: dict[str, Any]
    json_path: Path
    html_path: Path
    sr_path: Path | None
    audit_db: Path
    audit: AuditRecord


def latest_sr(out_dir: str | Path, data: Mapping[str, Any]) -> Path | None:
    """The current SR of a report folder: the last one written, or ``sr.dcm``; None if none."""
    folder = Path(out_dir)
    names = [_FIRST_SR, *(data["physician"].get("sr_files") or [])]
    present = [folder / name for name in names if (folder / name).is_file()]
    return present[-1] if present else None


def _new_sr(folder: Path, data: dict[str, Any]) -> Path | None:
    """Write the SR superseding the current one (``sr_v<N>.dcm``) and record its name."""
    from cardiolens.report.dicom_sr import supersede_measurement_report

    previous = latest_sr(folder, data)
    if previous is None:
        return None
    files = data["physician"].setdefault("sr_files", [])
    path = folder / f"sr_v{len(files) + 2}.dcm"
    files.append(path.name)
    return supersede_measurement_report(path, data, previous)


def check_unlocked(data: Mapping[str, Any], *, addendum: bool) -> None:
    """Refuse an amendment of a report signed final, and an addendum to one that is not."""
    signoff = data["physician"].get("signoff")
    final = bool(signoff) and signoff["status"] == "final"
    if final and not addendum:
        raise ParameterError(
            f"the report was signed final by {signoff['reader']} at {signoff['time_utc']} and "
            "is locked; a later change is an addendum (--addendum)"
        )
    if addendum and not final:
        raise ParameterError("an addendum follows a final sign-off; this report is not final")


def amend_folder(
    out_dir: str | Path,
    *,
    user: str,
    text: str = "",
    changes: Sequence[Change] = (),
    remarks: Sequence[str] = (),
    addendum: bool = False,
    time_utc: datetime | None = None,
) -> FolderUpdate:
    """Amend the report in ``out_dir``: typed changes recomputed, text and remarks recorded.

    Parameters
    ----------
    out_dir
        A report folder (``cardiolens analyze --out``), wherever it now is.
    user
        The physician making the change.
    text
        Physician's free text (becomes ``physician.free_text``).
    changes
        Typed changes (:class:`~cardiolens.report.changes.SegmentScore`,
        :class:`~cardiolens.report.changes.LesionExclusion`,
        :class:`~cardiolens.report.changes.LesionArtery`,
        :class:`~cardiolens.report.changes.Impression`); SSS/SRS/SDS, calcium
        totals, per-artery scores, CAC-DRS and the narrative are recomputed.
    remarks
        Untyped remarks such as "rejected automated segmentation" (recorded only).
    addendum
        Required (True) once the report is signed final; the change is then an
        addendum and ``report.signed.json`` keeps the signed content.
    time_utc
        Time of the amendment (default now).

    Raises
    ------
    ParameterError
        No user, nothing to record, an invalid change, or a locked report.
    """
    if not user.strip():
        raise ParameterError("an amendment needs the user's name (--user)")
    if not text.strip() and not changes and not remarks:
        raise ParameterError("an amendment needs text, a change or a remark")
    folder = Path(out_dir)
    data = load_report(folder)
    check_unlocked(data, addendum=addendum)
    previous_json = _sha256(folder / REPORT_JSON)
    amended, records = apply_changes(data, changes)
    moment = (time_utc or datetime.now(UTC)).isoformat(timespec="seconds")
    entry: dict[str, Any] = {
        "time_utc": moment,
        "user": user,
        "text": text,
        "overrides": list(remarks),
        "kind": "addendum" if addendum else "amendment",
        "changes": records,
    }
    physician = amended["physician"]
    physician["amendments"].append(entry)
    if text.strip():
        physician["free_text"] = text
    if physician.get("signoff") and physician["signoff"]["status"] == "preliminary":
        physician["signoff"] = None  # a changed report needs a new sign-off
    sr_path = _new_sr(folder, amended)
    if sr_path is not None:
        entry["sr"] = sr_path.name
    json_path, html_path = write_report(folder, amended, _redrawn_figures(folder, amended))
    written = [json_path, html_path, *([sr_path] if sr_path else [])]
    audit = AuditRecord(
        action="addendum" if addendum else "amend",
        user=user,
        input_hashes={REPORT_JSON: previous_json},
        output_hashes={p.name: _sha256(p) for p in written},
        overrides=[*remarks, *records],
        details={"report_id": amended["report_id"], "text": text, "out_dir": str(folder.resolve())},
    )
    return FolderUpdate(
        amended, json_path, html_path, sr_path, resolve_audit_db(folder, data), audit
    )


def _redrawn_figures(folder: Path, data: dict[str, Any]) -> dict[str, bytes]:
    """The folder's figures, the calcium overlay redrawn with the report's current lesion
    arteries and exclusions. An overlay that cannot be redrawn (a report written before
    its source was kept) is dropped, with an info flag, rather than left showing the
    automated assignment."""
    figures = load_figures(folder)
    if "calcium_overlay" not in figures or not data.get("calcium"):
        return figures
    source = load_figure_data(folder, "calcium_overlay")
    try:
        if source is None:
            raise ValueError("its source was not kept")
        overlay = CalciumOverlaySource.from_npz(source)
        figures["calcium_overlay"] = calcium_overlay_from_report(overlay, data["calcium"])
    except (ValueError, KeyError, OSError) as error:
        del figures["calcium_overlay"]
        message = f"calcium overlay removed: it cannot be redrawn after the amendment ({error})"
        flags = data["quality_flags"]
        if not any(f["message"] == message for f in flags):
            flags.append({"stage": "report", "severity": "info", "message": message})
    return figures


def sign_folder(
    out_dir: str | Path,
    *,
    reader: str,
    status: str,
    organization: str | None = None,
    time_utc: datetime | None = None,
) -> FolderUpdate:
    """Sign the report in ``out_dir``: reader, time and status (preliminary or final).

    A final sign-off locks the report: ``report.signed.json`` keeps the signed
    content and later changes must be addenda (:func:`amend_folder`). The new SR
    is marked FINAL, and VERIFIED with the reader as verifying observer when
    ``organization`` is given.
    """
    if not reader.strip():
        raise ParameterError("a sign-off needs the reader's name (--reader)")
    if status not in STATUSES:
        raise ParameterError(f"sign-off status must be preliminary or final; got {status!r}")
    folder = Path(out_dir)
    data = load_report(folder)
    current = data["physician"].get("signoff")
    if current and current["status"] == "final":
        raise ParameterError(
            f"the report was already signed final by {current['reader']} at "
            f"{current['time_utc']}; a later change is an addendum"
        )
    previous_json = _sha256(folder / REPORT_JSON)
    signed = copy.deepcopy(data)
    signoff: dict[str, Any] = {
        "reader": reader,
        "time_utc": (time_utc or datetime.now(UTC)).isoformat(timespec="seconds"),
        "status": status,
    }
    if organization:
        signoff["organization"] = organization
    signed["physician"]["signoff"] = signoff
    sr_path = _new_sr(folder, signed)
    if sr_path is not None:
        signoff["sr"] = sr_path.name
    json_path, html_path = write_report(folder, signed, load_figures(folder))
    written = [json_path, html_path, *([sr_path] if sr_path else [])]
    if status == "final":
        written.append(Path(shutil.copyfile(json_path, folder / SIGNED_JSON)))
    audit = AuditRecord(
        action="sign",
        user=reader,
        input_hashes={REPORT_JSON: previous_json},
        output_hashes={p.name: _sha256(p) for p in written},
        details={
            "report_id": signed["report_id"],
            "status": status,
            "out_dir": str(folder.resolve()),
        },
    )
    return FolderUpdate(
        signed, json_path, html_path, sr_path, resolve_audit_db(folder, data), audit
    )
