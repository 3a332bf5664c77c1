"""Inputs as hospitals export them: short-axis series, tight crops, 16 gates, voxel sizes.

Phantoms (image-space method, for speed) with exact ground truth, and the real
PhysioNet volumes declared at other voxel sizes.
"""

from __future__ import annotations

import numpy as np
import pytest

from cardiolens.core.volume import Volume
from cardiolens.io import read_mask, read_volume
from cardiolens.nuclear import analyze_perfusion
from cardiolens.nuclear.orientation import detect_orientation
from cardiolens.nuclear.reorient import View, reslice
from cardiolens.nuclear.segments import dominant_territory
from cardiolens.nuclear.validation import as_series
from cardiolens.phantom import DefectSpec, simulate_spect


@pytest.fixture(scope="module")
def lad_phantom():
    return simulate_spect(
        seed=61, defects=(DefectSpec("LAD", 65.0),), method="image_space", include_rest=False
    )


def _short_axis_series_with_transaxial_header(volume: Volume, axes) -> Volume:
    """What a console exports: the short-axis array, a plain (untrusted) header geometry."""
    sa = reslice(volume, axes, View.SHORT_AXIS, spacing_mm=4.0, fov_mm=160.0)
    return Volume(
        sa.array,
        spacing_mm=sa.spacing_mm,
        modality="NM",
        metadata={"series_description": "Stress SA", "files": []},
    )


def test_short_axis_series_is_detected_and_scored_like_the_transaxial_image(lad_phantom):
    transaxial = analyze_perfusion(stress=lad_phantom.stress.summed).stress
    sa = _short_axis_series_with_transaxial_header(lad_phantom.stress.summed, transaxial.axes)
    handling = detect_orientation(sa)
    assert handling.short_axis and "Stress SA" in handling.source
    result = analyze_perfusion(stress=sa)
    stress = result.stress
    assert result.to_json()["orientation"]["stress"]["input"] == "short-axis"
    # the same segments within noise-level differences, the defect in the LAD territory
    assert np.median(np.abs(stress.segments_pct - transaxial.segments_pct)) <= 4.0
    assert dominant_territory(stress.deficit.territory_tpd_pct) == "LAD"
    assert abs(stress.deficit.tpd_pct - transaxial.deficit.tpd_pct) <= 4.0
    # the mask comes back on the series' own grid
    assert stress.myocardium_mask().same_geometry(sa)
    # without the header marker the option says it
    plain = sa.with_array(sa.array, metadata={})
    assert not detect_orientation(plain).short_axis
    forced = analyze_perfusion(stress=plain, orientation="short-axis").stress
    assert np.allclose(forced.segments_pct, stress.segments_pct)


def test_tightly_cropped_lv_centred_gated_volume():
    phantom = simulate_spect(
        seed=62, method="image_space", include_rest=False, matrix=(24, 24, 24), voxel_mm=4.0
    )
    stress = analyze_perfusion(stress=as_series(phantom.stress)).stress
    truth = phantom.truth
    assert abs(stress.function.lvef_pct - truth.lvef_pct) <= 6.0
    assert abs(stress.function.edv_ml / truth.edv_ml - 1) <= 0.2
    assert stress.deficit.tpd_pct < 5.0


def test_sixteen_gates():
    phantom = simulate_spect(seed=63, method="image_space", include_rest=False, n_gates=16)
    stress = analyze_perfusion(stress=as_series(phantom.stress)).stress
    assert len(stress.function.cavity_volume_ml) == 16
    assert abs(stress.function.lvef_pct - phantom.truth.lvef_pct) <= 5.0


@pytest.mark.parametrize(("matrix", "voxel_mm"), [(64, 6.8), (128, 3.2)])
def test_64_and_128_matrices_at_3_2_to_6_8_mm(matrix, voxel_mm):
    phantom = simulate_spect(
        seed=64,
        method="image_space",
        include_rest=False,
        matrix=(int(round(130.0 / voxel_mm)), matrix, matrix),
        voxel_mm=voxel_mm,
        defects=(DefectSpec("RCA", 65.0),),
    )
    stress = analyze_perfusion(stress=as_series(phantom.stress)).stress
    centre = np.asarray(stress.location.center_lps)
    assert np.linalg.norm(centre - np.asarray(phantom.truth.lv_centre_lps_mm)) <= 20.0
    assert dominant_territory(stress.deficit.territory_tpd_pct) == "RCA"
    assert abs(stress.function.lvef_pct - phantom.truth.lvef_pct) <= 8.0


@pytest.mark.parametrize("voxel_mm", [3.2, 5.0, 6.8])
def test_real_volumes_declared_at_other_voxel_sizes_still_find_the_lv(
    physionet_masks_dir, voxel_mm
):
    """The same PhysioNet arrays (4 mm) declared at 3.2-6.8 mm: the LV is found in all 3
    (the heart looks 0.8-1.7 times its size, walls and blur with it)."""
    for patient in ("patient001", "patient002", "patient003"):
        image = read_volume(physionet_masks_dir / f"{patient}_0000.nii.gz")
        expert = read_mask(physionet_masks_dir / f"{patient}.nii.gz", image).array > 0
        scale = voxel_mm / image.spacing_mm[0]
        declared = Volume(
            image.array,
            spacing_mm=tuple(v * scale for v in image.spacing_mm),
            origin_mm=tuple(v * scale for v in image.origin_mm),
            direction=image.direction,
            modality="NM",
        )
        ours = analyze_perfusion(rest=declared).rest.myocardium_mask().array > 0
        dice = 2.0 * np.sum(ours & expert) / (ours.sum() + expert.sum())
        assert dice >= 0.65, f"{patient} at {voxel_mm} mm: Dice {dice:.3f}"
