"""Dynamic PET: frame timing, decay correction and checks, from DICOM or NIfTI + JSON sidecar.

DICOM (PET Image module, PS3.3 C.8.9.4): a frame is the set of slices sharing a
time slice (``ImageIndex = (time slice - 1) x NumberOfSlices + slice``) or, without
ImageIndex, an AcquisitionTime/FrameReferenceTime. Frame start is AcquisitionTime
(the actual start of each frame of a DYNAMIC series) relative to the first frame;
without it, it is recovered from FrameReferenceTime, the decay-weighted reference
time ``t_ref = t_start + ln(lambda D / (1 - exp(-lambda D))) / lambda`` (C.8.9.4.1.5).
Duration is ActualFrameDuration (ms). DecayCorrection (START, ADMIN or NONE) is
kept; NONE frames are decay corrected here to the series start, and an absent
attribute is flagged (START assumed).

NIfTI: a 4D image (last axis frames) with a BIDS-PET style sidecar ``<name>.json``
holding ``FrameTimesStart`` and ``FrameDuration`` (s), and optionally
``ImageDecayCorrected``, ``TracerRadionuclide`` and ``Units``.

Checks (one-line :class:`~cardiolens.core.errors.InputError` naming the file): a
single frame, no timing, a missing duration, frames out of order or overlapping,
gaps between frames, frames with missing slices and fewer frames than
NumberOfTimeSlices.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from cardiolens.core.errors import InputError
from cardiolens.core.volume import Volume
from cardiolens.io.pet import dicom_datetime

__all__ = [
    "FrameTiming",
    "check_frames",
    "dicom_frame_timing",
    "read_dynamic_nifti",
    "sidecar_path",
    "write_dynamic_pet",
]

#: Physical half-lives (s) by radionuclide keyword, for decay correction when the header has none.
HALF_LIVES_S = {"rb": 75.45, "rubidium": 75.45, "n-13": 597.9, "n13": 597.9, "ammonia": 597.9,
                "o-15": 122.24, "o15": 122.24, "water": 122.24, "f-18": 6586.2}  # fmt: skip
GAP_TOLERANCE_S = 1.0
#: Per-file timing attributes; the series-level ones are read from the first file.
_TIMING_TAGS = [
    "ImageIndex", "NumberOfSlices", "AcquisitionDate", "AcquisitionTime", "FrameReferenceTime",
    "ActualFrameDuration",
]  # fmt: skip


@dataclass(frozen=True)
class FrameTiming:
    """Start and duration (s, from the first frame's start) of each frame, and decay handling.

    ``decay_factors`` multiply each frame's values to decay correct them to the
    series start (all 1 when the images are already corrected).
    """

    starts_s: np.ndarray
    durations_s: np.ndarray
    decay_correction: str
    half_life_s: float | None
    radiopharmaceutical: str
    units: str
    decay_factors: np.ndarray
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def mid_s(self) -> np.ndarray:
        """Frame mid-times (s)."""
        return self.starts_s + 0.5 * self.durations_s

    @property
    def scan_s(self) -> float:
        """End of the last frame (s)."""
        return float(self.starts_s[-1] + self.durations_s[-1])

    def to_json(self) -> dict:
        """JSON-ready timing summary."""
        return {
            "n_frames": int(len(self.starts_s)),
            "frame_starts_s": [round(float(v), 3) for v in self.starts_s],
            "frame_durations_s": [round(float(v), 3) for v in self.durations_s],
            "decay_correction": self.decay_correction,
            "half_life_s": self.half_life_s,
            "radiopharmaceutical": self.radiopharmaceutical,
            "units": self.units,
            "flags": list(self.flags),
        }


def _half_life(info: Dataset, radiopharmaceutical: str) -> float | None:
    value = info.get("RadionuclideHalfLife")
    if value not in (None, ""):
        return float(value)
    text = radiopharmaceutical.lower()
    return next((v for k, v in HALF_LIVES_S.items() if k in text), None)


def _decay_factors(
    starts: np.ndarray, durations: np.ndarray, half_life_s: float | None, path: Path
) -> np.ndarray:
    """Factors correcting frame averages to the series start: ``exp(l s) l D / (1 - exp(-l D))``."""
    if half_life_s is None:
        raise InputError(
            "DecayCorrection NONE and no RadionuclideHalfLife: cannot decay correct the frames",
            path,
        )
    lam = math.log(2) / half_life_s
    return np.exp(lam * starts) * lam * durations / -np.expm1(-lam * durations)


def check_frames(starts: np.ndarray, durations: np.ndarray, paths: Sequence[Path]) -> None:
    """One-line errors for a single frame, overlaps (out of order) and gaps between frames."""
    if len(starts) < 2:
        raise InputError(
            "a single frame: myocardial blood flow needs a dynamic series (several time frames)",
            paths[0],
        )
    if np.any(durations <= 0):
        k = int(np.flatnonzero(durations <= 0)[0])
        raise InputError(f"frame {k + 1} has duration {durations[k]:g} s", paths[k])
    backwards = np.flatnonzero(np.diff(starts) < 0)
    if backwards.size:
        k = int(backwards[0]) + 1
        raise InputError(
            f"frames out of order: frame {k + 1} starts at {starts[k]:.1f} s, before frame {k} "
            f"at {starts[k - 1]:.1f} s",
            paths[k],
        )
    ends = starts + durations
    for k in range(1, len(starts)):
        if starts[k] < ends[k - 1] - GAP_TOLERANCE_S:
            raise InputError(
                f"frames out of order or overlapping: frame {k + 1} starts at {starts[k]:.1f} s, "
                f"before frame {k} ends at {ends[k - 1]:.1f} s",
                paths[k],
            )
        if starts[k] > ends[k - 1] + GAP_TOLERANCE_S:
            raise InputError(
                f"gap of {starts[k] - ends[k - 1]:.1f} s between frame {k} (ends "
                f"{ends[k - 1]:.1f} s) and frame {k + 1}: a frame is missing",
                paths[k],
            )


def _frame_groups(headers: list[tuple[Path, Dataset]]) -> list[list[tuple[Path, Dataset]]]:
    """Files grouped into frames, in the frame order the header states."""
    first = headers[0][1]
    n_slices = int(first.get("NumberOfSlices") or 0)
    groups: dict[float, list[tuple[Path, Dataset]]] = defaultdict(list)
    if n_slices and all(h.get("ImageIndex") not in (None, "") for _, h in headers):
        for path, h in headers:
            groups[(int(h.ImageIndex) - 1) // n_slices].append((path, h))
    else:
        for path, h in headers:
            moment = dicom_datetime(h.get("AcquisitionDate"), h.get("AcquisitionTime"))
            reference = h.get("FrameReferenceTime")
            key = moment.timestamp() if moment is not None else reference
            if key in (None, ""):
                raise InputError(
                    "no frame timing: neither AcquisitionTime nor FrameReferenceTime", path
                )
            groups[float(key)].append((path, h))
    return [groups[k] for k in sorted(groups)]


def dicom_frame_timing(files: Sequence[str | Path]) -> FrameTiming:
    """Timing of a dynamic PET series from the headers of its slice files (see the module doc)."""
    headers = [
        (
            Path(p),
            pydicom.dcmread(p, stop_before_pixels=True, force=True, specific_tags=_TIMING_TAGS),
        )
        for p in files
    ]
    if not headers:
        raise InputError("no files in the dynamic series")
    frames = _frame_groups(headers)
    first = pydicom.dcmread(headers[0][0], stop_before_pixels=True, force=True)
    n_expected = int(first.get("NumberOfTimeSlices") or 0)
    if n_expected and len(frames) < n_expected:
        raise InputError(
            f"{len(frames)} of {n_expected} frames (NumberOfTimeSlices) present: frames missing",
            headers[0][0],
        )
    sizes = [len(f) for f in frames]
    full = max(sizes)
    for k, size in enumerate(sizes):
        if size < full:
            raise InputError(
                f"frame {k + 1} has {size} of {full} slices: slices missing", frames[k][0][0]
            )
    paths = [f[0][0] for f in frames]
    durations = []
    for path, h in (f[0] for f in frames):
        value = h.get("ActualFrameDuration")
        if value in (None, ""):
            raise InputError("no frame timing: ActualFrameDuration absent", path)
        durations.append(float(value) / 1000.0)
    durations = np.asarray(durations)
    info = (first.get("RadiopharmaceuticalInformationSequence") or [Dataset()])[0]
    radiopharmaceutical = str(info.get("Radiopharmaceutical", "") or "")
    half_life = _half_life(info, radiopharmaceutical)
    moments = [
        dicom_datetime(h.get("AcquisitionDate"), h.get("AcquisitionTime"))
        for _, h in (f[0] for f in frames)
    ]
    references = [h.get("FrameReferenceTime") for _, h in (f[0] for f in frames)]
    if all(m is not None for m in moments) and len({m for m in moments}) == len(moments):
        starts = np.array([(m - moments[0]).total_seconds() for m in moments])
    elif all(r not in (None, "") for r in references):
        reference_s = np.array([float(r) / 1000.0 for r in references])
        if half_life:
            lam = math.log(2) / half_life
            offset = np.log(lam * durations / -np.expm1(-lam * durations)) / lam
        else:
            offset = 0.5 * durations
        starts = reference_s - offset
        starts = starts - starts[0]
    else:
        raise InputError(
            "no frame timing: AcquisitionTime and FrameReferenceTime do not tell the frames apart",
            paths[0],
        )
    check_frames(starts, durations, paths)
    flags = []
    recorded = str(first.get("DecayCorrection", "") or "").upper()
    if not recorded:
        flags.append(
            "DecayCorrection absent from the header: frames assumed decay corrected (START)"
        )
        decay_correction = "START (assumed)"
    else:
        decay_correction = recorded
    factors = (
        _decay_factors(starts, durations, half_life, paths[0])
        if recorded == "NONE"
        else np.ones(len(starts))
    )
    units = str(first.get("Units", "") or "")
    if units.upper() != "BQML":
        flags.append(f"Units {units or 'absent'}, not BQML (Bq/mL): flow is unaffected (ratios)")
    return FrameTiming(
        starts, durations, decay_correction, half_life, radiopharmaceutical,
        "Bq/mL" if units.upper() == "BQML" else units, factors, tuple(flags),
    )  # fmt: skip


def sidecar_path(path: Path) -> Path:
    """``name.json`` beside ``name.nii`` or ``name.nii.gz``."""
    name = path.name
    stem = name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else path.stem
    return path.with_name(stem + ".json")


def read_dynamic_nifti(path: str | Path) -> tuple[list[Volume], FrameTiming]:
    """Frames (one Volume each, LPS) and timing of a 4D NIfTI with a frame-timing sidecar."""
    import SimpleITK as sitk

    path = Path(path)
    side = sidecar_path(path)
    if not side.is_file():
        raise InputError(
            f"no frame timing: sidecar {side.name} (FrameTimesStart, FrameDuration) absent", path
        )
    try:
        meta = json.loads(side.read_text())
        starts = np.asarray(meta["FrameTimesStart"], dtype=float)
        durations = np.asarray(meta["FrameDuration"], dtype=float)
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(
            f"sidecar without valid FrameTimesStart/FrameDuration ({error})", side
        ) from None
    image = sitk.ReadImage(str(path))
    if image.GetDimension() != 4:
        raise InputError(f"a single frame: expected a 4D image, got {image.GetDimension()}D", path)
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    if len(starts) != array.shape[0] or len(durations) != array.shape[0]:
        raise InputError(
            f"{array.shape[0]} frames in the image but {len(starts)} FrameTimesStart and "
            f"{len(durations)} FrameDuration in {side.name}",
            path,
        )
    order = np.argsort(starts, kind="stable")
    if np.any(order != np.arange(len(starts))):
        raise InputError("frames out of order: FrameTimesStart is not increasing", path)
    check_frames(starts - starts[0], durations, [path] * len(starts))
    direction = np.asarray(image.GetDirection()).reshape(4, 4)[:3, :3]
    geometry = {
        "spacing_mm": tuple(reversed(image.GetSpacing()[:3])),
        "origin_mm": image.GetOrigin()[:3],
        "direction": direction,
        "modality": "PT",
    }
    tracer = str(meta.get("TracerRadionuclide", "") or meta.get("TracerName", ""))
    half_life = next((v for k, v in HALF_LIVES_S.items() if k in tracer.lower()), None)
    corrected = meta.get("ImageDecayCorrected")
    flags = []
    if corrected is None:
        flags.append("ImageDecayCorrected absent from the sidecar: frames assumed decay corrected")
    starts = starts - starts[0]
    factors = (
        _decay_factors(starts, durations, half_life, path)
        if corrected is False
        else np.ones(len(starts))
    )
    label = "NONE" if corrected is False else ("START" if corrected else "START (assumed)")
    frames = [Volume(a, **geometry, metadata={"frame_index": i}) for i, a in enumerate(array)]
    timing = FrameTiming(
        starts, durations, label, half_life, tracer, str(meta.get("Units", "Bq/mL")), factors,
        tuple(flags),
    )  # fmt: skip
    return frames, timing


def write_dynamic_pet(
    folder: str | Path,
    frames: Sequence[Volume],
    starts_s: Sequence[float],
    durations_s: Sequence[float],
    *,
    patient_id: str,
    study_uid: str,
    series_description: str,
    radiopharmaceutical: str,
    half_life_s: float,
    series_number: int = 1,
    series_time: str = "120000",
    study_date: str = "20260101",
    decay_correction: str = "START",
) -> list[Path]:
    """Write dynamic PET frames (Bq/mL) as PET Image Storage slices, one file per slice and frame.

    PET Image IOD (PS3.3 A.21): SeriesType DYNAMIC\\IMAGE, Units BQML,
    DecayCorrection ``decay_correction``, per frame AcquisitionTime = series time +
    frame start, ActualFrameDuration, the decay-weighted FrameReferenceTime and
    DecayFactor, ImageIndex = frame x NumberOfSlices + slice + 1. Values are
    uint16 with a RescaleSlope per slice (relative error <= 1/131070 of the slice maximum).
    """
    from datetime import datetime, timedelta

    from cardiolens.io.writers import _base_dataset, _derived_uid, _ds, _SeriesIdentity

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = _derived_uid(study_uid, "PT", series_description)
    identity = _SeriesIdentity(
        patient_id, study_uid, series_uid, series_description, study_date,
        _derived_uid(study_uid, "frame of reference"),
    )  # fmt: skip
    reference = frames[0]
    n_slices = reference.shape[0]
    lam = math.log(2) / half_life_s
    series_start = datetime.strptime(study_date + series_time, "%Y%m%d%H%M%S")
    row, col = reference.direction[:, 0], reference.direction[:, 1]
    paths = []
    for k, (frame, start, duration) in enumerate(zip(frames, starts_s, durations_s, strict=True)):
        t_ref = start + math.log(lam * duration / -math.expm1(-lam * duration)) / lam
        decay_factor = math.exp(lam * start) * lam * duration / -math.expm1(-lam * duration)
        moment = series_start + timedelta(seconds=float(start))
        for z in range(n_slices):
            index = k * n_slices + z + 1
            ds = _base_dataset(
                sop_class_uid="1.2.840.10008.5.1.4.1.1.128",
                sop_instance_uid=_derived_uid(series_uid, "frame", str(k), "slice", str(z)),
                modality="PT",
                identity=identity,
            )
            ds.SeriesTime = series_time
            ds.SeriesNumber = series_number
            ds.ImageType = ["ORIGINAL", "PRIMARY"]
            ds.SeriesType = ["DYNAMIC", "IMAGE"]
            ds.Units = "BQML"
            ds.DecayCorrection = decay_correction
            ds.CorrectedImage = ["ATTN", "SCAT", "DECY"]
            ds.DecayFactor = _ds(decay_factor)
            ds.FrameReferenceTime = _ds(1000.0 * t_ref)
            ds.ActualFrameDuration = int(round(1000.0 * duration))
            ds.AcquisitionDate = study_date
            ds.AcquisitionTime = moment.strftime("%H%M%S.%f")
            ds.NumberOfSlices = n_slices
            ds.NumberOfTimeSlices = len(frames)
            ds.ImageIndex = index
            ds.InstanceNumber = index
            info = Dataset()
            info.Radiopharmaceutical = radiopharmaceutical
            info.RadionuclideHalfLife = _ds(half_life_s)
            info.RadiopharmaceuticalStartTime = series_time
            ds.RadiopharmaceuticalInformationSequence = [info]
            position = np.asarray(frame.origin_mm) + z * frame.spacing_mm[0] * frame.direction[:, 2]
            ds.ImagePositionPatient = [_ds(v) for v in position]
            ds.ImageOrientationPatient = [_ds(v) for v in (*row, *col)]
            ds.PixelSpacing = [_ds(frame.spacing_mm[1]), _ds(frame.spacing_mm[2])]
            ds.SliceThickness = _ds(frame.spacing_mm[0])
            ds.Rows, ds.Columns = frame.shape[1], frame.shape[2]
            ds.PixelRepresentation = 0
            values = np.clip(np.asarray(frame.array[z], dtype=np.float64), 0, None)
            peak = float(values.max())
            slope = float(_ds(peak / 65535.0 * (1 + 1e-6))) if peak > 0 else 1.0
            ds.RescaleSlope, ds.RescaleIntercept = _ds(slope), "0"
            ds.PixelData = np.round(values / slope).clip(0, 65535).astype(np.uint16).tobytes()
            path = folder / f"PT_{k + 1:03d}_{z + 1:03d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            paths.append(path)
    return paths
