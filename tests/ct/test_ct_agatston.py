"""Pinned conventions of the Agatston score: threshold, area, connectivity, weights, thickness."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.core.errors import ParameterError
from cardiolens.core.volume import Volume
from cardiolens.ct.agatston import (
    AgatstonConvention,
    density_weight,
    kvp_threshold_hu,
    label_slice_lesions,
    slice_normalisation_factor,
)
from cardiolens.ct.calibration import default_mass_calibration
from cardiolens.ct.lesions import calcium_components, measure_lesions

CAL = default_mass_calibration(120)


def _score(array: np.ndarray, spacing=(3.0, 0.5, 0.5), thickness=None) -> float:
    volume = Volume(
        array.astype(np.float32),
        spacing_mm=spacing,
        modality="CT",
        metadata={"slice_thickness_mm": thickness},
    )
    slices, groups, _ = calcium_components(volume, AgatstonConvention())
    return sum(
        x.agatston for x in measure_lesions(volume, groups, calibration=CAL, slice_labels=slices)
    )


def test_weights_change_exactly_at_200_300_400_hu():
    peaks = [129.9, 130, 199, 199.9, 200, 299.9, 300, 399.9, 400, 1500]
    assert density_weight(peaks).tolist() == [0, 1, 1, 1, 2, 2, 3, 3, 4, 4]


@pytest.mark.parametrize(
    ("peak", "weight"), [(199, 1), (200, 2), (299, 2), (300, 3), (399, 3), (400, 4)]
)
def test_lesion_score_is_area_times_weight_of_peak(peak, weight):
    image = np.zeros((1, 20, 20))
    image[0, 5:9, 5:9] = 150.0  # 16 pixels of 0.25 mm^2 = 4 mm^2
    image[0, 6, 6] = peak
    assert _score(image) == pytest.approx(4.0 * weight)


def test_one_pixel_below_1_mm2_is_dropped_and_1_mm2_is_kept():
    image = np.zeros((1, 20, 20))
    image[0, 2, 2] = 500.0  # 0.25 mm^2
    assert _score(image) == 0.0
    image[0, 10:12, 10:12] = 500.0  # 4 pixels = exactly 1.0 mm^2
    assert _score(image) == pytest.approx(4.0)


def test_four_pixels_of_0488_mm_are_below_1_mm2():
    labels, n = label_slice_lesions(
        np.pad(np.full((1, 2, 2), 400.0), ((0, 0), (3, 3), (3, 3))),
        pixel_area_mm2=0.488**2,
        convention=AgatstonConvention(),
    )
    assert n == 0


def test_threshold_is_130_hu_inclusive():
    image = np.zeros((1, 10, 10))
    image[0, 2:6, 2:6] = 130.0
    assert _score(image) == pytest.approx(4.0)
    image[0, 2:6, 2:6] = 129.9
    assert _score(image) == 0.0


def test_eight_connectivity_in_plane_joins_diagonal_pixels():
    image = np.zeros((1, 10, 10))
    image[0, [2, 3, 4, 5], [2, 3, 4, 5]] = 300.0  # a diagonal line: 1 mm^2 only if joined
    assert _score(image) == pytest.approx(1.0 * 3)


def _column(n_slices: int, increment: float, thickness: float) -> float:
    """A 4 mm^2 lesion of 450 HU present on ``n_slices`` slices."""
    image = np.zeros((n_slices + 2, 10, 10))
    image[1:-1, 2:6, 2:6] = 450.0
    return _score(image, spacing=(increment, 0.5, 0.5), thickness=thickness)


def test_three_mm_contiguous_slices_are_not_rescaled():
    assert _column(2, 3.0, 3.0) == pytest.approx(2 * 4.0 * 4)


def test_1p5_mm_contiguous_slices_are_scaled_by_half():
    # a 6 mm long lesion: 4 slices of 1.5 mm, each counts 1.5/3 -> same as 2 slices of 3 mm
    assert _column(4, 1.5, 1.5) == pytest.approx(_column(2, 3.0, 3.0))


def test_overlapping_reconstruction_uses_the_increment_not_the_thickness():
    # 3 mm slices reconstructed every 1.5 mm: factor 1.5/3 (thickness would give 3/3)
    assert _column(4, 1.5, 3.0) == pytest.approx(4 * 4.0 * 4 * 0.5)
    assert slice_normalisation_factor(1.5) == 0.5
    assert slice_normalisation_factor(1.0) == pytest.approx(1 / 3)


def test_kv_specific_threshold_and_unknown_voltage():
    assert kvp_threshold_hu(120) == 130.0
    assert kvp_threshold_hu(100) == 147.0
    with pytest.raises(ParameterError, match="no validated"):
        kvp_threshold_hu(80)


def test_volume_and_mass_scores_follow_the_definitions():
    image = np.zeros((3, 10, 10))
    image[1, 2:6, 2:6] = 400.0
    volume = Volume(image.astype(np.float32), spacing_mm=(3.0, 0.5, 0.5), modality="CT")
    slices, groups, _ = calcium_components(volume, AgatstonConvention())
    (lesion,) = measure_lesions(volume, groups, calibration=CAL, slice_labels=slices)
    assert lesion.volume_mm3 == pytest.approx(16 * 0.75)
    assert lesion.mass_mg == pytest.approx(CAL.factor_mg_per_hu_mm3 * 400.0 * 16 * 0.75)
    assert lesion.peak_hu == 400.0
