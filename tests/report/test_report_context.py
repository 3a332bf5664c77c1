"""Patient and protocol context from DICOM headers and --clinical; normal-database flags."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from cardiolens.core.study import Series
from cardiolens.core.volume import Volume
from cardiolens.report.context import (
    acquisition_context,
    bmi,
    normal_database_flags,
    patient_context,
)


def _header(**values) -> Dataset:
    ds = Dataset()
    for key, value in values.items():
        setattr(ds, key, value)
    return ds


def test_real_physionet_header_gives_age_from_birth_and_study_dates(physionet_dicom_dir):
    [first, *_] = sorted(physionet_dicom_dir.glob("*.dcm"))
    header = pydicom.dcmread(first, stop_before_pixels=True)
    # born 1968-10-22, scanned 2023-01-22: 54 full years; sex, height, weight not recorded
    assert (header.PatientBirthDate, header.StudyDate) == ("19681022", "20230122")
    context = patient_context([header], None)
    assert context == {"values": {"age_years": 54.0}, "sources": {"age_years": "DICOM"}}
    series = Series(series_uid="1", modality="NM", volume=Volume(np.zeros((1, 1, 1))))
    entry = acquisition_context("rest", series, header)
    assert entry["camera"] == "GE MEDICAL SYSTEMS UFC"
    assert "attenuation_correction" not in entry  # CorrectedImage absent: not guessed


def test_patient_age_bmi_and_clinical_values_win():
    header = _header(PatientAge="065Y", PatientSex="F", PatientSize=1.65, PatientWeight=70)
    context = patient_context([header], {"indication": "chest pain", "weight_kg": 80})
    values, sources = context["values"], context["sources"]
    assert values["age_years"] == 65.0 and values["sex"] == "female"
    assert values["height_cm"] == 165.0 and values["weight_kg"] == 80
    assert values["bmi_kg_m2"] == pytest.approx(80 / 1.65**2, abs=0.05)  # 29.4
    assert sources == {
        "age_years": "DICOM",
        "sex": "DICOM",
        "height_cm": "DICOM",
        "weight_kg": "--clinical",
        "indication": "--clinical",
        "bmi_kg_m2": "computed",
    }
    assert bmi(70, 165) == pytest.approx(25.71, abs=0.01)
    assert patient_context([_header(PatientAge="006M")], None)["values"]["age_years"] == 0.5


def test_nm_protocol_from_the_header():
    nuclide = _header(CodeMeaning="^99m^Technetium")
    drug = _header(InterventionDrugName="Regadenoson")
    info = _header(
        Radiopharmaceutical="Tc-99m tetrofosmin",
        RadionuclideTotalDose=925.0,
        RadionuclideCodeSequence=[nuclide],
    )
    header = _header(
        Manufacturer="GE",
        ManufacturerModelName="Discovery NM 530c",
        CorrectedImage=["ATTN", "DECY"],
        RadiopharmaceuticalInformationSequence=[info],
        InterventionDrugInformationSequence=[drug],
    )
    series = Series(series_uid="1", modality="NM", volume=Volume(np.zeros((1, 1, 1))))
    entry = acquisition_context("stress", series, header, gates=8)
    assert entry == {
        "series": "stress",
        "modality": "NM",
        "gates": 8,
        "camera": "GE Discovery NM 530c",
        "radiopharmaceutical": "Tc-99m tetrofosmin",
        "radionuclide": "Technetium-99m",
        "injected_mbq": 925.0,
        "stress_agent": "Regadenoson",
        "attenuation_correction": "yes",
        "scatter_correction": "no",
    }


def test_one_valued_corrected_image_is_one_value():
    series = Series(series_uid="1", modality="NM", volume=Volume(np.zeros((1, 1, 1))))
    for value, expected in (("ATTN", "yes"), ("SCAT", "no")):
        entry = acquisition_context("rest", series, _header(CorrectedImage=value))
        assert entry["attenuation_correction"] == expected  # not split into characters


def test_normal_database_flags():
    simulated = {"sex": "any", "tracer": "Tc-99m perfusion agent (simulated)"}
    [flag] = normal_database_flags(simulated, {}, [])
    assert flag["code"] == "normals_simulated" and flag["severity"] == "warning"
    database = {"sex": "male", "tracer": "Tc-99m sestamibi", "camera": "GE D-SPECT"}
    thallium = [{"modality": "NM", "radiopharmaceutical": "Thallous chloride Tl-201"}]
    codes = [f["code"] for f in normal_database_flags(database, {"sex": "female"}, thallium)]
    assert codes == ["normals_tracer_mismatch", "normals_sex_mismatch"]
    same = [{"modality": "NM", "radiopharmaceutical": "Tc99m Sestamibi"}]
    assert normal_database_flags(database, {"sex": "male"}, same) == []
