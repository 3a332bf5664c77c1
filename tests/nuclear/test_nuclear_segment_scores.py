"""The 0-4 segment score rule: SD cut-offs bounded by the uptake (nuclear.scores docstring)."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.core.errors import ParameterError
from cardiolens.nuclear.scores import ScoreThresholds, score_from_uptake, segment_scores

from .helpers import flat_normals, uniform_polar_map

_RNG_SEED = 20261204


def _sweep(n: int = 20000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uptake 0-100 %, normal means 50-95 % and SDs 5-20 % (the database floor is 5 %)."""
    rng = np.random.default_rng(_RNG_SEED)
    return rng.uniform(0, 100, n), rng.uniform(50, 95, n), rng.uniform(5, 20, n)


def test_score_never_contradicts_the_uptake_or_the_normal_limits():
    uptake, mean, sd = _sweep()
    t = ScoreThresholds()
    score = score_from_uptake(uptake, mean, sd, t)
    sd_below = (mean - uptake) / sd
    # 0 "normal" exactly when the uptake is within the normal limit (mean - 2 SD)
    assert np.array_equal(score == 0, sd_below < t.segment_sd_cutoffs[0])
    # 4 "absent uptake" only near background and far below the normal limits
    absent = score == 4
    assert np.all(uptake[absent] < t.absent_uptake_max_pct)
    assert np.all(sd_below[absent] >= t.segment_sd_cutoffs[3])
    # 1-3 are the normal limits' own: score k from cut-off k to k + 1 SD below the mean
    for k in (1, 2):
        band = sd_below[score == k]
        assert np.all((band >= t.segment_sd_cutoffs[k - 1]) & (band < t.segment_sd_cutoffs[k]))
    # 3 "severely reduced": at least 4 SD below, or 5 SD and more with tracer detected
    severe = score == 3
    assert np.all(sd_below[severe] >= t.segment_sd_cutoffs[2])
    assert np.all(
        (sd_below[severe] < t.segment_sd_cutoffs[3]) | (uptake[severe] >= t.absent_uptake_max_pct)
    )
    # every score occurs in the sweep
    assert set(np.unique(score)) == {0, 1, 2, 3, 4}


def test_lower_uptake_never_scores_better():
    mean, sd = np.meshgrid(np.linspace(50, 95, 10), np.linspace(5, 20, 7))
    previous = np.zeros(mean.shape, dtype=int)
    for uptake in np.linspace(100, 0, 201):
        score = score_from_uptake(np.full(mean.shape, uptake), mean, sd)
        assert np.all(score >= previous), uptake
        previous = score


@pytest.mark.parametrize("uptake", [50.0, 51.0, 52.0])
def test_a_segment_at_half_the_maximum_is_not_scored_absent(uptake):
    # the demo's case: normal mean 80 %, SD at the 5 % floor: 5.6-6 SD below the mean
    normals = flat_normals(80.0, 5.0)
    values = np.full((18, 72), 80.0)
    pm = uniform_polar_map(values)
    values[pm.segment == 10] = uptake
    scores = segment_scores(pm.with_values(values), normals)
    assert scores[9] == 3
    assert scores.sum() == 3


def test_a_low_normal_region_keeps_its_normal_limits():
    # the real PhysioNet case: basal inferior normal mean 63 %, SD 5 %, uptake 48.7 %
    assert score_from_uptake(np.array([48.7]), np.array([63.0]), np.array([5.0])).tolist() == [1]


def test_uptake_bound_is_validated():
    for bad in (0.0, -5.0, 120.0):
        with pytest.raises(ParameterError, match="absent_uptake_max_pct"):
            ScoreThresholds(absent_uptake_max_pct=bad)
