"""Mass calibration: the factor turning HU x mm^3 into mg of calcium hydroxyapatite.

McCollough et al., Radiology 2007 ("Coronary artery calcium: a multi-institutional,
multimanufacturer international standard for quantification at cardiac CT") define the
calcium mass score as ``mass = c x mean HU x volume`` with

    c = rho_rod / (HU_rod - HU_water)         [mg / (HU mm^3)]

measured on a calibration insert of known hydroxyapatite (HA) density ``rho_rod``
(200 mg HA/cm^3 = 0.2 mg/mm^3 in the QRM and Siemens phantoms) and water.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cardiolens.core.errors import ParameterError

__all__ = [
    "CALIBRATION_ROD_DENSITY_MG_CM3",
    "MassCalibration",
    "calibration_from_rods",
    "default_mass_calibration",
    "ha_density_to_hu",
]

#: Density of the calibration rod of the QRM cardiac calcification insert (mg HA/cm^3).
CALIBRATION_ROD_DENSITY_MG_CM3 = 200.0

# Default contrast of 200 mg HA/cm^3 over water (HU) by tube voltage, used when the scan
# has no calibration rods. 120 kV: 277 HU measured on the rods of the shared QRM scan
# (Canon Aquilion ONE; McCollough's factor 7.2e-4 mg/(HU mm^3)). Other voltages scale with
# the higher photoelectric contrast of calcium at low energy (typical rod values; a
# scanner-specific calibration is always preferable and is flagged as missing).
_DEFAULT_ROD_CONTRAST_HU = {80.0: 400.0, 100.0: 330.0, 120.0: 277.0, 140.0: 245.0}


@dataclass(frozen=True)
class MassCalibration:
    """Calibration factor of the mass score and where it came from.

    Attributes
    ----------
    factor_mg_per_hu_mm3
        ``c`` in mg per (HU x mm^3).
    source
        ``"calibration_rods"`` (measured in this scan) or ``"default_<kV>kV"``.
    hu_water, hu_rod
        Mean HU of the water and 200 mg HA/cm^3 rods when measured, else ``None``.
    """

    factor_mg_per_hu_mm3: float
    source: str
    hu_water: float | None = None
    hu_rod: float | None = None

    @property
    def hu_per_mg_cm3(self) -> float:
        """HU added by 1 mg HA/cm^3 of calcium (slope of the calibration line)."""
        return 1e-3 / self.factor_mg_per_hu_mm3

    def to_json(self) -> dict[str, float | str]:
        """``{factor_mg_per_hu_mm3, source}`` as printed by ``cardiolens calcium --json``."""
        return {"factor_mg_per_hu_mm3": self.factor_mg_per_hu_mm3, "source": self.source}


def calibration_from_rods(*, hu_water: float, hu_rod: float) -> MassCalibration:
    """McCollough's factor from measured rods: ``c = 0.2 mg/mm^3 / (HU_rod - HU_water)``.

    Parameters
    ----------
    hu_water, hu_rod
        Mean HU of the water rod and of the 200 mg HA/cm^3 rod.
    """
    contrast = float(hu_rod) - float(hu_water)
    if not contrast > 50.0:
        raise ParameterError(
            f"calibration rods: the 200 mg HA/cm^3 rod ({hu_rod:.0f} HU) must be brighter "
            f"than water ({hu_water:.0f} HU) by more than 50 HU; check the rod positions"
        )
    factor = CALIBRATION_ROD_DENSITY_MG_CM3 * 1e-3 / contrast
    return MassCalibration(factor, "calibration_rods", float(hu_water), float(hu_rod))


def default_mass_calibration(kvp: float | None) -> MassCalibration:
    """The documented default factor for a tube voltage (linear between 80 and 140 kV).

    ``None`` means 120 kV. Voltages outside 80-140 kV raise :class:`ParameterError`.
    """
    kv = 120.0 if kvp is None else float(kvp)
    volts = np.array(sorted(_DEFAULT_ROD_CONTRAST_HU))
    if not volts[0] <= kv <= volts[-1]:
        raise ParameterError(
            f"kvp={kv:g}: no default mass calibration outside {volts[0]:g}-{volts[-1]:g} kV; "
            "scan calibration rods or pass a calibration"
        )
    contrast = float(np.interp(kv, volts, [_DEFAULT_ROD_CONTRAST_HU[v] for v in volts]))
    factor = CALIBRATION_ROD_DENSITY_MG_CM3 * 1e-3 / contrast
    return MassCalibration(factor, f"default_{kv:g}kV")


def ha_density_to_hu(density_mg_cm3: float, kvp: float | None = 120.0) -> float:
    """HU of hydroxyapatite of a given density in a water matrix, by the default calibration.

    The inverse of the mass calibration: ``HU = density / c`` (water = 0 HU).
    """
    if density_mg_cm3 <= 0:
        raise ParameterError(f"density must be positive (mg HA/cm^3); got {density_mg_cm3}")
    return density_mg_cm3 * 1e-3 / default_mass_calibration(kvp).factor_mg_per_hu_mm3
