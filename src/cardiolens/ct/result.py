"""The typed result of calcium scoring and its JSON form (``cardiolens calcium --json``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cardiolens.ct.calibration import MassCalibration
from cardiolens.ct.categories import CacDrs
from cardiolens.ct.eat import EpicardialFat
from cardiolens.ct.lesions import Artery, CalciumLesion
from cardiolens.ct.metal import MetalFinding

__all__ = ["ArteryScores", "CalciumResult"]


@dataclass(frozen=True)
class ArteryScores:
    """Totals of one artery: Agatston, volume (mm^3) and mass (mg)."""

    agatston: float = 0.0
    volume_mm3: float = 0.0
    mass_mg: float = 0.0

    def to_json(self) -> dict[str, float]:
        """``{agatston, volume_mm3, mass_mg}``."""
        return {"agatston": self.agatston, "volume_mm3": self.volume_mm3, "mass_mg": self.mass_mg}


@dataclass(frozen=True)
class CalciumResult:
    """Coronary calcium scores of one CT.

    Attributes
    ----------
    agatston, volume_mm3, mass_mg
        Totals over the coronary lesions (Agatston 1990; volume; McCollough 2007 mass).
    mass_calibration
        Factor and source of the mass score.
    category
        Agatston risk category (``"0"``, ``"1-99"``, ``"100-299"``, ``">=300"``).
    cac_drs
        CAC-DRS category and vessel count.
    per_artery
        Totals per artery (LM, LAD, LCx, RCA; zeros where none).
    lesions
        The lesions, with artery (``None`` for phantom inserts).
    eat
        Epicardial fat, or ``None`` (phantom mode).
    quality_flags
        Problems and limits a reader must know.
    excluded
        Non-coronary calcium left out, counted by reason (not part of the JSON).
    lesion_labels
        Label image of the scored lesions (values = ``CalciumLesion.lesion_id``), for
        overlays and masks (not part of the JSON).
    metal
        Metal objects found (:mod:`cardiolens.ct.metal`); their surroundings are not scored.
    heart_centre_mm
        LPS centre of the heart found (``None`` in phantom mode; not part of the JSON).
    """

    agatston: float
    volume_mm3: float
    mass_mg: float
    mass_calibration: MassCalibration
    category: str
    cac_drs: CacDrs
    per_artery: dict[Artery, ArteryScores]
    lesions: tuple[CalciumLesion, ...]
    eat: EpicardialFat | None
    quality_flags: tuple[str, ...] = ()
    excluded: dict[str, int] = field(default_factory=dict)
    lesion_labels: np.ndarray | None = field(default=None, repr=False)
    metal: tuple[MetalFinding, ...] = ()
    heart_centre_mm: tuple[float, float, float] | None = None

    @property
    def stented_arteries(self) -> tuple[Artery, ...]:
        """Arteries holding a stent: their scores are not interpretable."""
        found = {m.artery for m in self.metal if m.artery is not None}
        return tuple(a for a in Artery if a in found)

    def to_json(self) -> dict[str, object]:
        """The fields of ``cardiolens calcium --json``."""
        return {
            "agatston": self.agatston,
            "volume_mm3": self.volume_mm3,
            "mass_mg": self.mass_mg,
            "mass_calibration": self.mass_calibration.to_json(),
            "category": self.category,
            "cac_drs": self.cac_drs.to_json(),
            "per_artery": {
                a.value: {**s.to_json(), "stent": a in self.stented_arteries}
                for a, s in self.per_artery.items()
            },
            "lesions": [lesion.to_json() for lesion in self.lesions],
            "eat": None if self.eat is None else self.eat.to_json(),
            "quality_flags": list(self.quality_flags),
            "metal": [m.to_json() for m in self.metal],
        }
