"""Localisation, long axis and cavity volume on an analytic ellipsoidal LV with a liver."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from cardiolens.core.errors import AnalysisError, ParameterError
from cardiolens.core.volume import Volume
from cardiolens.nuclear import (
    View,
    estimate_lv_axes,
    fit_surfaces,
    localize_lv,
    myocardium_mask,
    refine_lv_axes,
    reslice,
)

from .helpers import ellipsoid_lv


@pytest.fixture(scope="module")
def shell():
    return ellipsoid_lv()


def test_lv_is_found_next_to_a_liver(shell):
    volume, _, axis = shell
    location = localize_lv(volume)
    # the cavity centre lies on the axis between base (centre) and apex
    centre = np.asarray(location.center_lps) - np.array([20.0, -10.0, 5.0])
    along = centre @ axis
    across = np.linalg.norm(centre - along * axis)
    assert across < 8.0
    assert -5.0 < along < 35.0
    assert not location.truncated


def test_lv_is_preferred_to_a_hotter_hollow_stomach_below_it():
    # a stomach wall three times as hot as the myocardium, 85 mm below the LV centre: a
    # closed thin-walled shell like the LV, but below the diaphragm (anatomical prior)
    volume, _, _ = ellipsoid_lv(noise_seed=None)
    index = np.indices(volume.shape).reshape(3, -1).T
    centre = np.array([50.0, 0.0, -80.0])
    radius = np.linalg.norm(volume.index_to_physical(index) - centre, axis=1)
    stomach = (300.0 * ((radius > 28.0) & (radius <= 36.0))).reshape(volume.shape)
    image = volume.array + ndi.gaussian_filter(stomach, 12.0 / 2.3548 / 4.0)
    location = localize_lv(volume.with_array(image.astype(np.float32)))
    assert np.linalg.norm(np.asarray(location.center_lps) - np.array([20.0, -10.0, 5.0])) < 25.0


def _angle_deg(a, b):
    return float(np.degrees(np.arccos(np.clip(np.asarray(a) @ np.asarray(b), -1, 1))))


def test_long_axis_and_orientation(shell):
    volume, _, axis = shell
    first = estimate_lv_axes(volume, localize_lv(volume))
    axes = refine_lv_axes(volume, first)
    # our long axis points from apex to base: opposite the helper's base-to-apex axis
    assert _angle_deg(-np.asarray(first.long_axis_lps), axis) < 20.0
    assert _angle_deg(-np.asarray(axes.long_axis_lps), axis) < 8.0
    # anterior: the superior direction projected on the short-axis plane;
    # septal: (base-to-apex) x anterior, pointing to the patient's right
    assert axes.anterior_lps[2] > 0.5
    assert np.asarray(axes.septal_lps) @ np.array([-1.0, 0.0, 0.0]) > 0.2
    assert np.asarray(axes.anterior_lps) @ np.asarray(axes.long_axis_lps) == pytest.approx(
        0, abs=1e-9
    )


def test_cavity_volume_and_mask(shell):
    volume, cavity_ml, _ = shell
    axes = refine_lv_axes(volume, estimate_lv_axes(volume, localize_lv(volume)))
    surfaces = fit_surfaces(volume, axes, wall_thickness_mm=10.0)
    assert surfaces.cavity_volume_ml == pytest.approx(cavity_ml, rel=0.15)
    mask = myocardium_mask(surfaces, volume)
    assert mask.same_geometry(volume)
    assert set(np.unique(mask.array)) <= {0, 1}
    myocardium_ml = mask.array.sum() * volume.voxel_volume_mm3 / 1000.0
    assert 60.0 < myocardium_ml < 250.0


def test_manual_long_axis_override(shell):
    volume, _, axis = shell
    location = localize_lv(volume)
    axes = estimate_lv_axes(volume, location, long_axis_lps=tuple(-2.0 * axis))
    assert np.allclose(axes.long_axis_lps, -axis)
    with pytest.raises(ParameterError):
        estimate_lv_axes(volume, location, long_axis_lps=(0.0, 0.0, 0.0))


def test_reslice_views(shell):
    volume, _, _ = shell
    axes = estimate_lv_axes(volume, localize_lv(volume))
    for view in View:
        out = reslice(volume, axes, view, spacing_mm=4.0, fov_mm=96.0)
        assert out.shape == (24, 24, 24)
        assert out.array.max() > 0
    with pytest.raises(ParameterError, match="view"):
        reslice(volume, axes, "oblique")


def test_no_lv_like_structure_is_an_analysis_error():
    rng = np.random.default_rng(1)
    blob = np.zeros((40, 50, 50), dtype=np.float32)
    blob[10:30, 15:35, 15:35] = 100.0  # a solid organ, no cavity
    noisy = rng.poisson(blob + 5.0).astype(np.float32)
    with pytest.raises(AnalysisError, match="no LV-like structure"):
        localize_lv(Volume(noisy, spacing_mm=(4.0, 4.0, 4.0), modality="NM"))
    with pytest.raises(AnalysisError):
        localize_lv(Volume(np.zeros((30, 30, 30), np.float32), modality="NM"))


def test_implausible_cavity_is_flagged(shell):
    from dataclasses import replace

    from cardiolens.nuclear.quality import implausible_lv

    volume, _, _ = shell
    surfaces = fit_surfaces(volume, estimate_lv_axes(volume, localize_lv(volume)))
    assert implausible_lv(surfaces) is None
    huge = replace(surfaces, r_endo_mm=surfaces.r_endo_mm * 3.0)
    flag = implausible_lv(huge)
    assert flag is not None and flag.code == "implausible_lv" and "mL" in flag.message


def test_flattened_contour_is_flagged(shell):
    # a valve plane dragged down to the apex (a large defect taken for the base)
    from dataclasses import replace

    from cardiolens.nuclear.quality import implausible_lv

    volume, _, _ = shell
    surfaces = fit_surfaces(volume, estimate_lv_axes(volume, localize_lv(volume)))
    flat = replace(surfaces, valve_height_mm=np.full_like(surfaces.valve_height_mm, 10.0))
    flag = implausible_lv(flat)
    assert flag is not None and flag.code == "implausible_lv" and "flatter" in flag.message
