"""PET quantities from the DICOM header: activity concentration and body-weight SUV.

SUV(bw) = C [Bq/mL] x body weight [g] / injected dose decay-corrected to the
image reference time [Bq], following the QIBA vendor-neutral SUV pseudo-code
(QIBA FDG-PET/CT Profile, 2016; Kinahan et al., "PET/CT standardized uptake
values (SUVs) in clinical practice", Semin Ultrasound CT MR 2010) and the
DICOM PET Image module (PS3.3 C.8.9.4: Units, DecayCorrection).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from pydicom.dataset import Dataset

__all__ = ["dicom_datetime", "suv_body_weight_factor"]

PET_UNITS = {"BQML": "Bq/mL", "CNTS": "counts", "GML": "SUVbw (g/mL)", "PROPCNTS": "counts"}


def dicom_datetime(date: str | None, time: str | None) -> datetime | None:
    """A datetime from DICOM DA (``YYYYMMDD``) and TM (``HHMMSS.ffffff``) strings."""
    if not date or not time:
        return None
    time = str(time).strip().split("+")[0].split("-")[0]
    whole, _, fraction = time.partition(".")
    whole = whole.ljust(6, "0")
    try:
        moment = datetime.strptime(str(date).strip()[:8] + whole[:6], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    if fraction:
        moment += timedelta(seconds=float("0." + fraction))
    return moment


def _dt_attribute(value: str | None) -> datetime | None:
    if not value:
        return None
    value = str(value)
    return dicom_datetime(value[:8], value[8:] or "000000")


def suv_body_weight_factor(dataset: Dataset) -> tuple[float | None, str]:
    """Factor turning Bq/mL into SUVbw (g/mL), and how it was obtained or why not.

    Returns ``(factor, note)``; ``factor`` is None when the header lacks
    PatientWeight, the injected dose, the half-life or the times.
    """
    units = str(dataset.get("Units", "")).upper()
    if units == "GML":
        return 1.0, "pixel values already SUVbw (Units GML)"
    if units != "BQML":
        return None, f"Units is {units or 'absent'}, not BQML"
    weight_kg = dataset.get("PatientWeight")
    if not weight_kg or float(weight_kg) <= 0:
        return None, "PatientWeight absent"
    info_seq = dataset.get("RadiopharmaceuticalInformationSequence")
    if not info_seq:
        return None, "RadiopharmaceuticalInformationSequence absent"
    info = info_seq[0]
    dose_bq = info.get("RadionuclideTotalDose")
    half_life_s = info.get("RadionuclideHalfLife")
    if not dose_bq or not half_life_s:
        return None, "RadionuclideTotalDose or RadionuclideHalfLife absent"
    injection = _dt_attribute(info.get("RadiopharmaceuticalStartDateTime")) or dicom_datetime(
        dataset.get("SeriesDate") or dataset.get("AcquisitionDate"),
        info.get("RadiopharmaceuticalStartTime"),
    )
    decay_correction = str(dataset.get("DecayCorrection", "START")).upper()
    if decay_correction not in ("START", "ADMIN"):
        return None, f"DecayCorrection {decay_correction}: per-frame decay is not modelled"
    if decay_correction == "ADMIN":
        decayed_dose = float(dose_bq)
        note = "dose at injection (DecayCorrection ADMIN)"
    else:
        reference = dicom_datetime(
            dataset.get("SeriesDate"), dataset.get("SeriesTime")
        ) or dicom_datetime(dataset.get("AcquisitionDate"), dataset.get("AcquisitionTime"))
        if injection is None or reference is None:
            return None, "injection or series time absent"
        elapsed_s = (reference - injection).total_seconds()
        if elapsed_s < 0:
            return None, f"series starts {-elapsed_s:.0f} s before injection"
        decayed_dose = float(dose_bq) * math.exp(-math.log(2) * elapsed_s / float(half_life_s))
        note = f"dose decayed over {elapsed_s:.0f} s to series start (DecayCorrection START)"
    return float(weight_kg) * 1000.0 / decayed_dose, note
