"""PET phantom: the one-tissue fit recovers the simulated MBF (self-consistency)."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.core.errors import ParameterError
from cardiolens.phantom import fit_one_tissue, k1_from_mbf, mbf_from_k1, simulate_pet_dynamic


def test_rb82_extraction_matches_lortie():
    # Lortie 2007: K1 = MBF (1 - 0.77 exp(-0.63 / MBF)); at 1 mL/min/g K1 = 0.5872
    assert float(k1_from_mbf(1.0, "rb82")) == pytest.approx(1 - 0.77 * np.exp(-0.63), rel=1e-12)
    assert mbf_from_k1(float(k1_from_mbf(2.7, "rb82")), "rb82") == pytest.approx(2.7, rel=1e-6)
    assert float(k1_from_mbf(1.3, "nh3")) == 1.3


@pytest.mark.parametrize("tracer", ["rb82", "nh3"])
@pytest.mark.parametrize("mbf", [0.6, 1.0, 2.5])
def test_fit_recovers_mbf_noise_free(tracer, mbf):
    curves = simulate_pet_dynamic(mbf_ml_min_g=mbf, tracer=tracer)
    fit = fit_one_tissue(curves)
    assert fit.mbf_ml_min_g == pytest.approx(mbf, rel=0.05)
    assert fit.v_lv == pytest.approx(curves.v_lv, abs=0.02)


def test_spillover_and_noise():
    clean = simulate_pet_dynamic(mbf_ml_min_g=1.0)
    expected = (1 - 0.25 - 0.05) * clean.tissue + 0.25 * clean.blood_lv + 0.05 * clean.blood_rv
    assert np.allclose(clean.myocardium, expected)
    noisy = simulate_pet_dynamic(mbf_ml_min_g=1.0, noise_cv=0.05, seed=7)
    assert not np.allclose(noisy.myocardium, clean.myocardium)
    assert np.array_equal(
        noisy.myocardium, simulate_pet_dynamic(mbf_ml_min_g=1.0, noise_cv=0.05, seed=7).myocardium
    )
    assert fit_one_tissue(noisy).mbf_ml_min_g == pytest.approx(1.0, rel=0.25)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tracer": "fdg"}, "tracer must be rb82, nh3 or h2o"),
        ({"tracer": "rb-82", "mbf_ml_min_g": -1}, "mbf must be"),
    ],
)
def test_bad_pet_options(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        simulate_pet_dynamic(**{"mbf_ml_min_g": 1.0, **kwargs})


def test_flow_phantom_anatomy_varies_per_study():
    from cardiolens.phantom.pet_flow import random_flow_truth, simulate_flow_images

    anatomies = []
    for seed in range(6):
        rest, stress = random_flow_truth(np.random.default_rng(seed), "rb82")
        assert rest.anatomy == stress.anatomy  # one patient at rest and stress
        a = rest.anatomy
        assert 80 <= a.edv_ml <= 150 and 8 <= a.wall_thickness_mm <= 13
        assert 35 <= a.azimuth_deg <= 65 and 15 <= a.elevation_deg <= 35
        assert max(abs(v) for v in a.centre_lps_mm[:2]) <= 12 and abs(a.centre_lps_mm[2]) <= 6
        anatomies.append(a)
    assert len({a.edv_ml for a in anatomies}) == 6
    images = simulate_flow_images(rest, noise=False, frame_durations_s=[10.0] * 18)
    assert images.settings["lv_centre_lps_mm"] == pytest.approx(list(a.centre_lps_mm), abs=0.01)
    assert rest.to_json()["anatomy"]["wall_thickness_mm"] == round(a.wall_thickness_mm, 2)
