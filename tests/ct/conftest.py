"""Shared CT phantoms for the calcium tests (generated once per session)."""

from __future__ import annotations

import pytest

from cardiolens.phantom.ct_simulate import CTPhantom, simulate_ct

#: The clinical 0.7 mm pixels on a 384 x 384 x 50 field centred on the chest (270 mm, a
#: cardiac field of view) to keep the suite fast; the benchmark sweeps 30 full-size cases.
SMALL = {"matrix": (50, 384, 384), "pixel_mm": 0.7}
SEEDS = (12, 13, 14)


@pytest.fixture(scope="session")
def phantoms() -> list[CTPhantom]:
    """Three random phantoms with distractors and 20 HU noise (``.clean`` is noise-free)."""
    return [simulate_ct(seed=seed, noise_hu=20.0, **SMALL) for seed in SEEDS]
