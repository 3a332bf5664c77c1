"""CT phantom: lesion specifications, partial-volume rendering, truth, noise, reproducibility."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cardiolens.core.errors import ParameterError
from cardiolens.ct.calibration import default_mass_calibration
from cardiolens.phantom.ct_lesions import Ellipsoid, LesionSpec, parse_lesion_spec, render_fraction
from cardiolens.phantom.ct_simulate import simulate_ct, simulate_ct_study

TINY = {"matrix": (56, 256, 256), "pixel_mm": 1.0}


def test_parse_lesion_spec_and_errors():
    spec = parse_lesion_spec("LAD:volume=50:density=400:position=0.3")
    assert spec == LesionSpec("LAD", 50.0, 400.0, 0.3)
    assert spec.mass_mg == pytest.approx(20.0)
    with pytest.raises(ParameterError, match="Did you mean 'LCx'"):
        parse_lesion_spec("LCX:volume=10")
    with pytest.raises(ParameterError, match="volume"):
        parse_lesion_spec("RCA:density=300")
    with pytest.raises(ParameterError, match="bad part"):
        parse_lesion_spec("RCA:volume=10:size=3")
    with pytest.raises(ParameterError, match="volume must be"):
        LesionSpec("RCA", -5.0)


@pytest.mark.parametrize(("increment", "thickness"), [(3.0, 3.0), (1.5, 1.5), (1.5, 3.0)])
def test_partial_volume_fractions_integrate_to_the_lesion_volume(increment, thickness):
    ellipsoid = Ellipsoid.elongated(np.array([0.3, -0.2, 0.4]), 40.0, np.array([1.0, 1.0, 0.5]))
    box, fraction = render_fraction(
        (40, 64, 64),
        origin_mm=np.array([-20.0, -20.0, -30.0]),
        pixel_mm=0.6,
        slice_increment_mm=increment,
        slice_thickness_mm=thickness,
        ellipsoid=ellipsoid,
    )
    assert fraction.sum() * 0.6 * 0.6 * increment == pytest.approx(40.0, rel=0.02)


def test_same_seed_same_pixels_and_noise_set_by_dose():
    a = simulate_ct(seed=5, noise_hu=10.0, dose_fraction=0.25, **TINY)  # quarter dose: 2x noise
    b = simulate_ct(seed=5, noise_hu=10.0, dose_fraction=0.25, **TINY)
    assert np.array_equal(a.volume.array, b.volume.array)
    noise = (a.volume.array - a.clean.array)[a.volume.array > -900]
    assert noise.std() == pytest.approx(20.0, rel=0.05)


def test_truth_follows_from_the_lesion_list():
    specs = [
        LesionSpec("LAD", 60.0, 500.0, 0.4),
        LesionSpec("RCA", 25.0, 300.0, 0.3),
        LesionSpec("LCx", 40.0, 700.0, 0.5),
    ]
    phantom = simulate_ct(seed=2, noise_hu=0.0, lesions=specs, **TINY)
    truth = phantom.truth
    assert [les["artery"] for les in truth["lesions"]] == ["LAD", "RCA", "LCx"]
    for spec, lesion in zip(specs, truth["lesions"], strict=True):
        assert lesion["volume_mm3_true"] == pytest.approx(spec.volume_mm3)
        assert lesion["mass_mg_true"] == pytest.approx(spec.mass_mg)
        assert lesion["agatston"] > 0 and lesion["peak_hu"] >= 130
        # the mass score of the same voxels by McCollough's definition
        voxels = (phantom.lesion_labels == lesion["id"]) & (phantom.clean.array >= 130)
        assert lesion["volume_mm3"] <= voxels.sum() * phantom.clean.voxel_volume_mm3 + 1e-9
    assert truth["totals"]["agatston"] == pytest.approx(
        sum(les["agatston"] for les in truth["lesions"])
    )
    assert truth["per_artery"]["LAD"]["agatston"] == pytest.approx(truth["lesions"][0]["agatston"])
    assert (
        truth["mass_calibration"]["factor_mg_per_hu_mm3"]
        == default_mass_calibration(120).factor_mg_per_hu_mm3
    )
    assert truth["eat"]["volume_ml"] == pytest.approx(truth["eat"]["target_ml"], rel=0.08)
    assert -100 < truth["eat"]["mean_hu"] < -80
    kinds = {d["kind"] for d in truth["distractors"]}
    assert {"aortic_valve", "mitral_annulus"} <= kinds


def test_study_folder_round_trips(tmp_path):
    from cardiolens.io import load_study, read_mask

    out = simulate_ct_study(tmp_path / "ct", seed=1, noise_hu=20.0, **TINY)
    study = load_study(out / "dicom")
    (series,) = study.series
    assert series.modality == "CT" and series.volume.shape == (56, 256, 256)
    assert (
        series.volume.metadata["kvp"] == 120.0
        and series.volume.metadata["slice_thickness_mm"] == 3.0
    )
    truth = json.loads((out / "ground_truth.json").read_text())
    labels = read_mask(out / "lesion_labels.nii.gz", series.volume)
    assert set(np.unique(labels.array)) == {0, *(les["id"] for les in truth["lesions"])}
    assert read_mask(out / "artery_labels.nii.gz", series.volume).array.max() <= 4


def test_bad_options():
    with pytest.raises(ParameterError, match="pixel_mm"):
        simulate_ct(seed=0, pixel_mm=3.0)
    with pytest.raises(ParameterError, match="noise_hu"):
        simulate_ct(seed=0, noise_hu=-1.0, **TINY)
    with pytest.raises(ParameterError, match="eat_ml"):
        simulate_ct(seed=0, eat_ml=5000.0, **TINY)


def test_small_fov_padding_habitus_and_metal_are_in_the_image_and_the_truth():
    from cardiolens.phantom.ct_scanner import METAL_HU, Habitus

    phantom = simulate_ct(
        seed=3,
        noise_hu=20.0,
        matrix=(56, 256, 256),
        pixel_mm=0.8,
        fov_diameter_mm=190.0,
        padding_hu=-3024.0,
        field_centre_mm=(22.0, -28.0),
        metal=("stent:LAD", "lead"),
    )
    hu = np.asarray(phantom.volume.array)
    yy, xx = np.mgrid[:256, :256] * 0.8 - 127.5 * 0.8
    outside = np.hypot(yy, xx) > 95.0 + 0.8
    assert np.all(hu[:, outside] == -3024.0) and np.all(hu[:, np.hypot(yy, xx) < 94.0] > -1500)
    assert [m["kind"] for m in phantom.truth["metal"]] == ["stent", "lead"]
    assert phantom.truth["metal"][0]["artery"] == "LAD"
    stent = phantom.metal_labels == 1
    assert stent.any() and hu[stent].max() > 2000.0 and METAL_HU > 3000.0
    slim = simulate_ct(seed=3, noise_hu=0.0, lesions=[], distractors=False, **TINY)
    obese = simulate_ct(
        seed=3,
        noise_hu=0.0,
        lesions=[],
        distractors=False,
        habitus=Habitus(30.0, arms_down=True, table=True),
        **TINY,
    )
    row = TINY["matrix"][1] // 2

    def width(p):
        return int((np.asarray(p.clean.array)[28, row] > -500).sum())

    assert width(obese) > width(slim) + 2 * 25  # 30 mm more chest wall in view on each side
    assert obese.truth["settings"]["habitus"]["extra_fat_mm"] == 30.0
