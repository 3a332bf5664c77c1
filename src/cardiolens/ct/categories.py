"""Risk categories of the Agatston score and the CAC-DRS classification.

* Agatston categories 0, 1-99, 100-299, >= 300 (as used by the 2018 ACC/AHA cholesterol
  guideline and the 2019 ACC/AHA primary prevention guideline).
* CAC-DRS (Hecht et al., J Cardiovasc Comput Tomogr 2018, "CAC-DRS: Coronary Artery Calcium
  Data and Reporting System"): A0 score 0, A1 1-99, A2 100-299, A3 >= 300, with the
  modifier N = number of vessels with calcium (LM, LAD, LCx, RCA; 0-4), written
  ``CAC-DRS A2/N3``. Any calcium (score > 0, even below 1) counts as category 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from cardiolens.core.errors import ParameterError

__all__ = ["CacDrs", "agatston_category", "cac_drs"]

_BOUNDS = ((0.0, "0"), (100.0, "1-99"), (300.0, "100-299"))


def agatston_category(agatston: float) -> str:
    """``"0"``, ``"1-99"``, ``"100-299"`` or ``">=300"``."""
    if agatston < 0:
        raise ParameterError(f"an Agatston score cannot be negative; got {agatston}")
    if agatston == 0:
        return "0"
    for upper, name in _BOUNDS[1:]:
        if agatston < upper:
            return name
    return ">=300"


@dataclass(frozen=True)
class CacDrs:
    """CAC-DRS category (0-3) and vessel count N (``None`` when arteries are unknown)."""

    category: int
    vessels: int | None

    @property
    def label(self) -> str:
        """``CAC-DRS 0``, ``CAC-DRS A2/N3`` (or ``CAC-DRS A2`` without vessel count)."""
        if self.category == 0:
            return "CAC-DRS 0"
        suffix = "" if self.vessels is None else f"/N{self.vessels}"
        return f"CAC-DRS A{self.category}{suffix}"

    def to_json(self) -> dict[str, object]:
        """``{category, vessels, label}``."""
        return {"category": self.category, "vessels": self.vessels, "label": self.label}


def cac_drs(agatston: float, vessels: int | None) -> CacDrs:
    """CAC-DRS of a total Agatston score and the number of calcified vessels (0-4 or None)."""
    if vessels is not None and not 0 <= vessels <= 4:
        raise ParameterError(f"vessel count must be 0-4; got {vessels}")
    category = {"0": 0, "1-99": 1, "100-299": 2, ">=300": 3}[agatston_category(agatston)]
    return CacDrs(category, None if vessels is None else (0 if category == 0 else vessels))
