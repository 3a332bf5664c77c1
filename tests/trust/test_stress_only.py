"""Stress-only selection against hand-computed cases and a simulated cohort."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.trust.stress_only import annual_event_rate, select_stress_only


def test_hand_computed_selection_with_person_years():
    risk = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.20])
    event = np.array([0, 0, 1, 0, 0, 1])
    years = np.full(6, 10.0)
    # cumulative rates: 0/10, 0/20, 1/30, 1/40, 1/50, 2/60 -> largest with <= 0.025 is 5 patients
    selection = select_stress_only(risk, event, years, max_annual_rate=0.025)
    assert selection.n_selected == 5 and selection.threshold == 0.05
    assert selection.fraction_selected == pytest.approx(5 / 6)
    assert selection.selected_rate.value == pytest.approx(1 / 50)
    assert selection.not_selected_rate.value == pytest.approx(1 / 10)


def test_ties_are_never_split_and_impossible_limits():
    risk = np.array([0.1, 0.1, 0.2])
    event = np.array([0, 1, 0])
    selection = select_stress_only(risk, event, max_annual_rate=0.4)
    assert selection.n_selected == 0 or selection.n_selected >= 2
    assert (
        select_stress_only(np.array([0.1, 0.2]), np.array([1, 1]), max_annual_rate=0.5).n_selected
        == 0
    )


def test_exact_poisson_interval():
    # Garwood interval for 3 events in 100 patient-years: 0.619 to 8.767 events
    estimate = annual_event_rate(3, 100.0, person_years=True)
    assert (estimate.lower, estimate.upper) == pytest.approx((0.00619, 0.08767), abs=2e-5)
    proportion = annual_event_rate(0, 50, person_years=False)
    assert proportion.lower == 0.0 and proportion.upper == pytest.approx(1 - 0.025 ** (1 / 50))


def test_simulated_cohort_keeps_the_selected_rate_under_the_limit():
    rng = np.random.default_rng(0)
    annual_hazard = rng.lognormal(np.log(0.015), 0.8, 20000)
    years = rng.uniform(1, 4, 20000)
    event = (rng.random(20000) < 1 - np.exp(-annual_hazard * years)).astype(int)
    selection = select_stress_only(annual_hazard, event, years, max_annual_rate=0.012)
    assert selection.selected_rate.value <= 0.012
    assert selection.not_selected_rate.value > 0.012
    assert 0.3 < selection.fraction_selected < 0.8
    assert (
        selection.selected_rate.lower
        < selection.selected_rate.value
        < selection.selected_rate.upper
    )
