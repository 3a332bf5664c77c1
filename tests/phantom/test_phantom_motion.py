"""LV geometry and motion: exact gate volumes, conserved myocardial volume, regional dysfunction."""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.core.errors import ParameterError
from cardiolens.phantom.lv_geometry import design_lv, lv_axes, lv_coordinates
from cardiolens.phantom.motion import (
    WallMotionSpec,
    gate_shapes,
    lv_tissue_at_gate,
    parse_wall_motion,
    volume_curve_ml,
)


def _monte_carlo_volumes(lv, shape, n=400_000, seed=0):
    """Cavity and myocardial volume (mL) of one gate by uniform sampling of a box."""
    rng = np.random.default_rng(seed)
    half = 0.5 * lv.cavity_length_mm + lv.wall_thickness_mm + 5
    radius = lv.endo_radius_mm + lv.wall_thickness_mm + 10
    points = lv.centre_lps_mm + rng.uniform(-1, 1, (n, 3)) * max(half, radius)
    cavity, myo, _, _ = lv_tissue_at_gate(lv_coordinates(points, lv), lv, shape)
    box_ml = (2 * max(half, radius)) ** 3 / 1000
    return cavity.mean() * box_ml, myo.mean() * box_ml


def test_axes_follow_anatomy():
    long_axis, anterior, septal = lv_axes(50, 25)
    assert (
        long_axis[0] > 0 and long_axis[1] < 0 and long_axis[2] < 0
    )  # left, anterior, inferior (LPS)
    assert anterior[2] > 0  # the anterior wall faces up, the inferior wall the diaphragm
    assert septal[0] < 0  # septum towards the patient's right (the RV)
    assert np.allclose(np.cross(long_axis, anterior), septal)


def test_volume_curve_hits_edv_and_esv():
    phases = np.arange(8) / 8
    volumes = volume_curve_ml(phases, 120, 48)
    assert volumes[0] == pytest.approx(120) and volumes.min() == pytest.approx(48)


@pytest.mark.parametrize(
    "wall_motion",
    [
        (),
        (WallMotionSpec((1, 2, 7, 8), amplitude_fraction=0.3), WallMotionSpec((5, 11), 1.0, 90.0)),
    ],
)
def test_gate_volumes_exact_and_myocardium_conserved(wall_motion):
    lv = design_lv(edv_ml=120, centre_lps_mm=(0, 0, 0))
    shapes = gate_shapes(lv, esv_ml=48, n_gates=8, wall_motion=wall_motion)
    assert [s.cavity_volume_ml for s in shapes][0] == pytest.approx(120)
    assert min(s.cavity_volume_ml for s in shapes) == pytest.approx(48)
    myo_ed = lv.myocardial_volume_mm3 / 1000
    for shape in (shapes[0], shapes[3]):
        cavity, myo = _monte_carlo_volumes(lv, shape)
        assert cavity == pytest.approx(shape.cavity_volume_ml, rel=0.02)
        assert myo == pytest.approx(myo_ed, rel=0.02)


def test_hypokinetic_wall_moves_less():
    lv = design_lv(edv_ml=120, centre_lps_mm=(0, 0, 0))
    hypo = gate_shapes(lv, esv_ml=48, n_gates=8, wall_motion=(WallMotionSpec((7,), 0.2),))[3]
    h0 = np.full(2, 0.5 * lv.cavity_length_mm)
    factor = hypo.local_radial_factor(h0, np.array([0.0, 180.0]), lv.cavity_length_mm)
    assert factor[0] > factor[1]  # mid anterior (segment 7) contracts less than mid inferior


def test_parse_wall_motion():
    assert parse_wall_motion("S7+13:amplitude=0.3:delay=60") == WallMotionSpec((7, 13), 0.3, 60.0)
    assert parse_wall_motion("RCA").segments == (3, 4, 9, 10, 15)
    with pytest.raises(ParameterError, match="amplitude= or delay="):
        parse_wall_motion("LAD:amp=0.3")
    with pytest.raises(ParameterError, match="Did you mean 'LCx'"):
        parse_wall_motion("LCX2:amplitude=0.3")
