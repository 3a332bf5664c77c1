"""PET perfusion tracers known to the flow models and the dynamic phantom, and their extraction.

Uptake rate from flow: Rb-82 ``K1 = MBF (1 - 0.77 exp(-0.63 / MBF))`` (Renkin-Crone form
fitted by Lortie M et al., Eur J Nucl Med Mol Imaging 2007;34:1765-74); N-13 ammonia
``K1 = MBF`` (DeGrado TR et al., J Nucl Cardiol 1996;3:494-507); O-15 water ``K1 = MBF``
(freely diffusible; Iida H et al., Circulation 1988;78:104-15).
"""

from __future__ import annotations

import difflib
from enum import StrEnum

import numpy as np
from scipy import optimize

from cardiolens.core.errors import ParameterError

__all__ = ["PetTracer", "k1_from_mbf", "mbf_from_k1"]

_ALIASES = {"rubidium": "rb82", "ammonia": "nh3", "n13": "nh3", "water": "h2o", "o15": "h2o"}


class PetTracer(StrEnum):
    """Rb-82, N-13 ammonia and O-15 water."""

    RB82 = "rb82"
    NH3 = "nh3"
    H2O = "h2o"

    @classmethod
    def parse(cls, value: str | PetTracer) -> PetTracer:
        """The tracer named ``value`` (``rb82``, ``nh3``, ``h2o`` or an alias); a wrong name gets a hint."""
        text = str(value).strip().lower().replace("-", "").replace("_", "")
        try:
            return cls(_ALIASES.get(text, text))
        except ValueError:
            close = difflib.get_close_matches(text, [t.value for t in cls], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(f"tracer must be rb82, nh3 or h2o; got {value!r}.{hint}") from None


def k1_from_mbf(mbf_ml_min_g: np.ndarray | float, tracer: PetTracer | str) -> np.ndarray:
    """K1 (mL/min/g) of a flow (mL/min/g): Lortie 2007 for Rb-82, ``K1 = MBF`` otherwise."""
    mbf = np.asarray(mbf_ml_min_g, dtype=float)
    if PetTracer.parse(tracer) == PetTracer.RB82:
        return mbf * (1 - 0.77 * np.exp(-0.63 / np.maximum(mbf, 1e-9)))
    return mbf


def mbf_from_k1(k1_ml_min_g: float, tracer: PetTracer | str) -> float:
    """The flow (mL/min/g) whose K1 is ``k1_ml_min_g`` (inverse of :func:`k1_from_mbf`)."""
    if PetTracer.parse(tracer) != PetTracer.RB82:
        return float(k1_ml_min_g)
    if k1_ml_min_g <= 0:
        return 0.0
    return float(
        optimize.brentq(lambda m: float(k1_from_mbf(m, "rb82")) - k1_ml_min_g, 1e-6, 100.0)
    )
