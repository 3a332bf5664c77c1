"""From a study folder to an audited report: every applicable stage, one call.

:func:`analyze_study` loads the study, finds what it holds (SPECT or PET stress and
rest, gated or not; calcium-scoring CT), runs the nuclear, calcium and risk stages
that apply, and writes ``report.json`` (validated against the shipped schema),
``report.html``, a DICOM SR measurement report, DICOM SEG objects and an entry in
the hash-chained audit log. A series or file that cannot be read or analysed is
listed in the report's ``failed`` section; the other series are still reported.
"""

from __future__ import annotations

import getpass
import logging
import platform
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cardiolens import __version__
from cardiolens.audit import AuditLog, sha256_file
from cardiolens.core.errors import CardiolensError, InputError
from cardiolens.core.study import Series, SeriesRole, Study
from cardiolens.core.volume import Volume
from cardiolens.report import figures as fig
from cardiolens.report.dicom_seg import SegmentMask
from cardiolens.report.document import (
    REPORT_JSON,
    SCHEMA_VERSION,
    Report,
    add_amendment,
    load_figures,
    load_report,
    write_report,
)
from cardiolens.report.narrative import build_narrative

__all__ = ["AUDIT_DB_NAME", "amend_report", "analyze_study", "imaging_features"]

logger = logging.getLogger(__name__)

AUDIT_DB_NAME = "audit.sqlite"


@dataclass
class _Outputs:
    """What the stages produce for the report."""

    nuclear: dict[str, Any] | None = None
    calcium: dict[str, Any] | None = None
    risk: dict[str, Any] | None = None
    figures: dict[str, bytes] = field(default_factory=dict)
    flags: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    masks: list[SegmentMask] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    stage_times_s: dict[str, float] = field(default_factory=dict)
    sources: dict[str, Series] = field(default_factory=dict)
    companions: list[str] = field(default_factory=list)

    def flag(self, stage: str, message: str, severity: str = "warning", code: str = "") -> None:
        entry = {"stage": stage, "severity": severity, "message": message}
        if code:
            entry["code"] = code
        self.flags.append(entry)

    def fail(self, item: str, stage: str, error: str) -> None:
        logger.warning("%s failed for %s: %s", stage, item, error)
        self.failed.append({"item": item, "stage": stage, "error": error})

    def stage_flags(self, stage: str, flags: Sequence[Any]) -> None:
        """Copy a stage's own quality flags (strings or dicts) into the report's list."""
        for item in flags:
            if isinstance(item, Mapping):
                message = str(item.get("message") or item.get("code"))
                severity = str(item.get("severity", "warning"))
                severity = severity if severity in ("info", "warning", "error") else "warning"
                self.flag(stage, message, severity, str(item.get("code", "")))
            else:
                self.flag(stage, str(item))


@contextmanager
def _timed(outputs: _Outputs, stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        outputs.stage_times_s[stage] = round(time.perf_counter() - start, 3)


# ---------------------------------------------------------------- nuclear stage
def _nuclear_figures(nuclear: Mapping[str, Any], result: Any, outputs: _Outputs) -> None:
    """Bull's-eyes from the 17 segment values, oblique slices with contours, volume curves."""
    for name in ("stress", "rest"):
        state = nuclear.get(name)
        if state is not None:
            outputs.figures[f"bullseye_{name}"] = fig.bullseye_png(
                state["segments"], title=f"{name.capitalize()} uptake (% of max)"
            )
    if nuclear.get("stress") and nuclear.get("rest"):
        difference = np.subtract(nuclear["rest"]["segments"], nuclear["stress"]["segments"])
        outputs.figures["bullseye_reversibility"] = fig.bullseye_png(
            difference,
            title="Reversibility (rest - stress)",
            vmin=-30,
            vmax=30,
            cmap="RdBu_r",
            unit="percentage points",
        )
    for name in ("stress", "rest"):
        state_result = getattr(result, name)
        if state_result is None:
            continue
        outputs.figures[f"slices_{name}"] = fig.slice_panels_png(
            _cardiac_views(state_result), suptitle=f"{name.capitalize()}", cmap="hot"
        )
        function = state_result.function
        if function is not None and len(function.cavity_volume_ml) > 1:
            outputs.figures[f"volume_curve_{name}"] = fig.volume_curve_png(
                function.cavity_volume_ml, title=f"{name.capitalize()} LV volume curve"
            )


def _cardiac_views(state: Any) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Apical, mid and basal short-axis slices and the mid long-axis slices with contours.

    The image and the myocardium mask are resliced along the LV axes the nuclear
    stage found (:func:`cardiolens.nuclear.reorient.reslice`).
    """
    from cardiolens.nuclear.reorient import View, reslice

    mask = state.myocardium_mask()
    mask = mask.with_array(mask.array.astype(np.float32))
    panels = []
    for view in (View.SHORT_AXIS, View.VERTICAL_LONG_AXIS, View.HORIZONTAL_LONG_AXIS):
        image = reslice(state.volume, state.axes, view).array
        contour = reslice(mask, state.axes, view).array > 0.5
        present = np.flatnonzero(contour.reshape(contour.shape[0], -1).any(axis=1))
        if present.size == 0:
            continue
        if view == View.SHORT_AXIS:
            picks = np.quantile(present, [0.2, 0.5, 0.8]).round().astype(int)
            labels = ("SA apical", "SA mid", "SA basal")
        else:
            picks = [int(np.median(present))]
            labels = ("VLA" if view == View.VERTICAL_LONG_AXIS else "HLA",)
        panels += [(label, image[k], contour[k]) for label, k in zip(labels, picks, strict=True)]
    return panels


def _clinical_sex(clinical: Mapping[str, Any] | None) -> str | None:
    from cardiolens.nuclear.protocols import clinical_sex

    return clinical_sex(dict(clinical or {}))


def _run_nuclear(
    study: Study, outputs: _Outputs, normals_path: Path | None, sex: str | None = None
) -> None:
    from cardiolens.nuclear.series import select_perfusion_inputs

    inputs = select_perfusion_inputs(study)
    stress, rest = inputs.stress, inputs.rest
    if stress is None and rest is None:
        return
    from cardiolens.nuclear.analysis import analyze_perfusion
    from cardiolens.nuclear.normals import NormalDatabase

    normals = None if normals_path is None else NormalDatabase.load(normals_path)
    outputs.companions += [s.series_uid for s in inputs.series()]
    try:
        result = analyze_perfusion(stress=stress, rest=rest, normals=normals, sex=sex)
    except CardiolensError as error:
        if stress is None or rest is None:
            outputs.fail((stress or rest).series_uid, "nuclear", str(error))
            return
        logger.warning("stress and rest together failed (%s); trying each alone", error)
        result = None
        for name, series in (("rest", rest), ("stress", stress)):
            try:
                alone = analyze_perfusion(**{name: series}, normals=normals, sex=sex)
            except CardiolensError as alone_error:
                outputs.fail(series.series_uid, "nuclear", str(alone_error))
                continue
            if result is None:
                result = alone
            else:
                outputs.fail(series.series_uid, "nuclear", f"not combined with rest: {error}")
    if result is None:
        return
    nuclear = result.to_json()
    for choice in {id(c): c for c in result.databases.values()}.values():
        database = choice.database.describe()
        outputs.models.append(
            {
                "name": f"nuclear normal database {choice.key}",
                "version": "{sex}/{camera}/{tracer}/{protocol}, {n_studies} studies".format(
                    **database
                ),
                "sha256": sha256_file(normals_path or choice.path),
            }
        )
    nuclear.setdefault("stress", None)
    nuclear.setdefault("rest", None)
    outputs.nuclear = nuclear
    for name in ("stress", "rest"):
        state = nuclear[name]
        if state is not None:
            outputs.stage_flags(f"nuclear/{name}", state.get("quality_flags", []))
    if nuclear["stress"] is None and stress is None:
        outputs.flag(
            "nuclear",
            "stress images are absent: ischemia (SDS), TID and reversibility cannot be assessed",
            severity="info",
            code="stress_absent",
        )
    elif nuclear["stress"] is None:
        outputs.flag(
            "nuclear",
            "the stress images could not be analysed (see 'Not analysed'): ischemia, SDS and "
            "TID cannot be assessed",
            code="stress_failed",
        )
    # DICOM outputs reference the summed (3D) series when there is one: its frames
    # map one-to-one onto the slices the mask was computed on.
    references = {
        "stress": inputs.source("stress"),
        "rest": inputs.source("rest"),
    }
    for name, source in references.items():
        state_result = getattr(result, name)
        if state_result is None:
            continue
        outputs.sources[name] = source
        mask = state_result.myocardium_mask()
        if np.any(mask.array):
            outputs.masks.append(SegmentMask(f"LV myocardium ({name})", "myocardium", mask, source))
    _nuclear_figures(nuclear, result, outputs)


# ---------------------------------------------------------------- calcium stage
def _run_calcium(study: Study, outputs: _Outputs, *, phantom: bool) -> None:
    candidates = study.by_role(SeriesRole.CT_CALCIUM)
    if not candidates:
        return
    from cardiolens.ct.score import score_calcium

    for series in candidates[:1]:
        try:
            result = score_calcium(series.volume, phantom=phantom)
        except CardiolensError as error:
            hint = "" if phantom else " (for a calcium phantom scan use --calcium-phantom)"
            outputs.fail(series.series_uid, "calcium", f"{error}{hint}")
            continue
        calcium = result.to_json()
        outputs.calcium = calcium
        outputs.sources["calcium"] = series
        outputs.stage_flags("calcium", calcium.get("quality_flags", []))
        labels = _lesion_label_volume(result, series)
        artery = {
            lesion.lesion_id: None if lesion.artery is None else lesion.artery.value
            for lesion in result.lesions
        }
        centroids = {
            lesion.lesion_id: tuple(series.volume.physical_to_index(lesion.centroid_mm)[0])
            for lesion in result.lesions
        }
        if result.lesions:
            outputs.figures["calcium_overlay"] = fig.calcium_overlay_png(
                series.volume.array,
                artery,
                lesion_labels=None if labels is None else labels.array,
                centroids_zyx=centroids,
            )
        if labels is not None and np.any(labels.array):
            outputs.masks.append(SegmentMask("calcified lesions", "calcium", labels, series))
    for series in candidates[1:]:
        outputs.flag("calcium", f"further calcium series {series.series_uid} not scored", "info")


def _lesion_label_volume(result: Any, series: Series) -> Volume | None:
    """The calcium stage's lesion label image (value = lesion id) on the CT grid, if any."""
    labels = getattr(result, "lesion_labels", None)
    if labels is None:
        return None
    array = labels.array if isinstance(labels, Volume) else np.asarray(labels)
    if array.shape != series.volume.shape:
        return None
    return series.volume.with_array(array.astype(np.int32))


# ---------------------------------------------------------------- risk stage
def imaging_features(report: Mapping[str, Any]) -> dict[str, float]:
    """Imaging variables a risk model may use, taken from the report's sections.

    Names: ``stress_tpd_pct``, ``rest_tpd_pct``, ``ischemic_tpd_pct``, ``sss``,
    ``srs``, ``sds``, ``tid``, ``lvef_pct``, ``edv_ml``, ``esv_ml`` (post-stress gated
    function when present, else rest), ``agatston``, ``cac_volume_mm3``.
    """
    features: dict[str, float] = {}
    nuclear = report.get("nuclear") or {}
    for name, score_name in (("stress", "sss"), ("rest", "srs")):
        state = nuclear.get(name)
        if state:
            features[f"{name}_tpd_pct"] = state["tpd_pct"]
            features[score_name] = state["summed_score"]
    for key in ("sds", "ischemic_tpd_pct", "tid"):
        if nuclear.get(key) is not None:
            features[key] = nuclear[key]
    for name in ("rest", "stress"):  # stress overwrites rest
        function = (nuclear.get(name) or {}).get("function") or {}
        features.update({k: v for k, v in function.items() if v is not None})
    calcium = report.get("calcium")
    if calcium:
        features["agatston"] = calcium["agatston"]
        features["cac_volume_mm3"] = calcium["volume_mm3"]
    return features


def _run_risk(
    model_dir: Path, clinical: Mapping[str, Any], partial: Mapping[str, Any], outputs: _Outputs
) -> None:
    """Risk from the model's features: clinical values first, then imaging features.

    A feature the model needs but neither source holds is passed as unknown
    (``None``, handled natively by the model) and flagged.
    """
    from cardiolens.trust.serving import load_model

    try:
        model = load_model(model_dir)
        available = {**imaging_features(partial), **clinical}
        missing = [name for name in model.schema.names if name not in available]
        features = {name: available.get(name) for name in model.schema.names}
        prediction = model.predict_one(features)
    except CardiolensError as error:
        outputs.fail(str(model_dir), "risk", str(error))
        return
    if missing:
        outputs.flag("risk", f"unknown to the risk model (passed as missing): {', '.join(missing)}")
    outputs.risk = {
        "probability": prediction.probability,
        "interval": {
            "lower": prediction.lower,
            "upper": prediction.upper,
            "confidence": prediction.confidence,
        },
        "needs_review": prediction.needs_review,
        "top_contributors": [
            {"feature": item["feature"], "value": item.get("value"), "contribution": item["shap"]}
            for item in prediction.top_features
        ],
        "base_value": prediction.base_value if np.isfinite(prediction.base_value) else None,
        "model_id": prediction.model_id,
        "features_used": features,
    }
    outputs.models.append(
        {
            "name": f"risk ({model.kind.value})",
            "version": prediction.model_id,
            "sha256": model.metadata.get("model_sha256"),
        }
    )
    if prediction.needs_review:
        outputs.flag("risk", "the risk model cannot decide at the requested confidence")
    if outputs.risk["top_contributors"]:
        outputs.figures["shap_waterfall"] = fig.shap_waterfall_png(
            outputs.risk["top_contributors"], base_value=outputs.risk["base_value"] or 0.0
        )


# ---------------------------------------------------------------- assembly
def _input_hashes(study: Study, source: Path) -> list[dict[str, str]]:
    paths = sorted(
        {p for s in study.series for p in s.files} | {Path(p) for p in study.failed_files}
    )
    if not paths and source.is_file():
        paths = [source]
    root = source if source.is_dir() else source.parent
    hashes = []
    for path in paths:
        path = Path(path)
        try:
            name = str(path.relative_to(root))
        except ValueError:
            name = str(path)
        if path.is_file():
            hashes.append({"path": name, "sha256": sha256_file(path)})
    return hashes


def _series_summary(series: Series) -> dict[str, Any]:
    summary = series.summary()
    keys = (
        "series_uid",
        "modality",
        "role",
        "description",
        "n_gates",
        "shape",
        "spacing_mm",
        "n_files",
    )
    return {key: summary[key] for key in keys}


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("numpy", "scipy", "SimpleITK", "pydicom", "highdicom", "pytomography", "torch"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def _write_dicom_outputs(
    out: Path, data: Mapping[str, Any], outputs: _Outputs
) -> tuple[Path | None, list[Path]]:
    """SR of the key measurements and one SEG per source series; failures become flags."""
    from cardiolens.io.dicom_files import is_dicom_file
    from cardiolens.report.dicom_seg import write_segmentation
    from cardiolens.report.dicom_sr import write_measurement_report

    dicom_sources = {
        key: s for key, s in outputs.sources.items() if s.files and is_dicom_file(s.files[0])
    }
    sr_path = None
    not_dicom = sorted(set(outputs.sources) - set(dicom_sources))
    if not_dicom:
        outputs.flag(
            "report",
            f"no DICOM SR/SEG for {', '.join(not_dicom)}: the input is not DICOM",
            "info",
        )
    if dicom_sources:
        try:
            sr_path = write_measurement_report(out / "sr.dcm", data, dicom_sources)
        except CardiolensError as error:
            outputs.flag("report", f"DICOM SR not written: {error}", "warning")
    seg_paths = []
    by_source: dict[str, list[SegmentMask]] = {}
    for mask in outputs.masks:
        if mask.source.series_uid in {s.series_uid for s in dicom_sources.values()}:
            by_source.setdefault(mask.source.series_uid, []).append(mask)
    for index, masks in enumerate(by_source.values(), start=1):
        name = "seg.dcm" if len(by_source) == 1 else f"seg_{index}_{masks[0].kind}.dcm"
        try:
            seg_paths.append(write_segmentation(out / name, masks))
        except CardiolensError as error:
            outputs.flag("report", f"DICOM SEG not written: {error}", "warning")
    return sr_path, seg_paths


def _load_patient_studies(
    source: Path, role_overrides: Mapping[str, str] | None, outputs: _Outputs
) -> Study:
    """The studies under ``source`` of one patient, merged into one (for example a
    SPECT study and a calcium CT study read together); studies of another patient
    are listed as not analysed."""
    from cardiolens.io import load_studies

    studies = load_studies(source, role_overrides=dict(role_overrides or {}))
    primary = studies[0]
    merged = replace(primary, series=list(primary.series), warnings=list(primary.warnings))
    for other in studies[1:]:
        if other.patient_id == primary.patient_id:
            merged.series += other.series
            outputs.flag("io", f"series of study {other.study_uid} (same patient) included", "info")
        else:
            outputs.fail(
                f"study {other.study_uid}",
                "io",
                f"another patient ({other.patient_id!r}) than the study reported "
                f"({primary.patient_id!r}); analyse it separately",
            )
    return merged


def analyze_study(
    path: str | Path,
    out_dir: str | Path,
    *,
    clinical: Mapping[str, Any] | None = None,
    model_dir: str | Path | None = None,
    audit_db: str | Path | None = None,
    role_overrides: Mapping[str, str] | None = None,
    calcium_phantom: bool = False,
    normals: str | Path | None = None,
    user: str | None = None,
    progress: bool = True,
) -> Report:
    """Analyse every applicable part of a study and write the audited report.

    Parameters
    ----------
    path
        DICOM file or folder (or NIfTI) holding the study.
    out_dir
        Folder for ``report.json``, ``report.html``, ``figures/``, ``sr.dcm``,
        ``seg*.dcm`` (created).
    clinical
        Clinical variables (age, sex, symptoms...) for the risk model; recorded in
        the report.
    model_dir
        A risk model folder (``cardiolens risk train --out``); no risk section without it.
    audit_db
        SQLite audit log; default ``out_dir/audit.sqlite``.
    role_overrides
        ``{series_uid: role}`` when the header-based roles are wrong.
    calcium_phantom
        Score calcium CT in phantom (scanner QA) mode.
    normals
        Perfusion normal database (``cardiolens normals build``); default the one
        shipped with cardiolens.
    user
        Who ran the analysis (audit log); default the login name.
    progress
        Show a progress bar on the terminal.

    Returns
    -------
    Report
        The report data and the paths written.
    """
    started = datetime.now(UTC)
    start = time.perf_counter()
    source = Path(path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    audit_path = Path(audit_db) if audit_db is not None else out / AUDIT_DB_NAME
    outputs = _Outputs()
    with _progress(progress) as step:
        step("reading the study")
        with _timed(outputs, "io"):
            study = _load_patient_studies(source, role_overrides, outputs)
        for failed_path, reason in study.failed_files.items():
            outputs.fail(str(failed_path), "io", reason)
        outputs.flags += [
            {"stage": "io", "severity": "warning", "message": w} for w in study.warnings
        ]
        analyses = []
        step("nuclear perfusion and function")
        with _timed(outputs, "nuclear"):
            _run_nuclear(
                study,
                outputs,
                None if normals is None else Path(normals),
                sex=_clinical_sex(clinical),
            )
        if outputs.nuclear:
            analyses.append("nuclear")
        step("coronary calcium")
        with _timed(outputs, "calcium"):
            _run_calcium(study, outputs, phantom=calcium_phantom)
        if outputs.calcium:
            analyses.append("calcium")
        step("risk model")
        if model_dir is not None:
            with _timed(outputs, "risk"):
                _run_risk(
                    Path(model_dir),
                    clinical or {},
                    {"nuclear": outputs.nuclear, "calcium": outputs.calcium},
                    outputs,
                )
            if outputs.risk:
                analyses.append("risk")
        analysed = (
            {s.series_uid for s in outputs.sources.values()}
            | {f["item"] for f in outputs.failed}
            | set(outputs.companions)
        )
        unused = [s for s in study.series if s.series_uid not in analysed]
        for series in unused:
            unknown = series.role == SeriesRole.UNKNOWN
            reason = (
                f"its role is unknown; pass --role {series.series_uid}=ROLE (for example "
                "spect_rest or ct_calcium)"
                if unknown
                else "no stage applies"
            )
            outputs.flag(
                "pipeline",
                f"series {series.series_uid} ({series.role.value}, {series.modality}) "
                f"not analysed: {reason}",
                "warning" if unknown else "info",
            )
        step("writing the report")
        data = {
            "schema_version": SCHEMA_VERSION,
            "report_id": str(uuid.uuid4()),
            "study": {
                "study_uid": study.study_uid,
                "patient_id": study.patient_id,
                "study_date": study.study_date,
                "source": str(source),
                "series": [_series_summary(s) for s in study.series],
                "analyses": analyses,
                "clinical": dict(clinical) if clinical else None,
            },
            "nuclear": outputs.nuclear,
            "calcium": outputs.calcium,
            "risk": outputs.risk,
            "quality_flags": outputs.flags,
            "failed": outputs.failed,
            "narrative": {"findings": [], "impression": [], "references": []},
            "physician": {"free_text": "", "amendments": []},
            "provenance": {
                "cardiolens_version": __version__,
                "python_version": platform.python_version(),
                "platform": platform.platform(),
                "libraries": _library_versions(),
                "models": outputs.models,
                "inputs": _input_hashes(study, source),
                "parameters": {
                    "calcium_phantom": calcium_phantom,
                    "normals": None if normals is None else str(normals),
                    "role_overrides": dict(role_overrides or {}),
                    "model_dir": None if model_dir is None else str(model_dir),
                },
                "started_utc": started.isoformat(timespec="seconds"),
                "run_time_s": 0.0,
                "stage_times_s": outputs.stage_times_s,
                "audit": {"db": str(audit_path)},
            },
        }
        sr_path, seg_paths = _write_dicom_outputs(out, data, outputs)
        data["quality_flags"] = outputs.flags
        data["narrative"] = build_narrative(data).to_json()
        data["provenance"]["run_time_s"] = round(time.perf_counter() - start, 3)
        json_path, html_path = write_report(out, data, outputs.figures)
        step("audit log")
        written = [json_path, html_path, *([sr_path] if sr_path else []), *seg_paths]
        AuditLog(audit_path).append(
            "analyze",
            user=user or getpass.getuser(),
            software_version=__version__,
            model_versions={m["name"]: m["version"] for m in outputs.models},
            input_hashes={i["path"]: i["sha256"] for i in data["provenance"]["inputs"]},
            output_hashes={p.name: sha256_file(p) for p in written},
            details={
                "report_id": data["report_id"],
                "source": str(source),
                "out_dir": str(out),
                "analyses": analyses,
                "failed": [f["item"] for f in outputs.failed],
            },
        )
    logger.info("report written to %s", html_path)
    return Report(
        data=data,
        out_dir=out,
        json_path=json_path,
        html_path=html_path,
        sr_path=sr_path,
        seg_paths=tuple(seg_paths),
        audit_db=audit_path,
    )


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A rich progress bar over the pipeline's steps (a no-op when disabled)."""
    if not enabled:
        yield lambda description: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    steps = 6
    with Progress(
        TextColumn("{task.description:<34}"), BarColumn(), TimeElapsedColumn(), transient=False
    ) as bar:
        task = bar.add_task("starting", total=steps)
        count = 0

        def step(description: str) -> None:
            nonlocal count
            if count:
                bar.advance(task)
            count += 1
            bar.update(task, description=description)

        yield step
        bar.update(task, completed=steps, description="done")


def amend_report(
    out_dir: str | Path,
    *,
    text: str,
    user: str,
    overrides: Sequence[str] = (),
    audit_db: str | Path | None = None,
) -> dict[str, Any]:
    """Record a physician's amendment in ``report.json``, ``report.html`` and the audit log.

    The automated findings are kept; the amendment is appended with its time and
    user. The audit entry (action ``amend``) records the overrides and the new
    hashes of the report files.
    """
    out = Path(out_dir)
    data = load_report(out)
    amended = add_amendment(data, text=text, user=user, overrides=overrides)
    previous_hash = sha256_file(out / REPORT_JSON)
    json_path, html_path = write_report(out, amended, load_figures(out))
    db = (
        Path(audit_db)
        if audit_db is not None
        else Path((data["provenance"].get("audit") or {}).get("db") or out / "audit.sqlite")
    )
    if not db.parent.is_dir():
        raise InputError("the audit log's folder does not exist; pass --audit-db", path=db)
    AuditLog(db).append(
        "amend",
        user=user,
        software_version=__version__,
        input_hashes={REPORT_JSON: previous_hash},
        output_hashes={p.name: sha256_file(p) for p in (json_path, html_path)},
        overrides=list(overrides),
        details={"report_id": data["report_id"], "text": text, "out_dir": str(out)},
    )
    return amended
