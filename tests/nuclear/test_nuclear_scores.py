"""17-segment and territory maps, SSS/SDS arithmetic and TPD against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.core.aha import SEGMENT_TERRITORY, Territory
from cardiolens.core.errors import ParameterError
from cardiolens.nuclear.scores import (
    ScoreThresholds,
    percent_myocardium,
    perfusion_deficit,
    pixel_severity,
    segment_scores,
    summed_score,
)
from cardiolens.nuclear.segments import segment_values_pct, territory_mask

from .helpers import flat_normals, uniform_polar_map


def test_polar_map_segments_follow_the_aha_layout():
    pm = uniform_polar_map(np.full((18, 72), 80.0))
    angle = pm.angle_deg
    # apex cap rings are segment 17; apical ring: 13 anterior (0 deg), 14 septal (90)
    assert set(np.unique(pm.segment[:3])) == {17}
    assert pm.segment[4, np.argmin(np.abs(angle - 2.5))] == 13
    assert pm.segment[4, np.argmin(np.abs(angle - 92.5))] == 14
    assert pm.segment[4, np.argmin(np.abs(angle - 182.5))] == 15
    assert pm.segment[4, np.argmin(np.abs(angle - 272.5))] == 16
    # cylinder fractions 1/24..23/24: mid ring at fraction 0.5 and basal at 0.9
    mid_row = 6 + 5
    basal_row = 6 + 11
    expected = {2.5: 7, 62.5: 8, 122.5: 9, 182.5: 10, 242.5: 11, 302.5: 12}
    for a, seg in expected.items():
        assert pm.segment[mid_row, np.argmin(np.abs(angle - a))] == seg
        assert pm.segment[basal_row, np.argmin(np.abs(angle - a))] == seg - 6
    assert set(np.unique(pm.segment)) == set(range(1, 18))


def test_territory_masks_are_the_standard_assignment():
    pm = uniform_polar_map(np.full((18, 72), 80.0))
    lad = territory_mask(pm, Territory.LAD)
    assert set(np.unique(pm.segment[lad])) == {1, 2, 7, 8, 13, 14, 17}
    assert set(np.unique(pm.segment[territory_mask(pm, "RCA")])) == {3, 4, 9, 10, 15}
    assert set(np.unique(pm.segment[territory_mask(pm, "LCx")])) == {5, 6, 11, 12, 16}
    assert SEGMENT_TERRITORY[17] == Territory.LAD


def test_segment_values_are_area_weighted_means():
    values = np.full((18, 72), 80.0)
    pm = uniform_polar_map(values)
    values[pm.segment == 4] = 40.0
    pm = pm.with_values(values)
    seg = segment_values_pct(pm)
    assert seg[3] == pytest.approx(40.0)
    assert np.allclose(np.delete(seg, 3), 80.0)


def test_segment_scores_and_summed_scores():
    normals = flat_normals(80.0, 5.0)
    values = np.full((18, 72), 80.0)
    pm = uniform_polar_map(values)
    # segment 4 at 67 % (2.6 SD below: score 1), segment 10 at 58 % (4.4 SD: score 3),
    # segment 15 at 50 % (6 SD, but tracer still detected: 3, not 4 "absent"),
    # segment 16 at 20 % (12 SD and below the 42 % absent-uptake bound: score 4)
    for seg, v in ((4, 67.0), (10, 58.0), (15, 50.0), (16, 20.0)):
        values[pm.segment == seg] = v
    scores = segment_scores(pm.with_values(values), normals)
    expected = np.zeros(17, dtype=int)
    expected[[3, 9, 14, 15]] = [1, 3, 3, 4]
    assert scores.tolist() == expected.tolist()
    sss = summed_score(scores)
    assert sss == 11
    rest = np.zeros(17, dtype=int)
    rest[14] = 2
    assert sss - summed_score(rest) == 9  # SDS = SSS - SRS
    assert percent_myocardium(sss) == pytest.approx(11 / 68 * 100)
    with pytest.raises(ParameterError):
        summed_score(np.full(17, 5))
    with pytest.raises(ParameterError):
        ScoreThresholds(segment_sd_cutoffs=(3.0, 2.0, 4.0, 5.0))


def test_tpd_of_a_known_deficit_matches_hand_computation():
    normals = flat_normals(80.0, 5.0)
    values = np.full((18, 72), 80.0)
    pm = uniform_polar_map(values)
    # 72 samples (of 1296) at 50 %: 6 SD below -> severity min(4, 6 - 3 + 1) = 4
    # 72 samples at 62.5 %: 3.5 SD below -> severity 1.5
    values[10, :] = 50.0
    values[11, :] = 62.5
    pm = pm.with_values(values)
    severity = pixel_severity(pm, normals)
    assert severity[10, 0] == pytest.approx(4.0)
    assert severity[11, 0] == pytest.approx(1.5)
    deficit = perfusion_deficit(pm, normals)
    expected = 100.0 * (72 * 4.0 + 72 * 1.5) / (4.0 * 1296)
    assert deficit.tpd_pct == pytest.approx(expected)
    assert sum(deficit.territory_tpd_pct.values()) == pytest.approx(expected)
    assert deficit.extent_pct == pytest.approx(100.0 * 144 / 1296)
    assert deficit.abnormal


def test_normal_map_has_zero_tpd():
    deficit = perfusion_deficit(uniform_polar_map(np.full((18, 72), 78.0)), flat_normals())
    assert deficit.tpd_pct == 0.0
    assert not deficit.abnormal
