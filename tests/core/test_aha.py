import numpy as np
import pytest

from cardiolens.core.aha import SEGMENT_TERRITORY, Territory, aha_segment, territory_segments


@pytest.mark.parametrize(
    ("fraction", "angle", "segment"),
    [
        (0.9, 0, 1),
        (0.9, 60, 2),
        (0.9, 120, 3),
        (0.9, 180, 4),
        (0.9, 240, 5),
        (0.9, 300, 6),
        (0.9, 29.9, 1),
        (0.9, 30.0, 2),
        (0.9, 330.0, 1),
        (0.9, 329.9, 6),
        (0.5, 0, 7),
        (0.5, 180, 10),
        (0.5, 300, 12),
        (0.1, 0, 13),
        (0.1, 90, 14),
        (0.1, 180, 15),
        (0.1, 270, 16),
        (0.1, 44.9, 13),
        (0.1, 45, 14),
        (-0.05, 123, 17),
        (1.0, 0, 1),
        (1.01, 0, 0),
    ],
)
def test_segment_of_position(fraction, angle, segment):
    assert int(aha_segment(fraction, angle)) == segment


def test_territories_follow_cerqueira_2002():
    assert territory_segments("LAD") == [1, 2, 7, 8, 13, 14, 17]
    assert territory_segments(Territory.RCA) == [3, 4, 9, 10, 15]
    assert territory_segments("LCx") == [5, 6, 11, 12, 16]
    assert len(SEGMENT_TERRITORY) == 17


def test_every_segment_reached_on_a_grid():
    f, a = np.meshgrid(np.linspace(-0.1, 1, 50), np.arange(0, 360, 5), indexing="ij")
    assert set(np.unique(aha_segment(f, a))) == set(range(1, 18))
