"""DICOM SEG (Segmentation IOD, PS3.3 A.51) of the LV myocardium and calcified lesions.

Written with highdicom from masks in the geometry of their source series: the
mask is passed as a :class:`highdicom.Volume` so that highdicom derives frame
positions from the patient-space geometry and references the source images
(``ReferencedSeriesSequence``), which lets a PACS viewer overlay it. Segment
categories and types come from CID 7150/7151 (SCT codes).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from cardiolens import __version__
from cardiolens.core.errors import CardiolensError, GeometryError
from cardiolens.core.study import Series
from cardiolens.core.volume import Volume
from cardiolens.report.dicom_sr import save_built, source_datasets

__all__ = ["SegmentMask", "build_segmentation", "to_highdicom_volume", "write_segmentation"]


_PROPERTY = {
    # kind: (category, type), SCT codes of CID 7150 / CID 7151
    "myocardium": (
        codes.SCT.Tissue,
        CodedConcept(codes.SCT.LeftVentricleMyocardium.value, "SCT", "Left Ventricle Myocardium"),
    ),
    "calcium": (
        codes.SCT.MorphologicallyAbnormalStructure,
        CodedConcept("18115005", "SCT", "Pathologic calcification"),
    ),
}


@dataclass(frozen=True)
class SegmentMask:
    """A binary mask to store as one segment, on the grid of its source series.

    Attributes
    ----------
    label
        Segment label shown by viewers (for example ``"LV myocardium (rest)"``).
    kind
        ``"myocardium"`` or ``"calcium"`` (selects the SCT codes).
    mask
        Volume whose nonzero voxels form the segment.
    source
        The DICOM series the mask was derived from.
    """

    label: str
    kind: str
    mask: Volume
    source: Series


def to_highdicom_volume(volume: Volume, array: np.ndarray | None = None) -> hd.Volume:
    """The cardiolens ``Volume`` (array ``[z, y, x]``, LPS) as a highdicom ``Volume``.

    highdicom's affine maps array indices ``(i, j, k)`` = ``(z, y, x)`` to LPS, so its
    columns are cardiolens' ``affine_lps`` columns in reverse order.
    """
    affine = np.eye(4)
    affine[:3, :3] = volume.affine_lps[:3, :3][:, ::-1]
    affine[:3, 3] = volume.origin_mm
    return hd.Volume(
        array=volume.array if array is None else array,
        affine=affine,
        coordinate_system="PATIENT",
        frame_of_reference_uid=volume.frame_of_reference_uid,
    )


def _with_frame_geometry(dataset: Dataset) -> Dataset:
    """An NM multi-frame header with its geometry in functional groups, as highdicom needs.

    NM images keep position and orientation in DetectorInformationSequence and order
    frames by SliceVector (PS3.3 C.8.4.8-C.8.4.11); frame ``k`` lies at
    ``ImagePositionPatient + (SliceVector[k] - 1) * SpacingBetweenSlices * normal``
    (SpacingBetweenSlices may be negative). The copy is used only to build the SEG;
    its references still name the original instance.
    """
    detectors = dataset.get("DetectorInformationSequence")
    if (
        dataset.get("Modality") != "NM"
        or "SharedFunctionalGroupsSequence" in dataset
        or not detectors
    ):
        return dataset
    detector = detectors[0]
    if "ImagePositionPatient" not in detector or "ImageOrientationPatient" not in detector:
        raise GeometryError(
            "the NM source has no position/orientation in DetectorInformationSequence"
        )
    position = np.asarray(detector.ImagePositionPatient, dtype=float)
    orientation = [float(v) for v in detector.ImageOrientationPatient]
    normal = np.cross(orientation[:3], orientation[3:])
    spacing = float(dataset.get("SpacingBetweenSlices") or dataset.get("SliceThickness") or 1.0)
    n_frames = int(dataset.get("NumberOfFrames", 1))
    slices = np.asarray(dataset.get("SliceVector") or range(1, n_frames + 1), dtype=int) - 1
    patched = copy.deepcopy(dataset)
    shared = Dataset()
    shared.PlaneOrientationSequence = [Dataset()]
    shared.PlaneOrientationSequence[0].ImageOrientationPatient = orientation
    shared.PixelMeasuresSequence = [Dataset()]
    shared.PixelMeasuresSequence[0].PixelSpacing = list(dataset.PixelSpacing)
    shared.PixelMeasuresSequence[0].SliceThickness = abs(
        float(dataset.get("SliceThickness") or spacing)
    )
    shared.PixelMeasuresSequence[0].SpacingBetweenSlices = abs(spacing)
    patched.SharedFunctionalGroupsSequence = [shared]
    frames = []
    for index in slices:
        item = Dataset()
        item.PlanePositionSequence = [Dataset()]
        item.PlanePositionSequence[0].ImagePositionPatient = [
            round(float(v), 6) for v in position + index * spacing * normal
        ]
        frames.append(item)
    patched.PerFrameFunctionalGroupsSequence = frames
    return patched


def build_segmentation(masks: Sequence[SegmentMask]) -> hd.seg.Segmentation:
    """One BINARY SEG holding ``masks`` (all on the grid of one source series)."""
    if not masks:
        raise CardiolensError("no masks to put in a DICOM SEG")
    source = masks[0].source
    reference = masks[0].mask
    for item in masks:
        if item.source.series_uid != source.series_uid or not item.mask.same_geometry(reference):
            raise GeometryError("all segments of one SEG must share the source series and grid")
        if item.kind not in _PROPERTY:
            raise CardiolensError(
                f"unknown segment kind {item.kind!r}; expected {sorted(_PROPERTY)}"
            )
    headers = [_with_frame_geometry(ds) for ds in source_datasets(source)]
    frame_of_reference = reference.frame_of_reference_uid or headers[0].get("FrameOfReferenceUID")
    if not frame_of_reference:
        raise GeometryError(f"series {source.series_uid} has no FrameOfReferenceUID")
    stacked = np.stack([np.asarray(m.mask.array) > 0 for m in masks], axis=-1).astype(np.uint8)
    volume = to_highdicom_volume(reference, stacked[..., 0])
    volume = hd.Volume(
        array=stacked,
        affine=volume.affine,
        coordinate_system="PATIENT",
        frame_of_reference_uid=frame_of_reference,
        channels={"SegmentNumber": list(range(1, len(masks) + 1))},
    )
    algorithm = hd.AlgorithmIdentificationSequence(
        name="cardiolens", version=__version__, family=codes.cid7162.ArtificialIntelligence
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=item.label,
            segmented_property_category=_PROPERTY[item.kind][0],
            segmented_property_type=_PROPERTY[item.kind][1],
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
        )
        for number, item in enumerate(masks, start=1)
    ]
    return hd.seg.Segmentation(
        source_images=headers,
        pixel_array=volume,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=9002,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="cardiolens",
        manufacturer_model_name="cardiolens",
        software_versions=__version__,
        device_serial_number="0",
        series_description="cardiolens segmentation",
        omit_empty_frames=True,
    )


def write_segmentation(path: str | Path, masks: Sequence[SegmentMask]) -> Path:
    """Build the SEG (:func:`build_segmentation`) and save it to ``path``."""
    return save_built(lambda: build_segmentation(masks), path, "SEG")
