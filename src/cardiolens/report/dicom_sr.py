"""DICOM SR: TID 1500 Measurement Report of the key numbers of a cardiolens report.

Written with highdicom as a Comprehensive 3D SR (PS3.3 A.35.13). Each analysed
state (stress, rest), the stress-rest comparison and the calcium score form one
measurement group (TID 1501) that references its source image, so a PACS viewer
links the numbers to the series. Concepts with a standard code use it (LOINC
10230-1 LVEF, 8821-1 LV ED volume, 8823-7 LV ES volume; DCM 122660 calcium volume,
122661 calcium mass); the others (summed scores, TPD, TID, Agatston score) use the
local coding scheme ``99CLENS`` as PS3.16 section 8 allows for private codes.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import highdicom as hd
import pydicom
from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from cardiolens import __version__
from cardiolens.core.errors import CardiolensError, DicomError
from cardiolens.core.study import Series
from cardiolens.io.atomic import atomic_path

__all__ = [
    "LOCAL_SCHEME",
    "build_measurement_report",
    "save_built",
    "source_datasets",
    "supersede_measurement_report",
    "write_measurement_report",
]

logger = logging.getLogger(__name__)

LOCAL_SCHEME = "99CLENS"
"""Coding scheme designator of cardiolens' private codes."""


def _local(value: str, meaning: str) -> CodedConcept:
    return CodedConcept(value, LOCAL_SCHEME, meaning)


_UNIT = {
    "%": CodedConcept("%", "UCUM", "percent"),
    "mL": CodedConcept("mL", "UCUM", "milliliter"),
    "mm3": CodedConcept("mm3", "UCUM", "cubic millimeter"),
    "mg": CodedConcept("mg", "UCUM", "milligram"),
    "1": CodedConcept("1", "UCUM", "no units"),
    "mL/min/g": CodedConcept("mL/min/g", "UCUM", "milliliter per minute per gram"),
}
_CONCEPT = {
    "lvef_pct": (CodedConcept("10230-1", "LN", "Left Ventricular Ejection Fraction"), "%"),
    "edv_ml": (CodedConcept("8821-1", "LN", "Left Ventricular ED Volume"), "mL"),
    "esv_ml": (CodedConcept("8823-7", "LN", "Left Ventricular ES Volume"), "mL"),
    "summed_stress_score": (_local("CL001", "Summed stress score"), "1"),
    "summed_rest_score": (_local("CL002", "Summed rest score"), "1"),
    "sds": (_local("CL003", "Summed difference score"), "1"),
    "tpd_pct": (_local("CL004", "Total perfusion deficit"), "%"),
    "ischemic_tpd_pct": (_local("CL005", "Ischemic total perfusion deficit"), "%"),
    "tid": (_local("CL006", "Transient ischemic dilation ratio"), "1"),
    "agatston": (_local("CL007", "Agatston score"), "1"),
    "volume_mm3": (CodedConcept("122660", "DCM", "Calcium Volume"), "mm3"),
    "mass_mg": (CodedConcept("122661", "DCM", "Calcium Mass"), "mg"),
    "mbf_ml_min_g": (_local("CL008", "Myocardial blood flow"), "mL/min/g"),
    "mfr": (_local("CL009", "Myocardial flow reserve"), "1"),
}


def source_datasets(series: Series) -> list[Dataset]:
    """Headers (no pixel data) of the DICOM files of a series."""
    datasets = []
    for path in series.files:
        try:
            datasets.append(pydicom.dcmread(path, stop_before_pixels=True))
        except (OSError, pydicom.errors.InvalidDicomError) as error:
            raise DicomError(f"cannot re-read the source header ({error})", path=path) from None
    if not datasets:
        raise DicomError(f"series {series.series_uid} has no DICOM files to reference")
    return datasets


def _measurements(values: Mapping[str, Any]) -> list[hd.sr.Measurement]:
    items = []
    for key, value in values.items():
        if value is None:
            continue
        concept, unit = _CONCEPT[key]
        items.append(hd.sr.Measurement(name=concept, value=float(value), unit=_UNIT[unit]))
    return items


def _group(
    label: str, values: Mapping[str, Any], source: Dataset, finding_site: CodedConcept | None
) -> hd.sr.MeasurementsAndQualitativeEvaluations | None:
    measurements = _measurements(values)
    if not measurements:
        return None
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=label),
        measurements=measurements,
        finding_sites=None if finding_site is None else [hd.sr.FindingSite(finding_site)],
        source_images=[
            hd.sr.SourceImageForMeasurementGroup(source.SOPClassUID, source.SOPInstanceUID)
        ],
    )


def _groups(
    report: Mapping[str, Any], sources: Mapping[str, Dataset]
) -> list[hd.sr.MeasurementsAndQualitativeEvaluations]:
    myocardium = CodedConcept(
        codes.SCT.LeftVentricleMyocardium.value, "SCT", "Left Ventricle Myocardium"
    )
    groups = []
    nuclear = report.get("nuclear") or {}
    for name, score_key in (("stress", "summed_stress_score"), ("rest", "summed_rest_score")):
        state = nuclear.get(name)
        if state is None or name not in sources:
            continue
        function = state.get("function") or {}
        values = {
            score_key: state["summed_score"],
            "tpd_pct": state["tpd_pct"],
            **{key: function.get(key) for key in ("edv_ml", "esv_ml", "lvef_pct")},
        }
        groups.append(_group(f"{name} perfusion and function", values, sources[name], myocardium))
    if nuclear.get("stress") and "stress" in sources:
        combined = {k: nuclear.get(k) for k in ("sds", "ischemic_tpd_pct", "tid")}
        groups.append(_group("stress-rest comparison", combined, sources["stress"], myocardium))
    flow = report.get("pet_flow") or {}
    for name in ("rest", "stress"):
        if flow.get(name) and f"pet_flow_{name}" in sources:
            values = {"mbf_ml_min_g": flow[name]["global_mbf_ml_min_g"]}
            if name == "stress" and flow.get("mfr"):
                values["mfr"] = flow["mfr"]["global"]
            label = f"{name} myocardial blood flow (global)"
            groups.append(_group(label, values, sources[f"pet_flow_{name}"], myocardium))
    calcium = report.get("calcium")
    if calcium and "calcium" in sources:
        totals = {k: calcium[k] for k in ("agatston", "volume_mm3", "mass_mg")}
        groups.append(_group("coronary calcium (total)", totals, sources["calcium"], None))
        for artery, scores in (calcium.get("per_artery") or {}).items():
            values = {k: scores[k] for k in ("agatston", "volume_mm3", "mass_mg")}
            groups.append(_group(f"coronary calcium ({artery})", values, sources["calcium"], None))
    return [g for g in groups if g is not None]


def build_measurement_report(
    report: Mapping[str, Any], sources: Mapping[str, Series]
) -> hd.sr.Comprehensive3DSR:
    """A TID 1500 Measurement Report of the report's key measurements.

    Parameters
    ----------
    report
        The report dict (schema-valid).
    sources
        ``{"stress" | "rest" | "calcium": Series}``: the DICOM series each group
        was measured on.
    """
    return _document(report, {key: source_datasets(s) for key, s in sources.items()})


def _document(
    report: Mapping[str, Any],
    headers: Mapping[str, Sequence[Dataset]],
    previous: Dataset | None = None,
) -> hd.sr.Comprehensive3DSR:
    """The SR of ``report`` over source ``headers`` ({key: datasets, the measured one first}).

    ``previous``, an earlier SR of the same report, is listed in the Predecessor
    Documents Sequence (PS3.3 C.17.2). A report signed final gives a FINAL
    document; VERIFIED with the reader as verifying observer when the sign-off
    names the organisation (PS3.3 C.17.2, Verifying Observer Sequence).
    """
    first = {key: datasets[0] for key, datasets in headers.items()}
    groups = _groups(report, first)
    if not groups:
        raise CardiolensError("no measurements to put in a DICOM SR")
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=hd.UID(), name="cardiolens", manufacturer_name="cardiolens", model_name="cardiolens"
    )
    context = hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device, observer_identifying_attributes=device
        )
    )
    procedure = (
        _local("CL100", "Myocardial perfusion imaging")
        if report.get("nuclear") or report.get("pet_flow")
        else _local("CL101", "Coronary artery calcium scoring")
    )
    content = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=procedure,
        imaging_measurements=groups,
        title=codes.DCM.ImagingMeasurementReport,
    )
    evidence = [ds for datasets in headers.values() for ds in datasets]
    primary = next(iter(first.values()))
    signoff = (report.get("physician") or {}).get("signoff") or {}
    final = signoff.get("status") == "final"
    organization = signoff.get("organization") if final else None
    document = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=content[0],
        series_number=9001,
        series_instance_uid=hd.UID() if previous is None else previous.SeriesInstanceUID,
        sop_instance_uid=hd.UID(),
        instance_number=1 if previous is None else int(previous.InstanceNumber) + 1,
        manufacturer="cardiolens",
        series_description="cardiolens measurement report",
        institution_name=primary.get("InstitutionName"),
        is_complete=True,
        is_final=final,
        is_verified=bool(organization),
        verifying_observer_name=_person_name(signoff["reader"]) if organization else None,
        verifying_organization=organization,
        previous_versions=None if previous is None else [previous],
        software_versions=__version__,
    )
    scheme = Dataset()
    scheme.CodingSchemeDesignator = LOCAL_SCHEME
    scheme.CodingSchemeName = "cardiolens local codes"
    scheme.CodingSchemeResponsibleOrganization = "cardiolens project"
    document.CodingSchemeIdentificationSequence = [scheme]
    return document


def _person_name(name: str) -> str:
    """A reader's name as a DICOM person name: ``"Jane Doe"`` -> ``"Doe^Jane"``."""
    if "^" in name:
        return name
    parts = name.split()
    return "^".join([parts[-1], " ".join(parts[:-1])]) if len(parts) > 1 else f"{name}^"


#: Tracking identifier of a measurement group -> the source key its image belongs to.
_GROUP_SOURCE = {
    "stress perfusion and function": "stress",
    "rest perfusion and function": "rest",
    "stress-rest comparison": "stress",
    "coronary calcium (total)": "calcium",
}
_PATIENT_STUDY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "SpecificCharacterSet",
)
_STUDY = ("StudyID", "StudyDate", "StudyTime", "AccessionNumber", "ReferringPhysicianName")


def _evidence_headers(previous: Dataset) -> dict[str, Dataset]:
    """Minimal headers of the instances an SR lists as evidence, by SOP Instance UID.

    Each holds the patient module of the SR, its study (the study attributes copied
    when it is the SR's study) and the series and SOP identifiers: what the SR
    needs to reference the instance again.
    """
    headers = {}
    for sequence in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        for study in previous.get(sequence, []):
            for series in study.ReferencedSeriesSequence:
                for instance in series.ReferencedSOPSequence:
                    ds = Dataset()
                    for keyword in _PATIENT_STUDY:
                        if keyword in previous:
                            setattr(ds, keyword, previous.data_element(keyword).value)
                    same = study.StudyInstanceUID == previous.StudyInstanceUID
                    for keyword in _STUDY:
                        setattr(ds, keyword, previous.get(keyword, "") if same else "")
                    ds.StudyInstanceUID = study.StudyInstanceUID
                    ds.SeriesInstanceUID = series.SeriesInstanceUID
                    ds.SOPClassUID = instance.ReferencedSOPClassUID
                    ds.SOPInstanceUID = instance.ReferencedSOPInstanceUID
                    if same and "InstitutionName" in previous:
                        ds.InstitutionName = previous.InstitutionName
                    headers[str(ds.SOPInstanceUID)] = ds
    return headers


def _measured_sources(previous: Dataset) -> dict[str, str]:
    """``{source key: SOP Instance UID of its source image}`` from an SR's measurement groups."""
    found: dict[str, str] = {}

    def walk(items: Sequence[Dataset], label: str | None) -> None:
        for item in items:
            concept = (
                item.ConceptNameCodeSequence[0].CodeValue
                if "ConceptNameCodeSequence" in item
                else ""
            )
            if item.ValueType == "CONTAINER" and concept == "125007":
                texts = [c for c in item.ContentSequence if c.ValueType == "TEXT"]
                label = texts[0].TextValue if texts else None
            if item.ValueType == "IMAGE" and label in _GROUP_SOURCE:
                found.setdefault(
                    _GROUP_SOURCE[label], item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
                )
            if "ContentSequence" in item:
                walk(item.ContentSequence, label)

    walk(previous.ContentSequence, None)
    return found


def supersede_measurement_report(
    path: str | Path, report: Mapping[str, Any], previous_path: str | Path
) -> Path:
    """A new SR of ``report`` (new SOP instance) superseding the SR at ``previous_path``.

    Used after an amendment or a sign-off, when the source images may no longer be
    at hand: the new document references the same source instances as the previous
    one (read from its evidence and measurement groups), lists the previous one in
    its Predecessor Documents Sequence and keeps its series (instance number + 1).
    The previous file is left as it is.
    """
    previous_path = Path(previous_path)
    try:
        previous = pydicom.dcmread(previous_path)
    except (OSError, pydicom.errors.InvalidDicomError) as error:
        raise DicomError(f"cannot read the previous SR ({error})", path=previous_path) from None
    evidence = _evidence_headers(previous)
    measured = _measured_sources(previous)
    headers: dict[str, list[Dataset]] = {}
    for key, uid in measured.items():
        if uid in evidence:
            series = evidence[uid].SeriesInstanceUID
            others = [
                ds for u, ds in evidence.items() if u != uid and ds.SeriesInstanceUID == series
            ]
            headers[key] = [evidence[uid], *others]
    if not headers:
        raise DicomError("the previous SR references no source image", path=previous_path)
    return save_built(lambda: _document(report, headers, previous), path, "SR")


def write_measurement_report(
    path: str | Path, report: Mapping[str, Any], sources: Mapping[str, Series]
) -> Path:
    """Build the SR (:func:`build_measurement_report`) and save it to ``path``."""
    return save_built(lambda: build_measurement_report(report, sources), path, "SR")


def save_built(build: Callable[[], Dataset], path: str | Path, what: str) -> Path:
    """Run a highdicom constructor and save its object; its errors become CardiolensError."""
    try:
        with warnings.catch_warnings():
            # Source headers with one-component patient names (phantoms, anonymised
            # scans) are copied as they are; highdicom's advice on them is noise here.
            warnings.filterwarnings("ignore", message=".*unlikely to represent the intended")
            document = build()
    except (ValueError, TypeError, AttributeError) as error:
        raise CardiolensError(f"cannot build the DICOM {what} ({error})") from None
    path = Path(path)
    with atomic_path(path) as temporary:
        document.save_as(temporary)
    logger.info("DICOM %s written to %s", what, path)
    return path
