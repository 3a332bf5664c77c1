"""Transaxial or already-reoriented short-axis input: detection and mapping to a standard pose.

Cameras export either transaxial reconstructions (the LV axes are then found by
:mod:`cardiolens.nuclear.reorient`) or short-axis series already reoriented on
the console. A short-axis series follows the display convention of the ASNC
imaging guidelines (Dorbala S et al., J Nucl Cardiol 2018;25:1784-1846;
Cerqueira MD et al., Circulation 2002;105:539-542): slices perpendicular to the
long axis, from apex to base unless the header's Slice Progression Direction
(0054,0500) says ``BASE_TO_APEX``, the anterior wall at the top of each slice
and the septum on the left. Its patient geometry in the header is often the
transaxial one it was resliced from, so it is not trusted: the array is given
a synthetic geometry in which the slice axis is a typical LV long axis
(apex to base, LPS, :data:`TYPICAL_LONG_AXIS_LPS`), the image's upward direction
is anterior and its left is septal. The analysis then runs unchanged and its
angles (anterior, septal, inferior, lateral) are those of the series' display
convention.

Detection (``auto``): a ``SliceProgressionDirection`` in the header, or a series
description or protocol name naming a short axis (``SA``, ``SAX``, ``short axis``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from cardiolens.core.errors import ParameterError
from cardiolens.core.volume import Volume

__all__ = [
    "ORIENTATIONS",
    "TYPICAL_LONG_AXIS_LPS",
    "OrientationHandling",
    "detect_orientation",
    "short_axis_pose",
]

logger = logging.getLogger(__name__)

ORIENTATIONS = ("auto", "transaxial", "short-axis")
#: Apex-to-base direction of a typical LV in LPS (base to the patient's right, posterior
#: and superior of the apex; 50 deg azimuth, 25 deg elevation, the phantom's default pose).
TYPICAL_LONG_AXIS_LPS = (-0.6943, 0.5826, 0.4226)
_SHORT_AXIS_TEXT = re.compile(r"(?<![a-z])(sa|sax|short[\s_-]*axis)(?![a-z])", re.IGNORECASE)


@dataclass(frozen=True)
class OrientationHandling:
    """How the input's orientation was determined and handled (``nuclear["orientation"]``)."""

    input: str
    source: str
    slice_progression: str | None = None

    @property
    def short_axis(self) -> bool:
        """True for an already-reoriented short-axis series."""
        return self.input == "short-axis"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready description."""
        handling = (
            "short-axis series: slices taken as perpendicular to the long axis "
            f"({(self.slice_progression or 'APEX_TO_BASE').lower().replace('_', ' ')}), anterior "
            "at the top and septum on the left (ASNC display convention); header geometry not "
            "used, axes refined from the image"
            if self.short_axis
            else "transaxial: LV axes found from the image in patient coordinates"
        )
        return {
            "input": self.input,
            "source": self.source,
            "slice_progression": self.slice_progression,
            "handling": handling,
        }


def _slice_progression(volume: Volume) -> str | None:
    """Slice Progression Direction (0054,0500) of the series' first file, if any."""
    files = (volume.metadata or {}).get("files") or []
    if not files:
        return None
    import pydicom

    try:
        dataset = pydicom.dcmread(
            files[0], stop_before_pixels=True, specific_tags=[(0x0054, 0x0500)]
        )
    except (OSError, pydicom.errors.InvalidDicomError):
        return None
    value = str(dataset.get((0x0054, 0x0500)).value if (0x0054, 0x0500) in dataset else "").strip()
    return value.upper() or None


def detect_orientation(volume: Volume, requested: str = "auto") -> OrientationHandling:
    """The orientation of ``volume``: as ``requested`` (``--orientation``) or from its header."""
    if requested not in ORIENTATIONS:
        raise ParameterError(
            f"--orientation must be one of {', '.join(ORIENTATIONS)}; got {requested!r}"
        )
    progression = _slice_progression(volume)
    if requested != "auto":
        return OrientationHandling(requested, "--orientation option", progression)
    if progression in ("APEX_TO_BASE", "BASE_TO_APEX"):
        return OrientationHandling(
            "short-axis", f"header: SliceProgressionDirection {progression}", progression
        )
    meta = volume.metadata or {}
    for key in ("series_description", "protocol_name"):
        text = str(meta.get(key, ""))
        if _SHORT_AXIS_TEXT.search(text):
            return OrientationHandling("short-axis", f"header: {key} {text!r}", None)
    return OrientationHandling("transaxial", "default (no short-axis marker in the header)")


def short_axis_pose(volume: Volume, handling: OrientationHandling) -> Volume:
    """``volume`` with the synthetic geometry of the module docstring (array unchanged).

    Columns run from septum (left) to lateral, rows from anterior (top) to
    inferior, slices from apex to base (or base to apex as the header says).
    """
    long_axis = np.asarray(TYPICAL_LONG_AXIS_LPS, dtype=float)
    long_axis /= np.linalg.norm(long_axis)
    superior = np.array([0.0, 0.0, 1.0])
    anterior = superior - (superior @ long_axis) * long_axis
    anterior /= np.linalg.norm(anterior)
    septal = np.cross(-long_axis, anterior)
    slice_direction = -long_axis if handling.slice_progression == "BASE_TO_APEX" else long_axis
    direction = np.column_stack([-septal, -anterior, slice_direction])
    spacing_zyx = np.asarray(volume.spacing_mm, dtype=float)
    centre_index_xyz = (np.asarray(volume.shape[::-1], dtype=float) - 1) / 2
    origin = -(direction * spacing_zyx[::-1][None, :]) @ centre_index_xyz
    return volume.with_array(
        volume.array, direction=direction, origin_mm=tuple(float(v) for v in origin)
    )
