"""SPECT phantom: round trip through the reader, reproducibility, ground truth, Poisson noise, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cardiolens.core.errors import ParameterError
from cardiolens.phantom import DefectSpec, simulate_spect, simulate_spect_study
from cardiolens.phantom.spect_physics import AcquisitionProtocol, poisson_projections

SMALL = {"matrix": (40, 48, 48), "voxel_mm": 4.0, "method": "image_space"}
FAST = {
    "matrix": (24, 32, 32),
    "voxel_mm": 7.0,
    "method": "image_space",
}  # where accuracy is not the point
DEFECT = DefectSpec("LAD", severity_pct=60, extent_pct=15)


@pytest.fixture(scope="module")
def phantom():
    return simulate_spect(seed=3, lvef_pct=55, edv_ml=130, defects=[DEFECT], **SMALL)


def test_round_trip_through_reader(tmp_path):
    from cardiolens.io import load_study

    out = simulate_spect_study(tmp_path / "study", seed=5, n_gates=16, **SMALL)
    study = load_study(out)
    nm = [s for s in study.series if s.modality == "NM"]
    assert len(nm) == 4  # stress and rest, gated and summed
    gated = [s for s in nm if s.n_gates]
    assert sorted(s.role.value for s in gated) == ["spect_rest", "spect_stress"]
    for series in nm:
        assert series.volume.shape == SMALL["matrix"]
        assert np.allclose(series.volume.spacing_mm, 4.0)
    assert {s.n_gates for s in gated} == {16}
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["parameters"]["n_gates"] == 16 and len(truth["gate_cavity_volumes_ml"]) == 16
    assert (out / "masks" / "cavity_gate16.nii.gz").exists() and (
        out / "masks" / "defect_stress.nii.gz"
    ).exists()
    # the reader places the written gates on the phantom's grid, counts within quantisation
    again = simulate_spect(seed=5, n_gates=16, **SMALL)
    stress = next(s for s in gated if s.role.value == "spect_stress")
    assert np.allclose(stress.volume.origin_mm, again.stress.summed.origin_mm, atol=1e-3)
    expected = again.stress.gates[0].array
    assert np.abs(stress.gates[0].array - expected).max() <= 1e-3 * expected.max() + 1e-6


def test_same_seed_same_pixels():
    first, twin, other = (simulate_spect(seed=s, defects=[DEFECT], **FAST) for s in (3, 3, 4))
    assert np.array_equal(twin.stress.gates[2].array, first.stress.gates[2].array)
    assert np.array_equal(twin.rest.summed.array, first.rest.summed.array)
    assert not np.array_equal(other.stress.gates[2].array, first.stress.gates[2].array)


def test_cavity_masks_match_edv_and_esv(phantom):
    truth = phantom.truth
    assert truth.esv_ml == pytest.approx(130 * 0.45)
    assert truth.gate_cavity_volumes_ml[0] == pytest.approx(130)
    assert min(truth.gate_cavity_volumes_ml) == pytest.approx(truth.esv_ml)
    voxel_ml = 0.064
    mask_ml = [m.array.sum() * voxel_ml for m in phantom.cavity_masks]
    assert mask_ml[0] == pytest.approx(130, rel=0.02)
    assert min(mask_ml) == pytest.approx(truth.esv_ml, rel=0.02)


def test_defect_mask_meets_extent(phantom):
    masks = phantom.defect_masks
    extent_mask = 100 * masks["stress"].array.sum() / phantom.myocardium_mask.array.sum()
    assert abs(extent_mask - 15) < 1.0
    assert abs(phantom.truth.territory_extent_pct["stress"]["LAD"] - 15) < 0.1
    assert masks["rest"].array.sum() == 0  # reversible
    uptake = phantom.truth.segment_uptake
    assert uptake["stress"][7] < 0.8 and uptake["stress"][4] == 1.0 and uptake["rest"][7] == 1.0


def test_poisson_noise_statistics():
    rng = np.random.default_rng(0)
    expected = [rng.uniform(0.5, 3.0, (32, 40, 30)) for _ in range(8)]
    noisy, scale = poisson_projections(expected, 1e6, np.random.default_rng(1))
    total = sum(n.sum() for n in noisy)
    assert abs(total - 1e6) < 5 * np.sqrt(1e6)
    lam = np.concatenate([(e * scale).ravel() for e in expected])
    counts = np.concatenate([n.ravel() for n in noisy])
    assert np.array_equal(counts, np.round(counts))
    dispersion = np.mean((counts - lam) ** 2 / lam)  # 1 for Poisson
    assert dispersion == pytest.approx(1.0, abs=0.02)


def _inferior_to_anterior(phantom) -> float:
    """Mean counts of the mid inferior over the mid anterior ED myocardium (truth LV frame)."""
    truth = phantom.truth
    mask = phantom.myocardium_mask
    points = mask.index_to_physical(np.argwhere(mask.array > 0)) - np.asarray(truth.lv_apex_lps_mm)
    h = -points @ np.asarray(truth.long_axis_lps) / truth.cavity_length_mm
    angle = np.rad2deg(
        np.arctan2(
            points @ np.asarray(truth.septal_axis_lps), points @ np.asarray(truth.anterior_axis_lps)
        )
    )
    counts = phantom.stress.summed.array[mask.array > 0]
    mid = (h > 0.3) & (h < 0.9)
    inferior = counts[mid & (np.abs(angle) > 135)].mean()
    anterior = counts[mid & (np.abs(angle) < 45)].mean()
    return float(inferior / anterior)


def test_osem_study_counts_and_ac():
    protocol = AcquisitionProtocol(n_views=16, iterations_gated=1, iterations_summed=2, subsets=4)
    kwargs = {
        "seed": 1,
        "matrix": (24, 40, 40),
        "voxel_mm": 8.0,
        "counts": 2e5,
        "include_rest": False,
    }
    ac = simulate_spect(protocol=protocol, **kwargs)
    nac = simulate_spect(protocol=protocol, attenuation_correction=False, **kwargs)
    projections = ac.stress.projections
    assert projections.shape[:2] == (8, 16)
    assert abs(projections.sum() - 2e5) < 5 * np.sqrt(2e5)
    assert np.array_equal(
        projections, nac.stress.projections
    )  # same data, different reconstruction
    myo = ac.myocardium_mask.array > 0
    # attenuation correction raises the deep (inferior/septal) counts relative to the total
    ratio_ac = ac.stress.summed.array[myo].mean() / ac.stress.summed.array.mean()
    ratio_nac = nac.stress.summed.array[myo].mean() / nac.stress.summed.array.mean()
    assert ratio_ac > 2 and ratio_nac > 2
    assert ac.stress.summed.array.sum() > nac.stress.summed.array.sum()
    # without correction the inferior wall (deep, over the diaphragm) loses counts against the anterior
    assert _inferior_to_anterior(nac) < _inferior_to_anterior(ac) - 0.05
    again = simulate_spect(protocol=protocol, **kwargs)
    # same seed, same pixels
    assert np.array_equal(again.stress.gates[0].array, ac.stress.gates[0].array)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lvef_pct": -5}, "ESV must be below EDV"),
        ({"lvef_pct": 100}, "between 0 and 100"),
        ({"n_gates": 12}, "gates must be 8 or 16"),
        ({"method": "osme"}, "Did you mean 'osem'"),
        ({"counts": 10}, "counts must be"),
    ],
)
def test_bad_options_are_clear(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        simulate_spect(seed=0, **{**FAST, **kwargs})


def test_explicit_rest_defects_and_mixed_type():
    stress = [DefectSpec("LAD", 70, 12, "mixed", rest_severity_pct=20), DefectSpec("RCA", 50, 8)]
    phantom = simulate_spect(
        seed=6, defects=stress, rest_defects=[DefectSpec("LCx", 40, 10)], **FAST
    )
    rest = phantom.truth.territory_extent_pct["rest"]
    assert rest["LAD"] == 0 and rest["RCA"] == 0 and abs(rest["LCx"] - 10) < 0.1
    derived = simulate_spect(seed=6, defects=stress, include_rest=False, **FAST).truth
    assert (
        abs(derived.territory_extent_pct["rest"]["LAD"] - 12) < 0.1
    )  # mixed: rest keeps the region
    assert derived.territory_extent_pct["rest"]["RCA"] == 0  # reversible
    lad = next(d for d in derived.defects if d["location"] == "LAD")
    assert (lad["stress_severity_pct"], lad["rest_severity_pct"]) == (70, 20)
