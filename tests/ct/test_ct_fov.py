"""The reconstruction circle and its padding (cardiolens.ct.fov) for each vendor's values."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.ct.fov import field_of_view


def _scan(padding_hu: float, diameter_px: int = 180, n: int = 200) -> np.ndarray:
    rng = np.random.default_rng(0)
    hu = rng.normal(-1000.0, 15.0, (6, n, n)).astype(np.float32)  # air with noise
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2.0
    hu[:, np.hypot(yy, xx) < 60] = 40.0  # a body crossing nothing
    hu[:, np.hypot(yy, xx) > diameter_px / 2.0] = padding_hu
    return hu


@pytest.mark.parametrize(
    "padding_hu",
    [
        -2048.0,  # Siemens
        -3024.0,  # GE: stored -2000, RescaleIntercept -1024
        -1024.0,  # Philips, Canon: equals air, told by being constant
        -3000.0,  # a PixelPaddingValue of -2000 stored with RescaleIntercept -1000
    ],
)
def test_padding_of_every_vendor_is_outside_the_field_of_view(padding_hu):
    fov = field_of_view(_scan(padding_hu), (0.4, 0.4))
    assert fov.padded and fov.padding_hu == padding_hu
    assert 2 * fov.radius_mm == pytest.approx(180 * 0.4, rel=0.02)
    assert fov.centre_index == pytest.approx((99.5, 99.5), abs=0.5)


def test_noisy_air_is_not_padding_and_an_unpadded_scan_is_all_inside():
    hu = _scan(-1000.0, diameter_px=400)  # no circle in the image
    hu[:, :5, :5] = -1024.0  # clipped air in a few slices only is measured air
    hu[2, :5, :5] = -1019.0
    fov = field_of_view(hu, (0.7, 0.7))
    assert not fov.padded and fov.inside.all()
