"""Noisy phantoms: the automatic pipeline adds no error to the definitions' own noise error.

The *oracle* applies the same definitions (``measure_lesions``) to the same noisy image
restricted to the true lesions (``true_lesion_region``); ``benchmarks/bench_calcium.py`` has the
30-case sweep and the noise-realisation study these tests sample.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from cardiolens.core.volume import Volume
from cardiolens.ct import score_calcium
from cardiolens.ct.validation import ORACLE_SCORES as SCORES
from cardiolens.ct.validation import oracle_scores, true_lesion_region


def _oracle(volume: Volume, lesion_labels: np.ndarray) -> dict[str, float]:
    """Totals of the definitions on the true lesions (their support and calcium connected to it)."""
    per_lesion = oracle_scores(volume, true_lesion_region(volume, lesion_labels))
    return {key: sum(m[key] for m in per_lesion.values()) for key in SCORES}


def test_automatic_noisy_score_equals_the_oracle(phantoms):
    """Heart finding, candidate exclusion and lesion grouping add nothing to the noise error."""
    for phantom in phantoms[:2]:
        result = score_calcium(phantom.volume)
        oracle = _oracle(phantom.volume, phantom.lesion_labels)
        for key in SCORES:
            assert getattr(result, key) == pytest.approx(oracle[key], rel=1e-9), key


def test_scores_of_300_and_more_stay_within_5_percent_under_noise(phantoms):
    """Total Agatston >= 300: the definitions' spread under 20 HU noise is about 1.5 %
    (bench_calcium realisation study), so every noise draw must be within 5 %."""
    phantom = phantoms[1]
    truth = phantom.truth["totals"]
    assert truth["agatston"] >= 300.0
    box = ndi.find_objects((phantom.lesion_labels > 0).astype(np.int8))[0]
    box = tuple(
        slice(max(b.start - m, 0), b.stop + m) for b, m in zip(box, (2, 12, 12), strict=True)
    )
    clean = np.asarray(phantom.clean.array)[box]
    for source in (phantoms[0], phantoms[2]):  # their noise: independent of this phantom's
        noise = np.asarray(source.volume.array) - np.asarray(source.clean.array)
        for shift in ((0, 0, 0), (7, 40, 40), (13, 80, -60)):
            volume = Volume(
                clean + np.roll(noise, shift, axis=(0, 1, 2))[box],
                spacing_mm=phantom.volume.spacing_mm,
                modality="CT",
                metadata=dict(phantom.volume.metadata),
            )
            oracle = _oracle(volume, phantom.lesion_labels[box])
            for key in SCORES:
                assert oracle[key] == pytest.approx(truth[key], rel=0.05), (key, shift)
