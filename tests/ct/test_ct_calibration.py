"""Mass calibration, integrated mass and risk categories."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from cardiolens.core.errors import ParameterError
from cardiolens.core.volume import Volume
from cardiolens.ct.agatston import AgatstonConvention
from cardiolens.ct.calibration import (
    calibration_from_rods,
    default_mass_calibration,
    ha_density_to_hu,
)
from cardiolens.ct.categories import agatston_category, cac_drs
from cardiolens.ct.lesions import calcium_components, measure_lesions


def test_rod_calibration_is_mccollough_factor():
    cal = calibration_from_rods(hu_water=0.0, hu_rod=277.0)
    assert cal.factor_mg_per_hu_mm3 == pytest.approx(0.2 / 277.0)
    assert cal.to_json() == {
        "factor_mg_per_hu_mm3": pytest.approx(7.22e-4, rel=1e-3),
        "source": "calibration_rods",
    }
    with pytest.raises(ParameterError, match="brighter"):
        calibration_from_rods(hu_water=0.0, hu_rod=20.0)


def test_default_calibration_by_kv_and_inverse():
    assert default_mass_calibration(None).source == "default_120kV"
    assert (
        default_mass_calibration(100).factor_mg_per_hu_mm3
        < default_mass_calibration(120).factor_mg_per_hu_mm3
    )
    assert ha_density_to_hu(200.0, 120) == pytest.approx(277.0)
    with pytest.raises(ParameterError):
        default_mass_calibration(60)


def test_integrated_mass_recovers_a_blurred_small_dense_lesion():
    """A 3 mm sphere of 800 mg/cm^3 blurred by the scanner: the threshold mass is biased, the
    integrated mass is not (Molloi lab, Med Phys 2021)."""
    cal = default_mass_calibration(120)
    fine = 0.1
    grid = np.mgrid[-60:61, -60:61, -60:61] * fine
    sphere = (np.sum(grid**2, axis=0) <= 1.5**2).astype(float)
    true_mass = 0.8 * sphere.sum() * fine**3
    hu = 40.0 + sphere * ha_density_to_hu(800.0)
    hu = ndi.gaussian_filter(hu, 0.6 / fine)
    coarse = hu.reshape(11, 11, 11, 11, 11, 11).mean(axis=(1, 3, 5))  # 1.1 mm voxels
    volume = Volume(coarse.astype(np.float32), spacing_mm=(1.1, 1.1, 1.1), modality="CT")
    slices, groups, _ = calcium_components(volume, AgatstonConvention(min_area_mm2=0.0))
    (lesion,) = measure_lesions(volume, groups, calibration=cal, slice_labels=slices)
    assert lesion.mass_integrated_mg == pytest.approx(true_mass, rel=0.05)


@pytest.mark.parametrize(
    ("score", "category", "drs"),
    [
        (0, "0", 0),
        (0.4, "1-99", 1),
        (99.9, "1-99", 1),
        (100, "100-299", 2),
        (299.9, "100-299", 2),
        (300, ">=300", 3),
    ],
)
def test_categories_and_cac_drs(score, category, drs):
    assert agatston_category(score) == category
    assert cac_drs(score, 2).category == drs


def test_cac_drs_label():
    assert cac_drs(0, 0).label == "CAC-DRS 0"
    assert cac_drs(150, 3).label == "CAC-DRS A2/N3"
    assert cac_drs(150, None).label == "CAC-DRS A2"
    with pytest.raises(ParameterError):
        agatston_category(-1)
