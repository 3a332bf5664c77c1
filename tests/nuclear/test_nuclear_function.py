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
