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


def _low_dose_slab(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """5 slices of 120 x 120 at 1 mm, 35 HU white noise: blood/myocardium (40 HU) on the
    left, epicardial fat (-100 HU) on the right; the left half's middle is the heart core."""
    rng = np.random.default_rng(seed)
    hu = np.where(np.arange(120) < 60, 40.0, -100.0)[None, None, :] + rng.normal(
        0.0, 35.0, (5, 120, 120)
    )
    core = np.zeros(hu.shape, dtype=bool)
    core[:, 10:110, 5:50] = True
    return np.round(hu).astype(np.float32), core


def test_a_faint_lesion_in_fat_is_kept_whole_and_blood_noise_spikes_are_not(monkeypatch):
    """Per 3D group: a 2-pixel lesion at 140-150 HU in fat passes on its local contrast (about
    7 noise SD over the fat) though its peak is below the other two tests; a noise spike
    of the same values in 40 HU blood (about 3 SD over its surroundings) is left out."""
    from cardiolens.ct.agatston import AgatstonConvention
    from cardiolens.ct.lesions import calcium_components
    from cardiolens.ct.noise import noise_spikes

    hu, core = _low_dose_slab(5)
    hu = np.clip(hu, None, 125.0)  # no noise group of its own: only the two planted ones
    hu[2, 60, 70:72] = [150.0, 140.0]  # lesion in fat, 10 mm from the blood
    hu[2, 60, 30:32] = [150.0, 140.0]  # spike in blood
    volume = Volume(hu, spacing_mm=(5.0, 1.0, 1.0), modality="CT")
    _, groups, n = calcium_components(volume, AgatstonConvention())
    assert n == 2
    spikes, _ = noise_spikes(volume, groups, core)
    lesion, spike = int(groups[2, 60, 70]), int(groups[2, 60, 30])
    assert spikes == {spike}
    assert lesion not in spikes and (groups == lesion).sum() == 2
    # The local-contrast test is what keeps the lesion: without it both are spikes.
    monkeypatch.setattr("cardiolens.ct.noise.MIN_LOCAL_SNR", np.inf)
    assert noise_spikes(volume, groups, core)[0] == {lesion, spike}


def test_the_oracle_counts_calcium_connected_to_a_lesion_not_a_spike_beside_it():
    """``true_lesion_region``: noise joined to a lesion is scored with it; a detached spike
    3 pixels beyond the lesion's support is not the lesion."""
    hu = np.full((3, 40, 40), 40.0, np.float32)
    support = np.zeros(hu.shape, np.int32)
    support[1, 15:21, 15:21] = 1
    hu[1, 17:19, 17:19] = 400.0  # the lesion
    hu[1, 17:19, 19:23] = 150.0  # noise over 130 HU joined to it, leaving the support
    hu[1, 10:12, 26:28] = 150.0  # a detached spike outside the support
    volume = Volume(hu, spacing_mm=(3.0, 1.0, 1.0), modality="CT")
    region = true_lesion_region(volume, support)
    assert np.all(region[1, 17:19, 17:23] == 1)
    assert np.all(region[1, 10:12, 26:28] == 0)
    scores = oracle_scores(volume, region)
    assert scores[1]["volume_mm3"] == pytest.approx(12 * 3.0)
