"""Numbers behind the new figures: extents, the polar display mapping, phase samples."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cardiolens.nuclear.function import phase_analysis
from cardiolens.report.nuclear_figures import perfusion_extents
from cardiolens.report.polar_figures import display_radius, extent_pct


def _state(severity: np.ndarray, weight: np.ndarray) -> SimpleNamespace:
    return SimpleNamespace(
        deficit=SimpleNamespace(severity=severity), polar=SimpleNamespace(area_weight=weight)
    )


def test_extents_are_area_weighted_and_split_reversible_from_fixed():
    weight = np.array([[0.1, 0.1], [0.3, 0.5]])
    stress = np.array([[0.0, 2.0], [1.5, 0.0]])  # abnormal: 0.1 + 0.3 of the LV
    rest = np.array([[0.0, 0.0], [1.0, 0.0]])  # abnormal: 0.3
    extents = perfusion_extents(
        SimpleNamespace(stress=_state(stress, weight), rest=_state(rest, weight))
    )
    assert extents == {"stress": 40.0, "rest": 30.0, "reversible": 10.0, "fixed": 30.0}
    assert extent_pct(np.ones((2, 2), bool), weight * 3) == pytest.approx(100.0)
    alone = perfusion_extents(SimpleNamespace(stress=None, rest=_state(rest, weight)))
    assert alone == {"rest": 30.0}


def test_display_radius_puts_the_apex_cap_inside_1_and_the_base_at_4():
    fraction = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    assert display_radius(fraction).tolist() == [0.0, 0.5, 1.0, 2.5, 4.0]


def test_phase_samples_reproduce_the_reported_sd():
    """The per-sample phases drawn in the histogram give back the phase SD (Chen 2005)."""
    n_gates, shape = 8, (3, 12)
    rng = np.random.default_rng(1)
    true_phase = rng.normal(150.0, 12.0, shape)
    gates = np.arange(n_gates).reshape(-1, 1, 1)
    curves = 10 + np.cos(2 * np.pi * gates / n_gates - np.deg2rad(true_phase))
    weight = np.full(shape, 2.0)
    phase = phase_analysis(curves, weight)
    assert phase.phase_deg.shape == shape and phase.weight.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(phase.phase_deg, np.mod(true_phase, 360.0), atol=1e-6)
    w = phase.weight.ravel()
    mean = np.sum(w * phase.phase_deg.ravel())
    sd = np.sqrt(np.sum(w * (phase.phase_deg.ravel() - mean) ** 2))
    assert phase.phase_sd_deg == pytest.approx(sd, abs=1e-6)
