"""Realism: phantom count ratios and wall thickness fall in the ranges measured on real PhysioNet studies."""

from __future__ import annotations

import pytest

from cardiolens.phantom import physionet_realism, realism_metrics, simulate_spect

FIELDS = ("myocardium_to_background", "extracardiac_to_myocardium", "wall_thickness_voxels")


@pytest.fixture(scope="module")
def real_ranges(physionet_masks_dir):
    measured = physionet_realism(physionet_masks_dir)
    assert len(measured) == 3
    return {
        f: (
            min(getattr(m, f) for m in measured.values()),
            max(getattr(m, f) for m in measured.values()),
        )
        for f in FIELDS
    }


def test_real_studies_measure_plausibly(real_ranges):
    lo, hi = real_ranges["myocardium_to_background"]
    assert 3 < lo <= hi < 7
    lo, hi = real_ranges["wall_thickness_voxels"]
    assert 2 < lo <= hi < 5  # 8-20 mm apparent wall at 4 mm voxels


@pytest.mark.parametrize("seed", [0, 1])
def test_phantom_within_real_ranges(real_ranges, seed):
    phantom = simulate_spect(seed=seed, method="image_space", include_rest=False)
    metrics = realism_metrics(phantom.stress.summed.array, phantom.myocardium_mask.array, 4.0)
    for field in FIELDS:
        lo, hi = real_ranges[field]
        assert lo <= getattr(metrics, field) <= hi, (field, getattr(metrics, field), (lo, hi))
