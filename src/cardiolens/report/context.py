"""Patient and acquisition context of a report, from the DICOM headers and ``--clinical``.

* Patient: age (PatientAge, else full years from PatientBirthDate to StudyDate),
  sex, height and weight (PatientSize in m, PatientWeight in kg; PS3.3 C.7.2.2),
  BMI = weight / height^2 in kg/m^2 (WHO), and the indication
  (ReasonForRequestedProcedure, RequestedProcedureDescription or
  AdmittingDiagnosesDescription). ``--clinical`` values (``age``, ``sex``,
  ``height_cm``, ``weight_kg``, ``indication``, ``stress_type``, ``stress_agent``)
  win over the headers; each value records where it came from.
* Acquisition (one per analysed series): camera (Manufacturer,
  ManufacturerModelName, StationName), radiopharmaceutical and radionuclide,
  injected activity (RadionuclideTotalDose, MBq), collimator, gating (number of
  gates), reconstruction (ReconstructionMethod, ConvolutionKernel, SeriesDescription),
  attenuation and scatter correction (CorrectedImage ATTN/SCAT, PS3.3 C.8.4.9, or
  AttenuationCorrectionMethod), pharmacological stress agent
  (InterventionDrugInformationSequence); for CT the tube voltage, current, slice
  thickness, kernel and CTDIvol.

A value absent from every source is left out (never guessed).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pydicom
from pydicom.dataset import Dataset

from cardiolens.core.study import Series
from cardiolens.io.dicom_files import attribute_values

__all__ = [
    "acquisition_context",
    "bmi",
    "normal_database_flags",
    "patient_context",
    "read_header",
]

logger = logging.getLogger(__name__)


def read_header(series: Series) -> Dataset | None:
    """The header (no pixels) of a series' first DICOM file, or None for other files."""
    for path in series.files[:1]:
        try:
            return pydicom.dcmread(path, stop_before_pixels=True)
        except (OSError, pydicom.errors.InvalidDicomError):
            logger.info("no DICOM header for the context of %s", path)
    return None


def bmi(weight_kg: float, height_cm: float) -> float:
    """Body-mass index, kg/m^2 (WHO): weight / height^2."""
    return float(weight_kg) / (float(height_cm) / 100.0) ** 2


def _text(dataset: Dataset, keyword: str) -> str | None:
    value = dataset.get(keyword)
    text = "" if value is None else str(value).strip()
    return text or None


def _number(dataset: Dataset, keyword: str) -> float | None:
    value = dataset.get(keyword)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _dicom_age(dataset: Dataset) -> float | None:
    match = re.fullmatch(r"(\d{3})([DWMY])", str(dataset.get("PatientAge", "")).strip())
    if match:
        per_year = {"D": 365.25, "W": 52.18, "M": 12.0, "Y": 1.0}[match[2]]
        return round(int(match[1]) / per_year, 1)
    birth, study = str(dataset.get("PatientBirthDate", "")), str(dataset.get("StudyDate", ""))
    if len(birth) == 8 and len(study) == 8 and birth.isdigit() and study.isdigit():
        born = date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
        seen = date(int(study[:4]), int(study[4:6]), int(study[6:]))
        return float(seen.year - born.year - ((seen.month, seen.day) < (born.month, born.day)))
    return None


def _from_headers(headers: Sequence[Dataset]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for dataset in headers:
        values = {
            "age_years": _dicom_age(dataset),
            "sex": {"M": "male", "F": "female", "O": "other"}.get(
                str(dataset.get("PatientSex", "")).strip().upper()
            ),
            "height_cm": None
            if _number(dataset, "PatientSize") is None
            else round(100.0 * _number(dataset, "PatientSize"), 1),
            "weight_kg": _number(dataset, "PatientWeight"),
            "indication": _text(dataset, "ReasonForRequestedProcedure")
            or _text(dataset, "RequestedProcedureDescription")
            or _text(dataset, "AdmittingDiagnosesDescription"),
        }
        for key, value in values.items():
            if value is not None:
                found.setdefault(key, value)
    return found


_CLINICAL = {
    "age": "age_years",
    "sex": "sex",
    "height_cm": "height_cm",
    "weight_kg": "weight_kg",
    "indication": "indication",
    "stress_type": "stress_type",
    "stress_agent": "stress_agent",
}


def patient_context(
    headers: Sequence[Dataset], clinical: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Patient values with their source: ``{"values": {...}, "sources": {key: source}}``."""
    values = _from_headers(headers)
    sources = dict.fromkeys(values, "DICOM")
    for name, key in _CLINICAL.items():
        if clinical and clinical.get(name) not in (None, ""):
            values[key] = clinical[name]
            sources[key] = "--clinical"
    if values.get("height_cm") and values.get("weight_kg"):
        values["bmi_kg_m2"] = round(bmi(values["weight_kg"], values["height_cm"]), 1)
        sources["bmi_kg_m2"] = "computed"
    return {"values": values, "sources": sources}


def _nuclide_name(meaning: str | None) -> str | None:
    """A CID 18 code meaning without its superscript markup: ``^99m^Technetium`` ->
    ``Technetium-99m``."""
    if meaning is None:
        return None
    return re.sub(r"\^(\w+)\^(\w+)", r"\2-\1", meaning)


def _first(dataset: Dataset, keyword: str) -> Dataset:
    sequence = dataset.get(keyword) or [Dataset()]
    return sequence[0]


def acquisition_context(
    key: str, series: Series, dataset: Dataset | None, gates: int | None = None
) -> dict[str, Any]:
    """The protocol of one analysed series (``key``: stress, rest or calcium).

    ``gates``: the number of gates analysed, when the series referenced is the
    summed image of a gated acquisition.
    """
    entry: dict[str, Any] = {"series": key, "modality": series.modality}
    if series.n_gates or gates:
        entry["gates"] = series.n_gates or gates
    if dataset is None:
        return entry
    camera = " ".join(
        t for t in (_text(dataset, "Manufacturer"), _text(dataset, "ManufacturerModelName")) if t
    )
    radiopharmaceutical = _first(dataset, "RadiopharmaceuticalInformationSequence")
    nuclide = _first(radiopharmaceutical, "RadionuclideCodeSequence")
    corrected = [str(c).upper() for c in attribute_values(dataset.get("CorrectedImage"))]
    drug = _first(dataset, "InterventionDrugInformationSequence")
    values = {
        "camera": camera or None,
        "station": _text(dataset, "StationName"),
        "description": _text(dataset, "SeriesDescription"),
        "radiopharmaceutical": _text(radiopharmaceutical, "Radiopharmaceutical"),
        "radionuclide": _nuclide_name(_text(nuclide, "CodeMeaning")),
        "injected_mbq": _number(radiopharmaceutical, "RadionuclideTotalDose"),
        "collimator": _text(_first(dataset, "DetectorInformationSequence"), "CollimatorGridName"),
        "reconstruction": _text(dataset, "ReconstructionMethod")
        or _text(dataset, "ConvolutionKernel"),
        "stress_agent": _text(drug, "InterventionDrugName"),
        "kvp": _number(dataset, "KVP"),
        "tube_current_ma": _number(dataset, "XRayTubeCurrent"),
        "slice_thickness_mm": _number(dataset, "SliceThickness"),
        "ctdi_vol_mgy": _number(dataset, "CTDIvol"),
    }
    if series.modality in ("NM", "PT") and ("CorrectedImage" in dataset or corrected):
        values["attenuation_correction"] = "yes" if "ATTN" in corrected else "no"
        values["scatter_correction"] = "yes" if "SCAT" in corrected else "no"
    if _text(dataset, "AttenuationCorrectionMethod"):
        values["attenuation_correction"] = _text(dataset, "AttenuationCorrectionMethod")
    entry.update({k: v for k, v in values.items() if v is not None})
    return entry


_NUCLIDES = {
    "Tc-99m": ("99m", "technetium", "tc99", "sestamibi", "tetrofosmin"),
    "Tl-201": ("201", "thallium"),
    "Rb-82": ("rb-82", "rb82", "rubidium"),
    "N-13": ("n-13", "n13", "ammonia"),
    "F-18": ("f-18", "f18", "flurpiridaz"),
}


def _nuclide(text: str | None) -> str | None:
    lowered = (text or "").lower()
    for name, marks in _NUCLIDES.items():
        if any(mark in lowered for mark in marks):
            return name
    return None


def normal_database_flags(
    database: Mapping[str, Any],
    patient: Mapping[str, Any],
    acquisitions: Sequence[Mapping[str, Any]],
) -> list[dict[str, str]]:
    """Quality flags on the normal database: simulated, or of another tracer or sex.

    ``database`` is its description (``sex``, ``camera``, ``tracer``, ``source``...);
    a database "of any sex" matches both sexes; a tracer is compared by its
    radionuclide (Tc-99m, Tl-201, Rb-82, N-13, F-18) when both are known.
    """
    flags = []
    described = " ".join(str(database.get(k, "")) for k in ("camera", "tracer", "source")).lower()
    if database.get("simulated") or "simulat" in described or "phantom" in described:
        flags.append(
            {
                "stage": "nuclear",
                "severity": "warning",
                "code": "normals_simulated",
                "message": "the normal database is simulated (digital phantoms), not patients: "
                "scores and TPD are not clinically validated against it",
            }
        )
    study_nuclides = {
        _nuclide(f"{a.get('radiopharmaceutical', '')} {a.get('radionuclide', '')}")
        for a in acquisitions
        if a.get("modality") in ("NM", "PT")
    } - {None}
    database_nuclide = _nuclide(str(database.get("tracer", "")))
    if database_nuclide and study_nuclides and database_nuclide not in study_nuclides:
        flags.append(
            {
                "stage": "nuclear",
                "severity": "warning",
                "code": "normals_tracer_mismatch",
                "message": f"the normal database is for {database_nuclide}; the study used "
                f"{', '.join(sorted(study_nuclides))}",
            }
        )
    sex = str(patient.get("sex", "")).lower()
    database_sex = str(database.get("sex", "any")).lower()
    if sex in ("male", "female") and database_sex in ("male", "female") and sex != database_sex:
        flags.append(
            {
                "stage": "nuclear",
                "severity": "warning",
                "code": "normals_sex_mismatch",
                "message": f"the normal database is for {database_sex} patients; the patient "
                f"is {sex}",
            }
        )
    return flags
