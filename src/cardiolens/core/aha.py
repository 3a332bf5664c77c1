"""The AHA 17-segment model of the left ventricle and its coronary territories.

Cerqueira MD et al. "Standardized myocardial segmentation and nomenclature for
tomographic imaging of the heart." Circulation 2002;105:539-542.

Shared convention of cardiolens (phantom and quantification use the same one):

* ``angle_deg``: circumferential short-axis angle, 0 = anterior, 90 = septal,
  180 = inferior, 270 = lateral (anterior -> septum -> inferior -> lateral).
* ``long_axis_fraction``: position along the LV cavity from the endocardial apex
  (0) to the valve plane (1). Values below 0 lie beyond the end of the cavity:
  the apex cap, segment 17 ("the area of myocardium beyond the end of the LV
  cavity", Cerqueira 2002). Apical, mid and basal are equal thirds of the cavity.
* Basal and mid rings: six 60-degree segments, segment 1 (anterior) centred on
  0 deg, then anteroseptal (60), inferoseptal (120), inferior (180),
  inferolateral (240), anterolateral (300). Apical ring: four 90-degree segments
  centred on anterior (13), septal (14), inferior (15), lateral (16).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

__all__ = [
    "Territory",
    "SEGMENT_NAMES",
    "SEGMENT_TERRITORY",
    "aha_segment",
    "territory_segments",
]


class Territory(StrEnum):
    """Coronary territories of the standard assignment (Cerqueira 2002, fig. 3)."""

    LAD = "LAD"
    LCX = "LCx"
    RCA = "RCA"


SEGMENT_NAMES: dict[int, str] = {
    1: "basal anterior",
    2: "basal anteroseptal",
    3: "basal inferoseptal",
    4: "basal inferior",
    5: "basal inferolateral",
    6: "basal anterolateral",
    7: "mid anterior",
    8: "mid anteroseptal",
    9: "mid inferoseptal",
    10: "mid inferior",
    11: "mid inferolateral",
    12: "mid anterolateral",
    13: "apical anterior",
    14: "apical septal",
    15: "apical inferior",
    16: "apical lateral",
    17: "apex",
}

SEGMENT_TERRITORY: dict[int, Territory] = {
    **{s: Territory.LAD for s in (1, 2, 7, 8, 13, 14, 17)},
    **{s: Territory.RCA for s in (3, 4, 9, 10, 15)},
    **{s: Territory.LCX for s in (5, 6, 11, 12, 16)},
}


def aha_segment(
    long_axis_fraction: np.ndarray | float, angle_deg: np.ndarray | float
) -> np.ndarray:
    """AHA segment number (1-17) of LV positions; 0 beyond the valve plane.

    Parameters
    ----------
    long_axis_fraction
        0 at the endocardial apex, 1 at the valve plane; < 0 is the apex cap.
    angle_deg
        Short-axis angle in degrees (0 anterior, 90 septal, 180 inferior, 270 lateral).

    Returns
    -------
    numpy.ndarray of int
        Segment numbers with the broadcast shape of the inputs.
    """
    f = np.asarray(long_axis_fraction, dtype=float)
    a = np.mod(np.asarray(angle_deg, dtype=float), 360.0)
    f, a = np.broadcast_arrays(f, a)
    six = (np.floor(np.mod(a + 30.0, 360.0) / 60.0).astype(int)) % 6  # 0..5
    four = (np.floor(np.mod(a + 45.0, 360.0) / 90.0).astype(int)) % 4  # 0..3
    seg = np.zeros(f.shape, dtype=int)
    seg = np.where(f < 0, 17, seg)
    seg = np.where((f >= 0) & (f < 1 / 3), 13 + four, seg)
    seg = np.where((f >= 1 / 3) & (f < 2 / 3), 7 + six, seg)
    seg = np.where((f >= 2 / 3) & (f <= 1.0), 1 + six, seg)
    return seg


def territory_segments(territory: Territory | str) -> list[int]:
    """Segments supplied by a coronary territory in the standard assignment."""
    t = Territory(territory) if not isinstance(territory, Territory) else territory
    return [s for s, terr in SEGMENT_TERRITORY.items() if terr == t]
