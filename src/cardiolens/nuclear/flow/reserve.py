"""Myocardial flow reserve (MFR) and coronary flow capacity (CFC).

MFR = stress MBF / rest MBF; MFR < 2.0 is reported as reduced (the common PET
cut-off, e.g. Murthy VL et al., J Nucl Med 2018;59:273-93, SNMMI/ASNC statement).

CFC (Johnson NP, Gould KL, "Integrating noninvasive absolute flow, coronary flow
reserve, and ischemic thresholds into a comprehensive map of physiological severity",
JACC Cardiovasc Imaging 2012;5(4):430-40; Gould KL et al., "Anatomic versus physiologic
assessment of coronary artery disease", J Am Coll Cardiol 2013;62(18):1639-53,
doi:10.1016/j.jacc.2013.07.076; used per pixel with Rb-82 in Gould KL et al., Eur Heart J
2024;45(3):181-94, doi:10.1093/eurheartj/ehad579) combines stress MBF and MFR in nested
boxes: a region is in the first category whose limits both values meet —

========================  ================  ===========
category                  stress MBF <=     MFR <=
========================  ================  ===========
severely reduced          0.91 mL/min/g     1.27
moderately reduced        1.12              1.74
mildly reduced            1.76              2.03
minimally reduced         2.39              2.70
normal                    otherwise
========================  ================  ===========

so both must be reduced (a region with a low MFR but a high stress flow is not
severely reduced). The thresholds were derived with Rb-82 and dipyridamole. Checked
(session 4): the citations (titles, volumes, pages, DOI) against the publishers'
records; the numerical limits could not be re-read from the full text offline, so
they rest on the earlier transcription of Gould 2013.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CFC_THRESHOLDS", "MFR_ABNORMAL_BELOW", "cfc_category", "flow_reserve"]

MFR_ABNORMAL_BELOW = 2.0
CFC_THRESHOLDS: tuple[tuple[str, float, float], ...] = (
    ("severely reduced", 0.91, 1.27),
    ("moderately reduced", 1.12, 1.74),
    ("mildly reduced", 1.76, 2.03),
    ("minimally reduced", 2.39, 2.70),
)
CFC_REFERENCE = (
    "Johnson NP, Gould KL, JACC Cardiovasc Imaging 2012;5:430-40; "
    "Gould KL et al., J Am Coll Cardiol 2013;62:1639-53"
)


def flow_reserve(stress_mbf: np.ndarray | float, rest_mbf: np.ndarray | float) -> np.ndarray:
    """MFR = stress / rest (NaN where rest flow is not positive)."""
    stress = np.asarray(stress_mbf, dtype=float)
    rest = np.asarray(rest_mbf, dtype=float)
    return np.where(rest > 0, stress / np.where(rest > 0, rest, 1.0), np.nan)


def cfc_category(stress_mbf: float, mfr: float) -> str:
    """The CFC category of a region (see the module docstring)."""
    for name, max_stress, max_mfr in CFC_THRESHOLDS:
        if stress_mbf <= max_stress and mfr <= max_mfr:
            return name
    return "normal"
