"""From a study folder to an audited report: every applicable stage, one call.

:func:`analyze_study` loads the study, finds what it holds (SPECT or PET stress and
rest, gated or not; calcium-scoring CT), runs the stages of :data:`STAGES` that apply
(nuclear, calcium, risk: each a :class:`Stage` stating the series roles and options
it needs and the report section it adds; :func:`register_stage` plugs in another),
and writes ``report.json`` (validated against the shipped schema), ``report.html``,
a DICOM SR measurement report, DICOM SEG objects and an entry in the hash-chained
audit log. A series or file that cannot be read or analysed is
listed in the report's ``failed`` section; the other series are still reported.
"""

from __future__ import annotations

import getpass
import logging
import platform
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cardiolens import __version__
from cardiolens.audit import AuditLog, sha256_file
from cardiolens.core.errors import CardiolensError, InputError
from cardiolens.core.study import Series, SeriesRole, Study
from cardiolens.core.volume import Volume
from cardiolens.report import figures as fig
from cardiolens.report.dicom_seg import SegmentMask
from cardiolens.report.document import (
    SCHEMA_VERSION,
    STAGING_PREFIX,
    Report,
    audit_reference,
    publish_report,
    remove_stale_staging,
    write_report,
)
from cardiolens.report.narrative import build_narrative

if TYPE_CHECKING:
    from cardiolens.report.amendments import FolderUpdate
    from cardiolens.report.changes import Change

__all__ = [
    "AUDIT_DB_NAME",
    "STAGES",
    "AnalysisOptions",
    "Stage",
    "amend_report",
    "analyze_study",
    "imaging_features",
    "register_stage",
    "sign_report",
]

logger = logging.getLogger(__name__)

AUDIT_DB_NAME = "audit.sqlite"
# the nuclear stage reads these roles, and emission series of unknown role
# (cardiolens.nuclear.series.select_perfusion_inputs decides which it analyses)
_NUCLEAR_ROLES = (
    SeriesRole.SPECT_STRESS,
    SeriesRole.PET_STRESS,
    SeriesRole.SPECT_REST,
    SeriesRole.PET_REST,
    SeriesRole.UNKNOWN,
)


@dataclass(frozen=True)
class AnalysisOptions:
    """What the user chose for one analysis (the stages read what they need)."""

    clinical: Mapping[str, Any] = field(default_factory=dict)
    model_dir: Path | None = None
    normals: Path | None = None
    calcium_phantom: bool = False


@dataclass
class _Outputs:
    """What the stages produce for the report."""

    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)
    figure_data: dict[str, bytes] = field(default_factory=dict)  # to redraw on amendment
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


StageRun = Callable[[Study, _Outputs, AnalysisOptions], dict[str, Any] | None]


@dataclass(frozen=True)
class Stage:
    """One analysis stage: what it needs from the study and what it adds to the report.

    Attributes
    ----------
    name
        The report section it adds (``report[name]``, ``None`` when it found nothing),
        its entry in ``study.analyses`` and in ``provenance.stage_times_s``.
    step
        What the progress bar shows while it runs.
    run
        ``run(study, outputs, options)`` returns the section (or ``None``); it adds
        figures, masks, flags, failures, models and source series to ``outputs``.
        Earlier stages' sections are in ``outputs.sections``.
    roles
        Series roles it analyses; it runs when the study holds at least one (empty:
        it needs no image series).
    modalities
        DICOM modalities it analyses (empty: any); combined with ``roles``.
    options
        :class:`AnalysisOptions` fields that must be set for it to run (for example
        ``model_dir``); without them it is not run and not timed.
    uses
        Report sections of earlier stages it reads.
    """

    name: str
    step: str
    run: StageRun
    roles: tuple[SeriesRole, ...] = ()
    modalities: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()

    def is_configured(self, options: AnalysisOptions) -> bool:
        """Whether the options it needs are set."""
        return all(getattr(options, name) is not None for name in self.options)

    def finds_input(self, study: Study) -> bool:
        """Whether the study holds a series it analyses."""
        if not self.roles and not self.modalities:
            return True
        return any(
            (not self.roles or s.role in self.roles)
            and (not self.modalities or s.modality in self.modalities)
            for s in study.series
        )


# ---------------------------------------------------------------- nuclear stage
def _clinical_sex(clinical: Mapping[str, Any] | None) -> str | None:
    from cardiolens.nuclear.protocols import clinical_sex

    return clinical_sex(dict(clinical or {}))


def _run_nuclear(
    study: Study, outputs: _Outputs, options: AnalysisOptions
) -> dict[str, Any] | None:
    from cardiolens.nuclear.series import select_perfusion_inputs

    normals_path = options.normals
    sex = _clinical_sex(options.clinical)
    inputs = select_perfusion_inputs(study)
    stress, rest = inputs.stress, inputs.rest
    if stress is None and rest is None:
        return None
    from cardiolens.nuclear.analysis import analyze_perfusion
    from cardiolens.nuclear.normals import NormalDatabase

    normals = None if normals_path is None else NormalDatabase.load(normals_path)
    outputs.companions += [s.series_uid for s in inputs.series()]
    try:
        result = analyze_perfusion(stress=stress, rest=rest, normals=normals, sex=sex)
    except CardiolensError as error:
        if stress is None or rest is None:
            outputs.fail((stress or rest).series_uid, "nuclear", str(error))
            return None
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
        return None
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
    from cardiolens.report.nuclear_figures import nuclear_figures, perfusion_extents

    nuclear["extent_pct"] = perfusion_extents(result)
    outputs.figures.update(nuclear_figures(result, nuclear))
    return nuclear


# ---------------------------------------------------------------- PET flow stage
def _run_pet_flow(
    study: Study, outputs: _Outputs, options: AnalysisOptions
) -> dict[str, Any] | None:
    """Rest/stress MBF, MFR and CFC of the dynamic PET series (:mod:`cardiolens.nuclear.flow`)."""
    dynamic = study.by_role(SeriesRole.PET_DYNAMIC)
    from cardiolens.nuclear.flow import analyze_flow, scan_from_series

    scans: dict[str, Any] = {}
    for series in dynamic:
        try:
            scan = scan_from_series(series)
        except CardiolensError as error:
            outputs.fail(series.series_uid, "pet_flow", str(error))
            continue
        if scan.state in scans:
            outputs.fail(series.series_uid, "pet_flow", f"a second {scan.state} dynamic series")
            continue
        scans[scan.state] = scan
        outputs.companions.append(series.series_uid)
        outputs.sources[f"pet_flow_{scan.state}"] = series
    if not scans:
        return None
    try:
        result = analyze_flow(rest=scans.get("rest"), stress=scans.get("stress"))
    except CardiolensError as error:
        for series in dynamic:
            outputs.fail(series.series_uid, "pet_flow", str(error))
        return None
    pet_flow = result.to_json()
    for reason in pet_flow["review_reasons"]:
        outputs.flag("pet_flow", reason, code="pet_flow_review")
    for name in ("rest", "stress"):
        part = pet_flow[name]
        if part is not None:
            outputs.figures[f"mbf_{name}"] = fig.bullseye_png(
                part["segments_mbf_ml_min_g"], title=f"{name.capitalize()} MBF", vmin=0.0,
                vmax=4.0, unit="mL/min/g",
            )  # fmt: skip
    if pet_flow["mfr"] is not None:
        outputs.figures["mfr"] = fig.bullseye_png(
            pet_flow["mfr"]["segments"], title="MFR (stress / rest)", vmin=1.0, vmax=4.0,
            unit="ratio",
        )  # fmt: skip
    return pet_flow


# ---------------------------------------------------------------- calcium stage
def _run_calcium(
    study: Study, outputs: _Outputs, options: AnalysisOptions
) -> dict[str, Any] | None:
    phantom = options.calcium_phantom
    candidates = study.by_role(SeriesRole.CT_CALCIUM)
    if not candidates:
        return None
    from cardiolens.ct.score import score_calcium

    calcium = None
    for series in candidates[:1]:
        try:
            result = score_calcium(series.volume, phantom=phantom)
        except CardiolensError as error:
            hint = "" if phantom else " (for a calcium phantom scan use --calcium-phantom)"
            outputs.fail(series.series_uid, "calcium", f"{error}{hint}")
            continue
        calcium = result.to_json()
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
            overlay = fig.calcium_overlay_source(
                series.volume.array,
                [lesion.lesion_id for lesion in result.lesions],  # the report's lesion order
                lesion_labels=None if labels is None else labels.array,
                centroids_zyx=centroids,
            )
            outputs.figures["calcium_overlay"] = fig.draw_calcium_overlay(overlay, artery)
            outputs.figure_data["calcium_overlay"] = overlay.to_npz()
        if labels is not None and np.any(labels.array):
            outputs.masks.append(SegmentMask("calcified lesions", "calcium", labels, series))
    for series in candidates[1:]:
        outputs.flag("calcium", f"further calcium series {series.series_uid} not scored", "info")
    return calcium


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


def _run_risk(study: Study, outputs: _Outputs, options: AnalysisOptions) -> dict[str, Any] | None:
    """Risk from the model's features: clinical values first, then imaging features.

    A feature the model needs but neither source holds is passed as unknown
    (``None``, handled natively by the model) and flagged.
    """
    from cardiolens.trust.serving import load_model

    model_dir, clinical, partial = Path(options.model_dir), options.clinical, outputs.sections
    try:
        model = load_model(model_dir)
        available = {**imaging_features(partial), **clinical}
        missing = [name for name in model.schema.names if name not in available]
        features = {name: available.get(name) for name in model.schema.names}
        prediction = model.predict_one(features)
    except CardiolensError as error:
        outputs.fail(str(model_dir), "risk", str(error))
        return None
    if missing:
        outputs.flag("risk", f"unknown to the risk model (passed as missing): {', '.join(missing)}")
    risk = {
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
    if risk["top_contributors"]:
        outputs.figures["shap_waterfall"] = fig.shap_waterfall_png(
            risk["top_contributors"], base_value=risk["base_value"] or 0.0
        )
    return risk


# ---------------------------------------------------------------- the stages, in order
STAGES: list[Stage] = [
    Stage(
        "nuclear",
        "nuclear perfusion and function",
        _run_nuclear,
        roles=_NUCLEAR_ROLES,
    ),
    Stage(
        "pet_flow",
        "PET myocardial blood flow",
        _run_pet_flow,
        roles=(SeriesRole.PET_DYNAMIC,),
    ),
    Stage("calcium", "coronary calcium", _run_calcium, roles=(SeriesRole.CT_CALCIUM,)),
    Stage(
        "risk",
        "risk model",
        _run_risk,
        options=("model_dir",),
        uses=("nuclear", "calcium"),
    ),
]
"""The pipeline's stages in the order they run; a later stage may read earlier sections."""


def register_stage(stage: Stage, *, before: str | None = None) -> None:
    """Add a stage to :data:`STAGES` (at the end, or before the stage named ``before``).

    Its section must be declared in ``report/schema.json``; a stage of that name is
    replaced.
    """
    names = [s.name for s in STAGES]
    if stage.name in names:
        STAGES[names.index(stage.name)] = stage
        return
    if before is not None and before not in names:
        raise ValueError(f"no stage named {before!r}; stages: {', '.join(names)}")
    STAGES.insert(names.index(before) if before is not None else len(STAGES), stage)


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


def _gates(nuclear: Mapping[str, Any] | None, key: str) -> int | None:
    """Number of gates of a state's gated function (None when not gated)."""
    function = ((nuclear or {}).get(key) or {}).get("function") or {}
    return len(function.get("cavity_volume_ml") or []) or None


def _context(outputs: _Outputs, clinical: Mapping[str, Any] | None) -> dict[str, Any]:
    """Patient and acquisition context (:mod:`cardiolens.report.context`) of the analysed
    series; flags a simulated or mismatched normal database."""
    from cardiolens.report.context import (
        acquisition_context,
        normal_database_flags,
        patient_context,
        read_header,
    )

    headers = {key: read_header(series) for key, series in outputs.sources.items()}
    context = {
        "patient": patient_context([h for h in headers.values() if h is not None], clinical),
        "acquisitions": [
            acquisition_context(
                key, series, headers[key], _gates(outputs.sections.get("nuclear"), key)
            )
            for key, series in outputs.sources.items()
        ],
    }
    per_state = (outputs.sections.get("nuclear") or {}).get("normal_database") or {}
    flags: list[dict[str, str]] = []
    for database in per_state.values():  # {"stress": {...} | None, "rest": ...}
        if database:
            flags += normal_database_flags(
                database, context["patient"]["values"], context["acquisitions"]
            )
    outputs.flags += [f for i, f in enumerate(flags) if f not in flags[:i]]
    return context


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
    stages: Sequence[Stage] | None = None,
    on_step: Callable[[str, int, int], None] | None = None,
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
    stages
        The stages to run, in order; default :data:`STAGES`.
    on_step
        Called as ``on_step(description, step, n_steps)`` when a step starts (the
        REST service records job progress with it).

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
    stages = list(STAGES if stages is None else stages)
    options = AnalysisOptions(
        clinical=dict(clinical or {}),
        model_dir=None if model_dir is None else Path(model_dir),
        normals=None if normals is None else Path(normals),
        calcium_phantom=calcium_phantom,
    )
    with _progress(progress, len(stages) + 3, on_step) as step:
        step("reading the study")
        with _timed(outputs, "io"):
            study = _load_patient_studies(source, role_overrides, outputs)
        for failed_path, reason in study.failed_files.items():
            outputs.fail(str(failed_path), "io", reason)
        outputs.flags += [
            {"stage": "io", "severity": "warning", "message": w} for w in study.warnings
        ]
        analyses = []
        for stage in stages:
            step(stage.step)
            if not stage.is_configured(options):
                continue
            with _timed(outputs, stage.name):
                section = stage.run(study, outputs, options) if stage.finds_input(study) else None
            if section:
                outputs.sections[stage.name] = section
                analyses.append(stage.name)
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
            **{stage.name: outputs.sections.get(stage.name) for stage in stages},
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
                "audit": {"db": audit_reference(out, audit_path)},
            },
        }
        data["study"].update(_context(outputs, clinical))
        # every output is written to a hidden staging folder, hashed and audited there and
        # only then moved into out: an interrupted run leaves no partial report (one a
        # killed run left is removed on the next write, document.remove_stale_staging)
        remove_stale_staging(out)
        with tempfile.TemporaryDirectory(prefix=STAGING_PREFIX, dir=out) as staged:
            staging = Path(staged)
            sr_path, seg_paths = _write_dicom_outputs(staging, data, outputs)
            data["quality_flags"] = outputs.flags
            data["narrative"] = build_narrative(data).to_json()
            data["provenance"]["run_time_s"] = round(time.perf_counter() - start, 3)
            json_path, html_path = write_report(staging, data, outputs.figures)
            step("audit log")
            written = [json_path, html_path, *([sr_path] if sr_path else []), *seg_paths]
            entry = AuditLog(audit_path).append(
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
            data["provenance"]["audit"]["head"] = entry.head  # receipt: audit verify --head
            write_report(staging, data, outputs.figures, outputs.figure_data)
            publish_report(staging, out)
        json_path, html_path = out / json_path.name, out / html_path.name
        sr_path = None if sr_path is None else out / sr_path.name
        seg_paths = [out / p.name for p in seg_paths]
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
def _progress(
    enabled: bool, steps: int, on_step: Callable[[str, int, int], None] | None = None
) -> Iterator[Callable[[str], None]]:
    """A rich progress bar over the pipeline's ``steps`` steps (none when disabled).

    ``on_step(description, index, steps)`` is called at each step either way.
    """
    if not enabled:
        count = 0

        def quiet_step(description: str) -> None:
            nonlocal count
            if on_step is not None:
                on_step(description, count, steps)
            count += 1

        yield quiet_step
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<34}"), BarColumn(), TimeElapsedColumn(), transient=False
    ) as bar:
        task = bar.add_task("starting", total=steps)
        count = 0

        def step(description: str) -> None:
            nonlocal count
            if on_step is not None:
                on_step(description, count, steps)
            if count:
                bar.advance(task)
            count += 1
            bar.update(task, description=description)

        yield step
        bar.update(task, completed=steps, description="done")


def amend_report(
    out_dir: str | Path,
    *,
    user: str,
    text: str = "",
    changes: Sequence[Change] = (),
    overrides: Sequence[str] = (),
    addendum: bool = False,
    audit_db: str | Path | None = None,
) -> dict[str, Any]:
    """Amend a report folder and record it in the audit log (action ``amend`` or ``addendum``).

    Parameters
    ----------
    out_dir
        The report folder (``analyze --out``), wherever it has been moved or copied.
    user
        The physician making the change.
    text
        Free text for the report.
    changes
        Typed changes (:mod:`cardiolens.report.changes`: ``SegmentScore``,
        ``LesionExclusion``, ``LesionArtery``, ``Impression``); the scores that
        depend on them (SSS/SRS/SDS, Agatston per artery, CAC-DRS) and the narrative
        are recomputed, ``report.json``/``report.html`` rewritten and a new SR
        written that supersedes the previous one (kept).
    overrides
        Untyped remarks (e.g. "rejected automated segmentation"), recorded only.
    addendum
        True for a change to a report signed final (then required).
    audit_db
        Audit log; default the report's own (resolved against the report folder).

    Returns
    -------
    dict
        The amended report (as in ``report.json``).
    """
    from cardiolens.report.amendments import amend_folder

    update = amend_folder(
        out_dir, user=user, text=text, changes=changes, remarks=overrides, addendum=addendum
    )
    _append_audit(update, audit_db)
    return update.data


def sign_report(
    out_dir: str | Path,
    *,
    reader: str,
    status: str,
    organization: str | None = None,
    audit_db: str | Path | None = None,
) -> dict[str, Any]:
    """Sign a report folder (reader, time, ``preliminary`` or ``final``) and audit it.

    A final report is locked (``report.signed.json`` keeps it); later changes go
    through :func:`amend_report` with ``addendum=True``. Returns the signed report.
    """
    from cardiolens.report.amendments import sign_folder

    update = sign_folder(out_dir, reader=reader, status=status, organization=organization)
    _append_audit(update, audit_db)
    return update.data


def _append_audit(update: FolderUpdate, audit_db: str | Path | None) -> None:
    db = Path(audit_db) if audit_db is not None else update.audit_db
    if not db.parent.is_dir():
        raise InputError("the audit log's folder does not exist; pass --audit-db", path=db)
    record = update.audit
    AuditLog(db).append(
        record.action,
        user=record.user,
        software_version=__version__,
        input_hashes=record.input_hashes,
        output_hashes=record.output_hashes,
        overrides=record.overrides,
        details=record.details,
    )
