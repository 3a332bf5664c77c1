"""Accuracy against SPECT phantom ground truth on a subset of the benchmark sweep.

The full sweep (>= 30 cases) is ``benchmarks/bench_nuclear.py``; these five
cases (one normal per size extreme, one single-vessel defect per territory)
hold the same acceptance targets of issue 4, and one two-vessel case of the
sweep holds them on its own.
"""

from __future__ import annotations

import pytest

from cardiolens.nuclear.validation import (
    PhantomCase,
    as_series,
    run_phantom_case,
    simulate_case,
    standard_cases,
    summarize,
)

CASES = (
    PhantomCase(seed=201, edv_ml=120.0, lvef_pct=60.0, counts=8e6),
    PhantomCase(seed=202, edv_ml=140.0, lvef_pct=55.0, defects=(("LAD", 60.0),)),
    PhantomCase(seed=203, edv_ml=100.0, lvef_pct=65.0, defects=(("RCA", 60.0),), extracardiac=1.5),
    PhantomCase(seed=204, edv_ml=160.0, lvef_pct=45.0, defects=(("LCx", 60.0),), counts=6e6),
    PhantomCase(seed=205, edv_ml=90.0, lvef_pct=65.0, counts=5e6),
)
#: Benchmark case s107: LAD and LCx defects (55 % and 58 %, two thirds of the LV), EDV
#: 170 mL. The LV, dim against the liver dome, was refused as "not found" before it was
#: located by shape.
TWO_VESSEL = standard_cases(n=32, seed=100)[7]


@pytest.fixture(scope="module")
def results():
    return [run_phantom_case(case) for case in CASES]


def test_volumes_and_ejection_fraction(results):
    # issue 4 acceptance 1: LVEF mean absolute error <= 4 points, EDV within 10 %
    summary = summarize(results)
    assert summary["lvef_mae_points"] <= 4.0, [r.row() for r in results]
    for r in results:
        edv_error = abs(r.measured["edv_ml"] / r.true["edv_ml"] - 1.0)
        assert edv_error <= 0.10, r.row()


def test_defect_size_and_territory(results):
    summary = summarize(results)
    assert summary["tpd_vs_extent_mae_points"] <= 3.0, [r.row() for r in results]
    assert summary["single_vessel_territory_correct_fraction"] == 1.0
    assert summary["normals_tpd_below_3pct_fraction"] == 1.0


def test_two_vessel_defect_is_located_and_measured():
    # issue 4 acceptance 1 tolerances, held by this case alone
    r = run_phantom_case(TWO_VESSEL)
    assert r.failure is None, r.failure
    assert "implausible_lv" not in r.quality_flags, r.row()
    assert abs(r.measured["edv_ml"] / r.true["edv_ml"] - 1.0) <= 0.10, r.row()
    assert abs(r.measured["lvef_pct"] - r.true["lvef_pct"]) <= 4.0, r.row()
    assert abs(r.measured["tpd_pct"] - r.true["extent_pct"]) <= 3.0, r.row()
    assert r.measured_territory in {"LAD", "LCx"}, r.row()


def test_low_count_study_is_flagged():
    from cardiolens.nuclear import analyze_perfusion
    from cardiolens.phantom import simulate_spect

    phantom = simulate_spect(seed=5, counts=3e5, method="image_space", include_rest=False)
    result = analyze_perfusion(stress=phantom.stress.summed)
    assert "low_counts" in {f.code for f in result.stress.quality_flags}


def test_hypertrophied_wall_is_measured_from_the_gates():
    # benchmark case s100: ED wall 11.9 mm; with the fixed 10 mm population wall its
    # EDV was 11 % too large. The wall is measured from the gates (partial-volume fit).
    from cardiolens.nuclear import analyze_perfusion

    phantom = simulate_case(standard_cases(n=32, seed=100)[0])
    function = analyze_perfusion(stress=as_series(phantom.stress)).stress.function
    truth = phantom.truth
    assert function.wall_thickness.measured, function.wall_thickness.note
    assert abs(function.wall_thickness.ed_thickness_mm - truth.wall_thickness_mm) <= 1.0
    assert abs(function.edv_ml / truth.edv_ml - 1.0) <= 0.10
    assert abs(function.lvef_pct - truth.lvef_pct) <= 4.0
    assert function.to_json()["ed_wall_thickness_measured"] is True
