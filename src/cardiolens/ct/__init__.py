"""Cardiac CT: coronary calcium scoring (Agatston, volume, mass, CAC-DRS) and epicardial fat.

Noise. On noisy images the automatic scores equal the same definitions applied to the
true lesions (an *oracle* on the true lesion neighbourhood): heart finding, exclusion and
lesion grouping add no error (``benchmarks/bench_calcium.py``, 30 simulated patients at
20 HU, 0.5 mm correlated noise as measured on the real QRM scan). The definitions react
to noise by themselves: border voxels cross 130 HU, slice lesions cross the 1 mm^2
rule, and the density weight follows each slice lesion's *peak* HU, so a peak near
200/300/400 HU changes the weight of the whole slice lesion. Over 50 noise realisations
per patient the spread (SD) of the total Agatston score is about 65 % below 10, 7 % at
30-100, 3 % at 100-300 and 1.6 % at >= 300; volume and mass spread less (2.7 % and 2 %
at 100-300). Agreement within 5 % in >= 95 % of draws is thus reached by the definitions
only for totals >= 300 (Agatston, volume) and >= 100 (mass). This matches the clinical
record: the volume score was introduced for its better rescan reproducibility (Callister
et al., Radiology 1998), the calibrated mass score is recommended as the more
reproducible, scanner-independent measure (McCollough et al., Radiology 2007), and the
relative rescan variability of all three is largest for small scores (Detrano et al.,
MESA, Radiology 2005). The scores are not smoothed or otherwise changed to hide it,
so that they stay comparable with vendor Agatston scores.
"""

from cardiolens.ct.agatston import AgatstonConvention, density_weight, slice_normalisation_factor
from cardiolens.ct.calibration import (
    MassCalibration,
    calibration_from_rods,
    default_mass_calibration,
)
from cardiolens.ct.categories import CacDrs, agatston_category, cac_drs
from cardiolens.ct.eat import EpicardialFat
from cardiolens.ct.lesions import LABEL_ARTERY, Artery, CalciumLesion
from cardiolens.ct.result import ArteryScores, CalciumResult
from cardiolens.ct.score import load_calcium_ct, score_calcium

__all__ = [
    "LABEL_ARTERY",
    "AgatstonConvention",
    "Artery",
    "ArteryScores",
    "CacDrs",
    "CalciumLesion",
    "CalciumResult",
    "EpicardialFat",
    "MassCalibration",
    "agatston_category",
    "cac_drs",
    "calibration_from_rods",
    "default_mass_calibration",
    "density_weight",
    "load_calcium_ct",
    "score_calcium",
    "slice_normalisation_factor",
]
