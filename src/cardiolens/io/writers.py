"""DICOM writers for simulated studies: NM Image (multi-frame) and CT Image (one file per slice).

Both write what :func:`cardiolens.io.load_study` reads back with the same
geometry. UIDs not given are derived deterministically (pydicom
``generate_uid`` with entropy sources) from the study UID and series
description, so the same phantom written twice gets the same UIDs, and NM and
CT series of one study share a Frame of Reference unless told otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from cardiolens import __version__
from cardiolens.core.errors import GeometryError, ParameterError
from cardiolens.core.volume import Volume
from cardiolens.io.dicom_files import CT_IMAGE_STORAGE, NM_IMAGE_STORAGE

__all__ = [
    "write_ct_series",
    "write_nm_multiframe",
]

logger = logging.getLogger(__name__)

UINT16_MAX = 65535
CT_RESCALE_INTERCEPT = -1024.0

#: Photopeak windows (keV): 140.5 keV +-10% for Tc-99m, 70 keV +-10% for Tl-201 x-rays.
ENERGY_WINDOWS_KEV = {"tc-99m": (126.45, 154.55), "tl-201": (63.0, 77.0)}
#: Radionuclide codes (SNOMED-RT, DICOM CID 18 Isotopes in Radiopharmaceuticals).
RADIONUCLIDE_CODES = {"tc-99m": ("C-163A8", "^99m^Technetium")}


def _ds(value: float) -> str:
    """A decimal string (DS) of at most 16 characters."""
    text = f"{value:.10g}"
    return text if len(text) <= 16 else f"{value:.8e}"


def _derived_uid(*parts: str) -> str:
    return str(generate_uid(entropy_srcs=[str(p) for p in parts]))


@dataclass(frozen=True)
class _SeriesIdentity:
    patient_id: str
    study_uid: str
    series_uid: str
    series_description: str
    study_date: str
    frame_of_reference_uid: str


def _base_dataset(
    *, sop_class_uid: str, sop_instance_uid: str, modality: str, identity: _SeriesIdentity
) -> Dataset:
    """Patient, General Study/Series, Frame of Reference, Equipment and SOP Common modules."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = identity.study_date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.AccessionNumber = ""
    ds.Modality = modality
    ds.Manufacturer = "cardiolens"
    ds.ManufacturerModelName = "cardiolens digital phantom"
    ds.SoftwareVersions = __version__
    ds.ReferringPhysicianName = ""
    ds.SeriesDescription = identity.series_description
    ds.PatientName = identity.patient_id
    ds.PatientID = identity.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = identity.study_uid
    ds.SeriesInstanceUID = identity.series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.BodyPartExamined = "HEART"
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = identity.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    return ds


def _quantise_counts(stack: np.ndarray) -> tuple[np.ndarray, float]:
    """uint16 values and RescaleSlope so that ``stored x slope`` approximates ``stack``.

    Non-negative integer counts up to 65535 are stored exactly (slope 1);
    otherwise ``slope = max / 65535`` and the error is at most ``slope / 2``
    per voxel (relative error <= 1/131070 of the maximum).
    """
    if not np.all(np.isfinite(stack)):
        raise ParameterError("NM counts must be finite; got NaN or infinite voxels")
    if stack.min() < 0:
        raise ParameterError(
            f"NM counts must be non-negative; minimum is {stack.min():g} (clip negative voxels first)"
        )
    peak = float(stack.max())
    if peak <= UINT16_MAX and np.array_equal(stack, np.round(stack)):
        return stack.astype(np.uint16), 1.0
    slope = float(_ds(peak / UINT16_MAX * (1 + 1e-9)))
    while round(peak / slope) > UINT16_MAX:
        slope = float(_ds(slope * (1 + 1e-8)))
    return np.round(stack / slope).astype(np.uint16), slope


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _nuclide_key(radiopharmaceutical: str) -> str | None:
    text = radiopharmaceutical.lower().replace(" ", "")
    for key in ENERGY_WINDOWS_KEV:
        if key in text or key.replace("-", "") in text:
            return key
    return None


def _isotope_module(
    ds: Dataset, radiopharmaceutical: str, window_kev: tuple[float, float] | None
) -> None:
    """NM Isotope module: energy window and radiopharmaceutical (PS3.3 C.8.4.10)."""
    key = _nuclide_key(radiopharmaceutical)
    window_kev = window_kev or ENERGY_WINDOWS_KEV.get(key or "", None)
    if window_kev is None:
        raise ParameterError(
            f"no default energy window for {radiopharmaceutical!r}; pass energy_window_kev=(lo, hi)"
        )
    window_range = Dataset()
    window_range.EnergyWindowLowerLimit = _ds(window_kev[0])
    window_range.EnergyWindowUpperLimit = _ds(window_kev[1])
    window = Dataset()
    window.EnergyWindowRangeSequence = DicomSequence([window_range])
    window.EnergyWindowName = "PHOTOPEAK"
    ds.EnergyWindowInformationSequence = DicomSequence([window])
    ds.NumberOfEnergyWindows = 1
    info = Dataset()
    info.Radiopharmaceutical = radiopharmaceutical
    code = RADIONUCLIDE_CODES.get(key or "")
    info.RadionuclideCodeSequence = DicomSequence([_code(code[0], "SRT", code[1])] if code else [])
    ds.RadiopharmaceuticalInformationSequence = DicomSequence([info])


def _gated_module(ds: Dataset, n_gates: int, rr_interval_ms: float) -> None:
    """NM Multi-gated Acquisition module with a nominal R-R interval (PS3.3 C.8.4.7)."""
    ds.BeatRejectionFlag = "N"
    data = Dataset()
    data.FrameTime = _ds(rr_interval_ms / n_gates)
    data.NominalInterval = int(round(rr_interval_ms))
    data.LowRRValue = int(round(0.8 * rr_interval_ms))
    data.HighRRValue = int(round(1.2 * rr_interval_ms))
    data.IntervalsAcquired = 0
    data.IntervalsRejected = 0
    gated = Dataset()
    gated.TriggerTime = 0
    gated.CardiacFramingType = "FORW"
    gated.DataInformationSequence = DicomSequence([data])
    ds.GatedInformationSequence = DicomSequence([gated])


def _axes(volume: Volume) -> tuple[np.ndarray, np.ndarray, float]:
    """Row and column cosines and the sign of the slice axis along row x column."""
    row, col, slice_axis = volume.direction[:, 0], volume.direction[:, 1], volume.direction[:, 2]
    return row, col, float(np.sign(np.cross(row, col) @ slice_axis))


def write_nm_multiframe(
    path: str | Path,
    volume_or_gates: Volume | Sequence[Volume],
    *,
    patient_id: str,
    study_uid: str,
    series_uid: str | None = None,
    series_description: str,
    acquisition: str = "rest",
    frame_of_reference_uid: str | None = None,
    study_date: str = "20260101",
    radiopharmaceutical: str = "Tc-99m sestamibi",
    energy_window_kev: tuple[float, float] | None = None,
    corrected_image: Sequence[str] = (),
    rr_interval_ms: float = 1000.0,
) -> Path:
    """Write a reconstructed SPECT volume (or gates) as one NM Image Storage multi-frame file.

    NM Image IOD (DICOM PS3.3 A.5; SOP class 1.2.840.10008.5.1.4.1.1.20) with
    ImageType ``RECON TOMO`` (one volume) or ``RECON GATED TOMO`` (list of gate
    volumes; FrameIncrementPointer RRIntervalVector, TimeSlotVector,
    SliceVector; frames gate-major). Geometry goes to DetectorInformationSequence;
    a left-handed direction (slices against row x column) is written as a
    negative SpacingBetweenSlices, as GE does.

    Values are counts stored as uint16 with RescaleSlope: exact for integer
    counts <= 65535, otherwise ``slope = max / 65535`` and each voxel is within
    ``slope / 2`` of its input value.

    Parameters
    ----------
    path
        Output file (parent folders are created).
    volume_or_gates
        One Volume (counts, ``(z, y, x)``) or a list of gate volumes on one grid.
    acquisition
        ``"rest"`` or ``"stress"``; written to ImageID and used for role detection.
    corrected_image
        CorrectedImage values (``"ATTN"``, ``"SCAT"``, ``"DECY"``...).
    rr_interval_ms
        Nominal R-R interval written to the gated acquisition module.

    Returns
    -------
    Path
        The file written.
    """
    if acquisition not in ("rest", "stress"):
        raise ParameterError(f"acquisition must be 'rest' or 'stress'; got {acquisition!r}")
    gated = not isinstance(volume_or_gates, Volume)
    gates = list(volume_or_gates) if gated else [volume_or_gates]
    if not gates:
        raise ParameterError("write_nm_multiframe needs at least one gate volume")
    reference = gates[0]
    for g, gate in enumerate(gates[1:], start=1):
        if not gate.same_geometry(reference):
            raise GeometryError(f"gate {g} is not on the grid of gate 0: {gate!r} vs {reference!r}")
    stored, slope = _quantise_counts(
        np.stack([np.asarray(g.array, dtype=np.float64) for g in gates])
    )
    n_gates, n_slices, rows, columns = stored.shape
    series_uid = series_uid or _derived_uid(study_uid, "NM", series_description, acquisition)
    frame_of_reference_uid = frame_of_reference_uid or _derived_uid(study_uid, "frame of reference")
    ds = _base_dataset(
        sop_class_uid=NM_IMAGE_STORAGE,
        sop_instance_uid=_derived_uid(series_uid, "instance"),
        modality="NM",
        identity=_SeriesIdentity(
            patient_id, study_uid, series_uid, series_description, study_date,
            frame_of_reference_uid,
        ),
    )  # fmt: skip
    kind = "RECON GATED TOMO" if gated else "RECON TOMO"
    ds.ImageType = ["DERIVED", "PRIMARY", kind, "EMISSION"]
    ds.ImageID = acquisition.upper()
    ds.PatientOrientationCodeSequence = DicomSequence([])
    ds.PatientGantryRelationshipCodeSequence = DicomSequence([])
    ds.Rows, ds.Columns = rows, columns
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [_ds(reference.spacing_mm[1]), _ds(reference.spacing_mm[2])]
    row, col, sign = _axes(reference)
    ds.SliceThickness = _ds(reference.spacing_mm[0])
    ds.SpacingBetweenSlices = _ds(sign * reference.spacing_mm[0])
    if slope != 1.0:
        ds.RescaleIntercept = "0"
        ds.RescaleSlope = _ds(slope)
    ds.CountsAccumulated = int(min(np.sum(stored, dtype=np.float64) * slope, 2**31 - 1))
    if corrected_image:
        ds.CorrectedImage = list(corrected_image)
    detector = Dataset()
    detector.ImagePositionPatient = [_ds(v) for v in reference.origin_mm]
    detector.ImageOrientationPatient = [_ds(v) for v in (*row, *col)]
    detector.CollimatorType = "PARA"
    detector.FocalDistance = ""
    detector.XFocusCenter = ""
    detector.YFocusCenter = ""
    detector.ZoomFactor = ""
    ds.DetectorInformationSequence = DicomSequence([detector])
    ds.NumberOfDetectors = 1
    rotation = Dataset()
    rotation.StartAngle = "0"
    rotation.AngularStep = "3"
    rotation.RotationDirection = "CW"
    rotation.ScanArc = "180"
    rotation.ActualFrameDuration = 20000
    rotation.NumberOfFramesInRotation = 60
    ds.RotationInformationSequence = DicomSequence([rotation])
    ds.NumberOfRotations = 1
    _isotope_module(ds, radiopharmaceutical, energy_window_kev)
    ds.NumberOfFrames = n_gates * n_slices
    ds.NumberOfSlices = n_slices
    ds.SliceVector = [s + 1 for _ in range(n_gates) for s in range(n_slices)]
    if gated:
        ds.FrameIncrementPointer = [0x00540060, 0x00540070, 0x00540080]
        ds.NumberOfTimeSlots = n_gates
        ds.TimeSlotVector = [g + 1 for g in range(n_gates) for _ in range(n_slices)]
        ds.NumberOfRRIntervals = 1
        ds.RRIntervalVector = [1] * (n_gates * n_slices)
        _gated_module(ds, n_gates, rr_interval_ms)
    else:
        ds.FrameIncrementPointer = 0x00540080
    ds.PixelData = stored.reshape(-1, rows, columns).tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    logger.info("wrote %s (%s, %d frames, RescaleSlope %g)", path, kind, ds.NumberOfFrames, slope)
    return path


def write_ct_series(
    folder: str | Path,
    volume: Volume,
    *,
    patient_id: str,
    study_uid: str,
    series_uid: str | None = None,
    series_description: str = "Calcium score",
    kvp: float = 120.0,
    slice_thickness_mm: float | None = None,
    study_date: str = "20260101",
    convolution_kernel: str = "FC12",
    frame_of_reference_uid: str | None = None,
    contrast_agent: str | None = None,
) -> list[Path]:
    """Write a CT volume (HU) as CT Image Storage files, one per slice.

    CT Image IOD (DICOM PS3.3 A.3; SOP class 1.2.840.10008.5.1.4.1.1.2), int16
    stored values with RescaleIntercept -1024 and RescaleSlope 1, so HU are
    rounded to integers. ImagePositionPatient of slice ``k`` is
    ``origin + k x spacing_z x direction[:, 2]``.

    Parameters
    ----------
    folder
        Output folder; files are named ``CT_0001.dcm``, ...
    volume
        HU values, ``(z, y, x)``.
    contrast_agent
        ContrastBolusAgent, for contrast-enhanced (CCTA) phantoms.

    Returns
    -------
    list of Path
        The files written, in slice order.
    """
    hu = np.round(np.asarray(volume.array, dtype=np.float64))
    stored = hu - CT_RESCALE_INTERCEPT
    if not np.all(np.isfinite(stored)) or stored.min() < -32768 or stored.max() > 32767:
        raise ParameterError(
            f"CT values must be finite HU in [{-32768 + CT_RESCALE_INTERCEPT:g}, "
            f"{32767 + CT_RESCALE_INTERCEPT:g}]; got [{np.nanmin(hu):g}, {np.nanmax(hu):g}]"
        )
    stored = stored.astype(np.int16)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or _derived_uid(study_uid, "CT", series_description)
    frame_of_reference_uid = frame_of_reference_uid or _derived_uid(study_uid, "frame of reference")
    identity = _SeriesIdentity(
        patient_id, study_uid, series_uid, series_description, study_date, frame_of_reference_uid
    )
    row, col, _ = _axes(volume)
    slice_axis = volume.direction[:, 2] * volume.spacing_mm[0]
    paths = []
    for k in range(volume.shape[0]):
        ds = _base_dataset(
            sop_class_uid=CT_IMAGE_STORAGE,
            sop_instance_uid=_derived_uid(series_uid, "slice", str(k)),
            modality="CT",
            identity=identity,
        )
        position = np.asarray(volume.origin_mm) + k * slice_axis
        ds.ImageType = ["DERIVED", "PRIMARY", "AXIAL"]
        ds.PatientPosition = "HFS"
        ds.InstanceNumber = k + 1
        ds.AcquisitionNumber = 1
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.ImageOrientationPatient = [_ds(v) for v in (*row, *col)]
        ds.SliceLocation = _ds(float(position @ np.cross(row, col)))
        ds.PixelSpacing = [_ds(volume.spacing_mm[1]), _ds(volume.spacing_mm[2])]
        ds.SliceThickness = _ds(slice_thickness_mm or volume.spacing_mm[0])
        ds.KVP = _ds(kvp)
        ds.ConvolutionKernel = convolution_kernel
        if contrast_agent:
            ds.ContrastBolusAgent = contrast_agent
        ds.Rows, ds.Columns = volume.shape[1], volume.shape[2]
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = _ds(CT_RESCALE_INTERCEPT)
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.PixelData = np.ascontiguousarray(stored[k]).tobytes()
        path = folder / f"CT_{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    logger.info("wrote %d CT slices to %s", len(paths), folder)
    return paths
