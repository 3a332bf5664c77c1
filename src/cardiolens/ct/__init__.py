"""Cardiac CT: coronary calcium scoring (Agatston, volume, mass, CAC-DRS) and epicardial fat."""

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
