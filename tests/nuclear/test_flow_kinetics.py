"""PET flow kinetic models against ground truth and a plain scipy reference implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize

from cardiolens.core.errors import ParameterError
from cardiolens.nuclear.flow import FlowTracer, cfc_category, fit_tac, flow_reserve
from cardiolens.nuclear.flow.kinetics import (
    WATER_PARTITION_ML_G,
    frame_tissue_curves,
    k1_from_mbf,
    mbf_from_k1,
    nh3_parent_fraction,
)
from cardiolens.phantom.pet_flow import random_flow_truth, simulate_segment_tacs

SEPTAL = (2, 3, 8, 9, 14)


def _fit_segments(tacs):
    return np.array(
        [
            fit_tac(
                tacs.truth.tracer.value, tacs.frame_start_s, tacs.frame_durations_s,
                tacs.blood_lv, tacs.segments[s], blood_rv=tacs.blood_rv, fit_rv=s + 1 in SEPTAL,
            ).mbf_ml_min_g
            for s in range(17)
        ]
    )  # fmt: skip


def test_lortie_extraction_and_ammonia_metabolites():
    # Lortie 2007 at MBF 1: K1 = 1 - 0.77 exp(-0.63) = 1 - 0.77 x 0.53259 = 0.58990
    assert float(k1_from_mbf(1.0, "rb82")) == pytest.approx(0.589904, abs=1e-6)
    assert mbf_from_k1(float(k1_from_mbf(3.2, "rb82")), "rb82") == pytest.approx(3.2, rel=1e-9)
    assert mbf_from_k1(0.8, "nh3") == 0.8 and mbf_from_k1(0.8, "h2o") == 0.8
    # van den Hoff 2001: all parent before t0 = 0.48 min, half after a further 6.69 min
    assert nh3_parent_fraction(np.array([0.0, 28.8]))[1] == pytest.approx(1.0)
    assert float(nh3_parent_fraction(np.array([(0.48 + 6.69) * 60]))[0]) == pytest.approx(0.5)


def test_frame_tissue_curve_matches_solve_ivp():
    starts = np.array([0.0, 10.0, 20.0, 40.0, 70.0, 130.0])
    durations = np.array([10.0, 10.0, 20.0, 30.0, 60.0, 120.0])  # frame 5 -> 6 has a gap
    durations[4] = 50.0
    a = np.array([5.0, 120.0, 60.0, 20.0, 10.0, 6.0])
    k1, k2 = 0.9, 0.25  # per minute

    def rhs(t, y):
        k = np.searchsorted(starts, t, side="right") - 1
        inside = t < starts[k] + durations[k]
        held = a[k] if inside or k == len(a) - 1 else a[k]
        return [k1 / 60 * held - k2 / 60 * y[0], y[0]]

    expected = []
    y = [0.0, 0.0]
    t = 0.0
    for s, d in zip(starts, durations, strict=True):
        if s > t:
            y = integrate.solve_ivp(rhs, (t, s), y, rtol=1e-10, atol=1e-12).y[:, -1]
        y0 = y
        y = integrate.solve_ivp(rhs, (s, s + d), y0, rtol=1e-10, atol=1e-12).y[:, -1]
        expected.append((y[1] - y0[1]) / d)
        t = s + d
    got = frame_tissue_curves(a, starts, durations, k1, k2)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def _reference_fit(tacs, segment: int) -> float:
    """Plain reference: odeint of the ODE (input held per frame), least_squares over (K1, k2, V_LV)."""
    starts, durations = tacs.frame_start_s, tacs.frame_durations_s
    t = np.arange(0.0, starts[-1] + durations[-1], 0.25)
    frame = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
    lv_fine = tacs.blood_lv[frame]

    def model(p):
        k1, k2, v = p
        c = integrate.odeint(
            lambda y, tt: k1 / 60 * lv_fine[min(int(tt / 0.25), len(t) - 1)] - k2 / 60 * y,
            0.0,
            t,
            hmax=0.25,
        )[:, 0]
        avg = np.array([c[frame == k].mean() for k in range(len(starts))])
        return (1 - v) * avg + v * tacs.blood_lv

    mid = starts + durations / 2
    data = tacs.segments[segment]
    w = np.sqrt(
        durations * np.exp(-math.log(2) / 75.45 * mid) / np.maximum(data, 0.02 * data.max())
    )
    result = optimize.least_squares(lambda p: (model(p) - data) * w, [1.0, 0.2, 0.2],
                                    bounds=([1e-3, 1e-4, 0], [10, 5, 0.9]), diff_step=1e-3)  # fmt: skip
    return mbf_from_k1(float(result.x[0]), "rb82")


def test_fit_agrees_with_scipy_odeint_reference():
    rest, _ = random_flow_truth(np.random.default_rng(4), "rb82")
    tacs = simulate_segment_tacs(rest, segment_cv_60s=0.03, seed=9)
    for segment in (0, 10):  # lateral segments (no RV spillover)
        ours = fit_tac("rb82", tacs.frame_start_s, tacs.frame_durations_s, tacs.blood_lv,
                       tacs.segments[segment])  # fmt: skip
        assert ours.mbf_ml_min_g == pytest.approx(_reference_fit(tacs, segment), rel=0.01)


@pytest.mark.parametrize("tracer", ["rb82", "nh3", "h2o"])
def test_noise_free_segments_within_5_percent(tracer):
    for seed in (0, 1):
        for truth in random_flow_truth(np.random.default_rng(seed), tracer):
            mbf = _fit_segments(simulate_segment_tacs(truth))
            assert np.max(np.abs(mbf / truth.mbf_ml_min_g - 1)) < 0.05


def test_water_perfusable_tissue_fraction_recovered():
    rest, _ = random_flow_truth(np.random.default_rng(2), "h2o")
    tacs = simulate_segment_tacs(rest)
    fit = fit_tac(
        "h2o", tacs.frame_start_s, tacs.frame_durations_s, tacs.blood_lv, tacs.segments[0]
    )
    assert fit.ptf == pytest.approx(rest.ptf[0], rel=0.03)
    assert fit.k2_per_min == pytest.approx(fit.mbf_ml_min_g / WATER_PARTITION_ML_G)


@pytest.mark.parametrize("tracer", ["rb82", "nh3", "h2o"])
def test_clinical_noise_small_cohort(tracer):
    """Small version of benchmarks/bench_pet_flow.py (curve level, 6 studies)."""
    global_err, segment_err, right, total = [], [], 0, 0
    for seed in range(6):
        rest, stress = random_flow_truth(np.random.default_rng(100 + seed), tracer)
        fitted = {}
        for truth in (rest, stress):
            tacs = simulate_segment_tacs(truth, segment_cv_60s=0.05, seed=seed)
            mbf = _fit_segments(tacs)
            fitted[truth.state] = mbf
            global_err.append(abs(mbf.mean() / truth.mbf_ml_min_g.mean() - 1))
            segment_err += list(np.abs(mbf / truth.mbf_ml_min_g - 1))
        for territory in ("LAD", "RCA", "LCx"):
            from cardiolens.core.aha import territory_segments

            idx = np.array(territory_segments(territory)) - 1
            measured = fitted["stress"][idx].mean() / fitted["rest"][idx].mean()
            true = stress.mbf_ml_min_g[idx].mean() / rest.mbf_ml_min_g[idx].mean()
            right += (measured < 2) == (true < 2)
            total += 1
    assert np.median(global_err) < 0.10
    assert np.median(segment_err) < 0.20
    assert right / total >= 0.85


def test_reserve_and_coronary_flow_capacity():
    np.testing.assert_allclose(flow_reserve([2.0, 1.0], [1.0, 0.0]), [2.0, np.nan])
    assert cfc_category(0.8, 1.1) == "severely reduced"
    assert cfc_category(1.0, 1.5) == "moderately reduced"
    assert cfc_category(1.5, 1.9) == "mildly reduced"
    assert cfc_category(0.8, 2.5) == "minimally reduced"  # both must be reduced
    assert cfc_category(3.0, 3.0) == "normal"


def test_tracer_names():
    assert FlowTracer.parse("Rb-82") == FlowTracer.RB82
    assert FlowTracer.parse("water") == FlowTracer.H2O
    with pytest.raises(ParameterError, match="tracer must be rb82, nh3 or h2o"):
        FlowTracer.parse("fdg")
