"""Small stand-ins for stage outputs and DICOM series used by the report tests.

The nuclear and calcium dicts follow the ``--json`` contracts of issues 4 and 5;
the numbers are chosen by hand so the expected narrative is known.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from cardiolens.core.study import Series, SeriesRole
from cardiolens.core.volume import Volume

LAD_SEGMENTS = (1, 2, 7, 8, 13, 14, 17)


#: Uptake (% of maximum) of a segment of each score in the fakes, within the score rule
#: of :mod:`cardiolens.nuclear.scores` (4 "absent uptake" only below 42 %).
UPTAKE_OF_SCORE = {0: 100.0, 1: 85.0, 2: 70.0, 3: 55.0, 4: 25.0}


def perfusion_state(
    scores: dict[int, int], *, tpd_pct: float, lvef_pct: float | None = 60.0
) -> dict[str, Any]:
    """One stress or rest state with the given nonzero segment scores."""
    segment_scores = [scores.get(s, 0) for s in range(1, 18)]
    return {
        "segments": [UPTAKE_OF_SCORE[score] for score in segment_scores],
        "segment_scores": segment_scores,
        "summed_score": sum(segment_scores),
        "tpd_pct": tpd_pct,
        "territory_tpd_pct": {"LAD": tpd_pct, "LCx": 0.0, "RCA": 0.0},
        "function": None
        if lvef_pct is None
        else {"edv_ml": 100.0, "esv_ml": 100.0 * (1 - lvef_pct / 100), "lvef_pct": lvef_pct},
        "quality_flags": [],
    }


def reversible_lad_nuclear() -> dict[str, Any]:
    """Stress LAD defect (SSS 10), normal rest: SDS 10, reversible, severe ischemia."""
    stress = perfusion_state({1: 1, 7: 2, 8: 2, 13: 2, 14: 2, 17: 1}, tpd_pct=14.0, lvef_pct=52.0)
    rest = perfusion_state({}, tpd_pct=1.0, lvef_pct=58.0)
    return {
        "stress": stress,
        "rest": rest,
        "sds": stress["summed_score"] - rest["summed_score"],
        "ischemic_tpd_pct": 13.0,
        "tid": 1.05,
    }


def rest_only_nuclear() -> dict[str, Any]:
    return {
        "stress": None,
        "rest": perfusion_state({}, tpd_pct=1.5, lvef_pct=None),
        "sds": None,
        "ischemic_tpd_pct": None,
        "tid": None,
    }


def calcium_json(agatston_lad: float = 150.0, agatston_rca: float = 30.0) -> dict[str, Any]:
    lesions = [
        {
            "artery": "LAD",
            "agatston": agatston_lad,
            "volume_mm3": 120.0,
            "mass_mg": 25.0,
            "mass_integrated_mg": 22.0,
            "peak_hu": 520.0,
            "centroid_mm": [10.0, 20.0, 30.0],
            "needs_review": False,
        },
        {
            "artery": "RCA",
            "agatston": agatston_rca,
            "volume_mm3": 25.0,
            "mass_mg": 5.0,
            "mass_integrated_mg": 4.5,
            "peak_hu": 280.0,
            "centroid_mm": [-10.0, 5.0, 25.0],
            "needs_review": True,
        },
    ]
    total = agatston_lad + agatston_rca
    return {
        "agatston": total,
        "volume_mm3": 145.0,
        "mass_mg": 30.0,
        "mass_calibration": {"factor_mg_per_hu_mm3": 7.2e-4, "source": "default 120 kV"},
        "category": "100-299",
        "cac_drs": {"category": 2, "vessels": 2, "label": "CAC-DRS A2/N2"},
        "per_artery": {
            "LM": {"agatston": 0.0, "volume_mm3": 0.0, "mass_mg": 0.0},
            "LAD": {"agatston": agatston_lad, "volume_mm3": 120.0, "mass_mg": 25.0},
            "LCx": {"agatston": 0.0, "volume_mm3": 0.0, "mass_mg": 0.0},
            "RCA": {"agatston": agatston_rca, "volume_mm3": 25.0, "mass_mg": 5.0},
        },
        "lesions": lesions,
        "eat": {"volume_ml": 95.0, "mean_hu": -85.0},
        "quality_flags": [],
    }


def risk_json(needs_review: bool = False) -> dict[str, Any]:
    return {
        "probability": 0.32,
        "interval": {"lower": 0.21, "upper": 0.45, "confidence": 0.9},
        "needs_review": needs_review,
        "top_contributors": [
            {"feature": "stress_tpd_pct", "value": 14.0, "contribution": 0.12},
            {"feature": "age", "value": 67, "contribution": 0.05},
            {"feature": "sex", "value": "F", "contribution": -0.03},
        ],
        "base_value": 0.18,
        "model_id": "xgb-test-0001",
    }


def report_dict(
    nuclear: dict[str, Any] | None = None,
    calcium: dict[str, Any] | None = None,
    risk: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A complete report dict around the given sections."""
    from cardiolens.report.narrative import build_narrative

    data: dict[str, Any] = {
        "schema_version": "1.0",
        "report_id": "test-report",
        "study": {
            "study_uid": "1.2.3",
            "patient_id": "PHANTOM",
            "study_date": "20260101",
            "source": "/data/study",
            "series": [
                {
                    "series_uid": "1.2.3.4",
                    "modality": "NM",
                    "role": "spect_stress",
                    "description": "",
                    "n_gates": 8,
                    "shape": [64, 64, 64],
                    "spacing_mm": [6.8, 6.8, 6.8],
                    "n_files": 1,
                }
            ],
            "analyses": [
                k for k, v in (("nuclear", nuclear), ("calcium", calcium), ("risk", risk)) if v
            ],
            "clinical": None,
        },
        "nuclear": nuclear,
        "calcium": calcium,
        "risk": risk,
        "quality_flags": [],
        "failed": [],
        "narrative": {"findings": [], "impression": [], "references": []},
        "physician": {"free_text": "", "amendments": []},
        "provenance": {
            "cardiolens_version": "0.1.0",
            "models": [],
            "inputs": [{"path": "a.dcm", "sha256": "0" * 64}],
            "parameters": {},
            "started_utc": "2026-01-01T00:00:00+00:00",
            "run_time_s": 1.0,
        },
    }
    data["narrative"] = build_narrative(data).to_json()
    return data


def write_ct_series(folder: Path, *, n_slices: int = 6, size: int = 32) -> Series:
    """A small synthetic CT series on disk (HU cube with a bright 'lesion') as a Series."""
    folder.mkdir(parents=True, exist_ok=True)
    study_uid, series_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    spacing_xy, thickness = 0.5, 3.0
    origin = (-8.0, -8.0, 100.0)
    hu = np.full((n_slices, size, size), 40, dtype=np.int16)
    hu[2:4, 10:14, 10:14] = 500
    files = []
    for k in range(n_slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / f"ct_{k:03d}.dcm"
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = (
            study_uid,
            series_uid,
            frame_uid,
        )
        ds.Modality, ds.PatientName, ds.PatientID = "CT", "Phantom^Test", "PHANTOM"
        ds.PatientBirthDate, ds.PatientSex, ds.AccessionNumber, ds.StudyID = "", "O", "", "1"
        ds.StudyDate, ds.StudyTime, ds.ReferringPhysicianName = "20260101", "120000", ""
        ds.SeriesNumber, ds.InstanceNumber, ds.Manufacturer = 1, k + 1, "test"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.PositionReferenceIndicator, ds.KVP, ds.AcquisitionNumber = "", 120, 1
        ds.ImagePositionPatient = [origin[0], origin[1], origin[2] + k * thickness]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [spacing_xy, spacing_xy], thickness
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "HU"
        ds.PixelData = hu[k].tobytes()
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    volume = Volume(
        hu.astype(np.float32),
        spacing_mm=(thickness, spacing_xy, spacing_xy),
        origin_mm=origin,
        modality="CT",
        frame_of_reference_uid=frame_uid,
    )
    return Series(
        series_uid=series_uid, modality="CT", volume=volume, role=SeriesRole.CT_CALCIUM, files=files
    )


def lesion_mask(series: Series) -> Volume:
    """The bright cube of :func:`write_ct_series` as a label volume."""
    return series.volume.with_array((series.volume.array > 130).astype(np.uint8))


def read_back(path: Path) -> pydicom.Dataset:
    return pydicom.dcmread(path)


def sr_numbers(path: Path) -> dict[str, list[float]]:
    """``{concept meaning: [values]}`` of every NUM item of a DICOM SR, in document order."""
    values: dict[str, list[float]] = {}

    def walk(items):
        for item in items:
            if item.ValueType == "NUM":
                values.setdefault(item.ConceptNameCodeSequence[0].CodeMeaning, []).append(
                    float(item.MeasuredValueSequence[0].NumericValue)
                )
            if "ContentSequence" in item:
                walk(item.ContentSequence)

    walk(pydicom.dcmread(path).ContentSequence)
    return values
