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
from collections.abc import Callable, Mapping
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

__all__ = [
    "save_built",
    "LOCAL_SCHEME",
    "build_measurement_report",
    "source_datasets",
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
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)],
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
    headers = {key: source_datasets(series) for key, series in sources.items()}
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
    document = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=content[0],
        series_number=9001,
        series_instance_uid=hd.UID(),
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="cardiolens",
        series_description="cardiolens measurement report",
        institution_name=primary.get("InstitutionName"),
        is_complete=True,
        is_final=False,
        is_verified=False,
        software_versions=__version__,
    )
    scheme = Dataset()
    scheme.CodingSchemeDesignator = LOCAL_SCHEME
    scheme.CodingSchemeName = "cardiolens local codes"
    scheme.CodingSchemeResponsibleOrganization = "cardiolens project"
    document.CodingSchemeIdentificationSequence = [scheme]
    return document


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
    document.save_as(path)
    logger.info("DICOM %s written to %s", what, path)
    return path
