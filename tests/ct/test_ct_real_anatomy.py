"""Real-anatomy phantoms (issue 11): small-FOV gated scans with vendor padding, habitus,
arms, table, low-dose attenuation CT, a liver dome under the heart and metal, each
against its ground truth.

A subset of the sweep of ``benchmarks/bench_calcium.py`` (:func:`cardiolens.phantom.ct_scanner.sweep_case`)
on smaller grids. Each case checks: the heart is found, no valve, aortic, bone or metal
calcium is counted as coronary, the automatic scores equal the oracle (the definitions
applied to the true lesions, :func:`cardiolens.ct.validation.compare_with_truth`; a lesion
that only noise lifts over 130 HU may be left out as a noise spike) in every artery without
a stent, no lesion is invented, and the lesions lie on their true artery.
"""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.core.errors import AnalysisError
from cardiolens.ct import Artery, score_calcium
from cardiolens.ct.fov import field_of_view
from cardiolens.ct.validation import compare_with_truth
from cardiolens.phantom.ct_scanner import VENDOR_PADDING_HU, Habitus
from cardiolens.phantom.ct_simulate import simulate_ct


def _small_fov(seed: int, diameter_mm: float, vendor: str, centre_mm: tuple[float, float]):
    """A gated scan: 3 mm slices, a circle of ``diameter_mm`` on 440 x 440 pixels."""
    return {
        "seed": seed,
        "matrix": (44, 440, 440),
        "pixel_mm": diameter_mm / 440,
        "fov_diameter_mm": diameter_mm,
        "padding_hu": VENDOR_PADDING_HU[vendor],
        "field_centre_mm": centre_mm,
    }


CASES = {
    # GE padding (-3024 HU), a 180 mm circle at 0.41 mm pixels, the heart 12 mm off-centre.
    "gated_small_fov_ge": _small_fov(31, 180.0, "ge", (30.0, -37.0)),
    # Philips/Canon padding equals air (-1024 HU): found by its constancy.
    "gated_small_fov_philips": _small_fov(32, 200.0, "philips", (12.0, -20.0)),
    # Obese chest with breasts, arms down and the table; the square image cuts the arms.
    "chest_obese_arms_down": {
        "seed": 33,
        "matrix": (50, 400, 400),
        "pixel_mm": 0.9,
        "slice_thickness_mm": 2.5,
        "habitus": Habitus(35.0, breast=True, arms_down=True, table=True),
    },
    # PET/CT attenuation CT: 5 mm slices, 0.98 mm pixels, 30 HU noise.
    "attenuation_ct": {
        "seed": 34,
        "matrix": (28, 400, 400),
        "pixel_mm": 0.98,
        "slice_thickness_mm": 5.0,
        "noise_hu": 30.0,
        "habitus": Habitus(10.0, table=True),
    },
    # The liver's dome against the heart's inferior wall, no fat between them: without the
    # diaphragm rule of find_heart the liver is the largest mediastinal mass (66 mm off).
    "liver_dome": {
        "seed": 302,
        "matrix": (60, 448, 448),
        "pixel_mm": 0.8,
        "slice_thickness_mm": 2.5,
        "habitus": Habitus(26.8, table=True),
        "liver_dome": True,
    },
    # A stent, a pacing lead and sternal wires.
    "metal": {
        "seed": 35,
        "matrix": (50, 384, 384),
        "pixel_mm": 0.7,
        "metal": ("stent:RCA", "lead", "sternal_wires"),
    },
}


def _check(phantom, result) -> None:
    found = compare_with_truth(phantom, result)
    assert found["heart_error_mm"] < 20.0
    assert not found["distractor_counted"] and not found["metal_counted"]
    assert found["equals_oracle"], (found["agatston"], found["oracle_agatston"])
    assert found["false_lesions"] == 0
    assert found["lesions_on_true_artery"] == found["lesions"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_anatomy_case_against_ground_truth(name):
    options = {"noise_hu": 20.0, **CASES[name]}
    phantom = simulate_ct(**options)
    result = score_calcium(phantom.volume)
    _check(phantom, result)
    if "fov_diameter_mm" in options:
        fov = field_of_view(np.asarray(phantom.volume.array), phantom.volume.spacing_mm[1:])
        assert fov.padding_hu == options["padding_hu"]
        assert 2 * fov.radius_mm == pytest.approx(options["fov_diameter_mm"], rel=0.02)
    if name == "liver_dome":
        from cardiolens.ct.heart import find_heart
        from cardiolens.phantom.ct_thorax import HU

        liver = np.asarray(phantom.clean.array) == HU["liver"]
        assert liver.sum() > 10 * (find_heart(phantom.volume).mask & liver).sum()
    if name == "metal":
        assert result.stented_arteries == (Artery.RCA,)
        assert "stent present in the RCA: score not interpretable" in result.quality_flags
        assert {m.location for m in result.metal} == {"coronary", "intracardiac", "extracardiac"}
        assert result.to_json()["per_artery"]["RCA"]["stent"] is True


def test_no_lungs_in_view_is_refused_in_one_line():
    """A scan of soft tissue only (no lungs) is refused with the reason, not scored 0."""
    from cardiolens.core.volume import Volume

    hu = np.full((20, 64, 64), 40.0, np.float32)
    with pytest.raises(AnalysisError, match="no lungs found"):
        score_calcium(Volume(hu, spacing_mm=(3.0, 2.0, 2.0), modality="CT"))


def test_a_liver_dome_under_lung_is_cut_from_the_heart_above_it():
    """``_below_diaphragm``: soft tissue rising from the lowest slice and capped by lung is
    abdominal; the heart above a fat layer, and tissue not capped by lung, are kept."""
    from cardiolens.ct.heart import _below_diaphragm

    soft = np.zeros((12, 8, 8), bool)
    lungs = np.zeros_like(soft)
    soft[:5, :, :4] = True  # liver dome on the right, slices 0-4
    lungs[5:9, :, :4] = True  # right lung base on it
    soft[:3, :, 4:] = True  # liver under the heart...
    soft[4:10, :, 4:] = True  # ...the heart above a fat slice (3)
    below = _below_diaphragm(soft, lungs, inferior_first=True, slice_mm=3.0)
    assert below[:5, :, :4].all()
    assert not below[:, :, 4:].any()
    flipped = _below_diaphragm(soft[::-1], lungs[::-1], inferior_first=False, slice_mm=3.0)
    np.testing.assert_array_equal(flipped, below[::-1])
