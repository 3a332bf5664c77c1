"""Phase analysis on count curves with known phases (Chen et al. 2005 definitions)."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.core.errors import ParameterError
from cardiolens.nuclear.function import phase_analysis


def _curves(phases_deg: np.ndarray, n_gates: int = 16) -> np.ndarray:
    g = np.arange(n_gates)[:, None]
    return 100.0 + 20.0 * np.cos(2 * np.pi * g / n_gates - np.deg2rad(phases_deg)[None, :])


def test_synchronous_contraction_has_zero_spread():
    phases = np.full(400, 120.0)
    result = phase_analysis(_curves(phases), np.ones(400))
    assert result.phase_sd_deg == pytest.approx(0.0, abs=1e-6)
    assert result.bandwidth_deg == pytest.approx(0.0, abs=1e-6)
    assert result.peak_phase_deg == pytest.approx(120.5)
    assert result.entropy_pct == pytest.approx(0.0, abs=1e-9)


def test_uniform_spread_gives_its_sd_and_bandwidth():
    # phases uniform on 100..160 deg: SD = 60 / sqrt(12), 95 % width = 57 deg
    phases = np.linspace(100.0, 160.0, 6001)
    result = phase_analysis(_curves(phases), np.ones(phases.size))
    assert result.phase_sd_deg == pytest.approx(60.0 / np.sqrt(12.0), rel=0.02)
    assert result.bandwidth_deg == pytest.approx(57.0, abs=1.5)
    # 60 equally filled 1-degree bins: entropy log(60) / log(360)
    assert result.entropy_pct == pytest.approx(100 * np.log(60) / np.log(360), rel=0.02)


def test_phases_across_zero_do_not_wrap():
    phases = np.mod(np.linspace(-20.0, 20.0, 4001), 360.0)
    result = phase_analysis(_curves(phases), np.ones(phases.size))
    assert result.bandwidth_deg == pytest.approx(38.0, abs=1.5)


def test_too_few_gates_is_an_error():
    with pytest.raises(ParameterError, match="at least"):
        phase_analysis(_curves(np.zeros(10), n_gates=3), np.ones(10))


@pytest.mark.parametrize(("delay_deg", "low", "high"), [(0.0, 0.0, 15.0), (90.0, 25.0, 90.0)])
def test_phase_sd_on_phantoms_separates_dyssynchrony(delay_deg, low, high):
    # a normal LV contracts in synchrony; a 90 deg late lateral wall widens the distribution
    from cardiolens.nuclear import analyze_perfusion
    from cardiolens.nuclear.validation import as_series
    from cardiolens.phantom import simulate_spect
    from cardiolens.phantom.motion import WallMotionSpec

    motion = (
        () if delay_deg == 0 else (WallMotionSpec((5, 6, 11, 12, 16), phase_delay_deg=delay_deg),)
    )
    phantom = simulate_spect(
        seed=201,
        method="image_space",
        include_rest=False,
        wall_motion=motion,
        randomize_anatomy=True,
    )
    function = analyze_perfusion(stress=as_series(phantom.stress)).stress.function
    assert low <= function.phase.phase_sd_deg <= high


def _wall_gates(ed_thickness_mm: float, sigma_mm: float, area_ratio: float, n_gates: int = 8):
    """Synthetic profiles: a wall thickening with constant volume, blurred by a Gaussian.

    Computed by numerical convolution of a rectangle (not with the fitted model's erf),
    on a cavity-to-outside background step, with the gate's mid-wall area.
    """
    from scipy import ndimage as ndi

    from cardiolens.nuclear.function import _PROFILE_OFFSETS_MM

    fine = np.arange(-60.0, 60.0, 0.05)
    phase = np.arange(n_gates) / n_gates
    area = 1000.0 * (1.0 - (1.0 - 1.0 / area_ratio) * 0.5 * (1 - np.cos(2 * np.pi * phase)))
    profiles = []
    for a in area:
        thickness = ed_thickness_mm * area.max() / a
        wall = (np.abs(fine) <= 0.5 * thickness).astype(float)
        image = 0.2 * (fine < 0) + 0.1 * (fine >= 0) + wall
        blurred = ndi.gaussian_filter1d(image, sigma_mm / 0.05, mode="nearest")
        profiles.append(np.interp(_PROFILE_OFFSETS_MM, fine, blurred))
    return np.array(profiles), area, _PROFILE_OFFSETS_MM


@pytest.mark.parametrize(
    ("thickness", "sigma"), [(8.0, 4.7), (10.0, 5.5), (12.0, 4.7), (14.0, 6.4), (12.0, 3.5)]
)
def test_wall_thickness_fit_recovers_thickness_and_resolution(thickness, sigma):
    from cardiolens.nuclear.function import fit_wall_thickness

    profiles, area, offsets = _wall_gates(thickness, sigma, area_ratio=1.35)
    result = fit_wall_thickness(profiles, area, offsets)
    assert result.measured, result.note
    assert result.ed_thickness_mm == pytest.approx(thickness, abs=0.1)
    assert result.resolution_sigma_mm == pytest.approx(sigma, abs=0.1)


def test_wall_thickness_fit_is_robust_to_noise():
    from cardiolens.nuclear.function import fit_wall_thickness

    profiles, area, offsets = _wall_gates(11.5, 4.7, area_ratio=1.35)
    rng = np.random.default_rng(0)
    noisy = profiles + rng.normal(0.0, 0.005 * profiles.max(), profiles.shape)
    result = fit_wall_thickness(noisy, area, offsets)
    assert result.measured, result.note
    assert result.ed_thickness_mm == pytest.approx(11.5, abs=0.5)


def test_wall_thickness_falls_back_without_thickening():
    from cardiolens.nuclear.function import fit_wall_thickness
    from cardiolens.nuclear.segment import DEFAULT_WALL_THICKNESS_MM

    profiles, area, offsets = _wall_gates(12.0, 4.7, area_ratio=1.05)
    result = fit_wall_thickness(profiles, area, offsets)
    assert not result.measured
    assert result.ed_thickness_mm == DEFAULT_WALL_THICKNESS_MM
    assert "thickens too little" in result.note


def test_wall_thickness_fallback_still_measures_the_resolution():
    # a wall of the default thickness that hardly thickens: the thickness is not
    # measured, the resolution is (for the curvature correction of the count maximum)
    from cardiolens.nuclear.function import fit_wall_thickness
    from cardiolens.nuclear.segment import DEFAULT_WALL_THICKNESS_MM

    profiles, area, offsets = _wall_gates(DEFAULT_WALL_THICKNESS_MM, 5.5, area_ratio=1.05)
    result = fit_wall_thickness(profiles, area, offsets)
    assert not result.measured
    assert result.resolution_sigma_mm == pytest.approx(5.5, abs=0.1)
    assert "resolution SD 5.5 mm at the default thickness" in result.note


def test_wall_thickness_falls_back_on_noise():
    from cardiolens.nuclear.function import fit_wall_thickness

    rng = np.random.default_rng(1)
    profiles, area, offsets = _wall_gates(10.0, 4.7, area_ratio=1.35)
    noise = rng.normal(0.0, profiles.max(), profiles.shape)
    result = fit_wall_thickness(profiles + noise, area, offsets)
    assert not result.measured
    assert result.note


def test_wall_thickness_fit_checks_its_input():
    from cardiolens.nuclear.function import fit_wall_thickness

    profiles, area, offsets = _wall_gates(10.0, 4.7, area_ratio=1.35)
    with pytest.raises(ParameterError, match="wall thickness fit"):
        fit_wall_thickness(profiles[:, :-1], area, offsets)
    with pytest.raises(ParameterError, match="wall thickness fit"):
        fit_wall_thickness(profiles[:3], area[:3], offsets)


def test_curvature_shift_of_a_blurred_ring():
    # a thin ring of radius R blurred by a 2D Gaussian of SD s peaks at R - s^2 / (2 R)
    from scipy import ndimage as ndi

    step, radius, sigma = 0.1, 25.0, 5.0
    y, x = np.mgrid[-40:40:step, -40:40:step]
    r = np.hypot(x, y)
    ring = (np.abs(r - radius) <= 6.0).astype(float)  # a 12 mm wall: same shift to first order
    blurred = ndi.gaussian_filter(ring, sigma / step)
    row = blurred[blurred.shape[0] // 2, blurred.shape[1] // 2 :]
    peak = x[0, blurred.shape[1] // 2 + int(np.argmax(row))]
    assert radius - peak == pytest.approx(sigma**2 / (2 * radius), abs=0.15)
